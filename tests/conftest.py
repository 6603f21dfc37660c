"""Shared fixtures and Hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, settings

from pathway import AIHPathway

from .helpers import new_chart

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
