"""A toy guideline that exists only to test the engine's seam: no clinical content.

Two made-up drugs (``alfa``, ``beta``), a made-up activity ``score`` from 0 to 20, four care
states and one invariant. Every value is [MODEL]: chosen to exercise the engine, claiming
nothing about any disease. Importing the package builds :data:`GUIDELINE`.
"""

from .guideline import GUIDELINE

__all__ = ["GUIDELINE"]
