"""Shared fixtures and Hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from pathway import AIHPathway

from .helpers import new_chart

_ROOT = Path(__file__).resolve().parents[1]
_STRAY = sorted(
    str(p.relative_to(_ROOT)) for d in ("pathway", "simulation") for p in (_ROOT / d).rglob("*.so")
)
if _STRAY:
    # Compiled modules in the source tree are imported instead of the .py files beside them,
    # so the tests would not test the code as written (make native builds from a copy).
    raise pytest.UsageError(f"compiled modules in the source tree shadow the sources: {_STRAY}")

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def make_chart() -> Callable[..., AIHPathway]:
    """Factory: ``make_chart(labs=None, **record_overrides)``."""
    return new_chart
