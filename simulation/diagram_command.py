"""``carechart diagram``: export the pathway chart (placeholder until diagrams land)."""

from __future__ import annotations

from typing import Any


def add_command(sub: Any) -> None:
    """Register ``carechart diagram``."""
    return None
