"""Confidence intervals of proportions (95%)."""

from __future__ import annotations

import math

__all__ = ["Z95", "wilson_interval"]

#: The standard normal quantile of a two-sided 95% interval.
Z95 = 1.959963984540054


def wilson_interval(successes: float, n: int) -> tuple[float, float]:
    """Binomial 95% Wilson score interval for ``successes`` out of ``n``.

    Args:
        successes: Number of successes (may be fractional when derived from a percentage).
        n: Number of trials (> 0).

    Returns:
        (low, high), both within [0, 1].

    Raises:
        ValueError: If ``n`` is not positive or ``successes`` is outside [0, n].

    >>> [round(x, 3) for x in wilson_interval(60, 100)]
    [0.502, 0.691]
    """
    if n <= 0:
        raise ValueError(f"'n' must be > 0 (got {n!r})")
    if not 0 <= successes <= n:
        raise ValueError(f"'successes' must be within [0, {n}] (got {successes!r})")
    p = successes / n
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)
