"""Parameter distributions of ``carechart sweep --vary``: uniform, beta, gamma, lognormal, normal.

A spec is ``KIND(ARG=VALUE, ...)``, given by mean and standard deviation (``mean=, sd=``, in
the parameter's own unit) or by the distribution's natural parameters:

==========  ==========================  =======================================================
kind        natural parameters          by mean and sd
==========  ==========================  =======================================================
uniform     ``low=, high=``             (``NAME=LOW:HIGH`` is the same)
beta        ``a=, b=``                  needs 0 < mean < 1 and sd < sqrt(mean x (1 - mean))
gamma       ``shape=, scale=``          needs mean > 0; shape (mean/sd)^2, scale sd^2/mean
lognormal   ``mu=, sigma=`` (log scale) needs mean > 0; sigma^2 = ln(1 + sd^2/mean^2)
normal      ``mean=, sd=``              (its natural parameters)
==========  ==========================  =======================================================

>>> print(parse_distribution("p", "beta(mean=0.5, sd=0.1)"))
beta(a=12, b=12)
>>> round(parse_distribution("r", "gamma(mean=20, sd=5)").mean, 6)
20.0
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["KINDS", "Distribution", "DistributionError", "parse_distribution"]

#: Each kind's natural parameter names, in the order of :class:`Distribution`'s ``a, b``.
KINDS: dict[str, tuple[str, str]] = {
    "uniform": ("low", "high"),
    "beta": ("a", "b"),
    "gamma": ("shape", "scale"),
    "lognormal": ("mu", "sigma"),
    "normal": ("mean", "sd"),
}

_SPEC = re.compile(r"^\s*([a-z]+)\s*\((.*)\)\s*$")


class DistributionError(ValueError):
    """A bad distribution spec (one line: the parameter, what was found, what is expected)."""


@dataclass(frozen=True)
class Distribution:
    """A parameter drawn from ``kind`` with natural parameters ``a`` and ``b`` (see KINDS)."""

    name: str
    kind: str
    a: float
    b: float

    def draw(self, rng: Any) -> float:
        """One value from ``rng`` (a ``numpy.random.Generator``), in the parameter's unit."""
        if self.kind == "uniform":
            return float(rng.uniform(self.a, self.b))
        if self.kind == "beta":
            return float(rng.beta(self.a, self.b))
        if self.kind == "gamma":
            return float(rng.gamma(self.a, self.b))
        if self.kind == "lognormal":
            return float(rng.lognormal(self.a, self.b))
        return float(rng.normal(self.a, self.b))

    @property
    def mean(self) -> float:
        """The distribution's mean."""
        a, b = self.a, self.b
        if self.kind == "uniform":
            return (a + b) / 2
        if self.kind == "beta":
            return a / (a + b)
        if self.kind == "gamma":
            return a * b
        if self.kind == "lognormal":
            return math.exp(a + b * b / 2)
        return a

    @property
    def sd(self) -> float:
        """The distribution's standard deviation."""
        a, b = self.a, self.b
        if self.kind == "uniform":
            return (b - a) / math.sqrt(12)
        if self.kind == "beta":
            return math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        if self.kind == "gamma":
            return math.sqrt(a) * b
        if self.kind == "lognormal":
            return math.sqrt(math.expm1(b * b)) * math.exp(a + b * b / 2)
        return b

    def __str__(self) -> str:
        first, second = KINDS[self.kind]
        return f"{self.kind}({first}={self.a:g}, {second}={self.b:g})"


def _arguments(name: str, kind: str, text: str) -> dict[str, float]:
    args: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip()
        try:
            if not sep:
                raise ValueError
            number = float(value)
        except ValueError:
            raise DistributionError(
                f"--vary {name}: found {part!r} in {kind}(...), expected ARG=NUMBER"
            ) from None
        if not math.isfinite(number):
            raise DistributionError(
                f"--vary {name}: found {key}={value.strip()}, expected a finite number"
            )
        if key in args:
            raise DistributionError(f"--vary {name}: found {key} twice in {kind}(...)")
        args[key] = number
    return args


def parse_distribution(name: str, spec: str) -> Distribution:
    """``KIND(ARG=VALUE, ...)`` for parameter ``name`` -> :class:`Distribution`.

    Raises:
        DistributionError: an unknown kind, wrong arguments or impossible values, in one
            line naming the parameter, what was found and what is expected.
    """
    match = _SPEC.match(spec)
    if match is None or match.group(1) not in KINDS:
        raise DistributionError(
            f"--vary {name}: found {spec!r}, expected LOW:HIGH or KIND(ARG=VALUE, ...) with "
            f"KIND one of {', '.join(KINDS)}"
        )
    kind = match.group(1)
    args = _arguments(name, kind, match.group(2))
    natural = KINDS[kind]
    if set(args) == set(natural):
        a, b = args[natural[0]], args[natural[1]]
    elif set(args) == {"mean", "sd"}:
        a, b = _from_moments(name, kind, args["mean"], args["sd"])
    else:
        expected = f"{natural[0]}=, {natural[1]}="
        if natural != ("mean", "sd"):
            expected += " or mean=, sd="
        raise DistributionError(
            f"--vary {name}: found {kind}({', '.join(args)}), expected {kind}({expected})"
        )
    _check_natural(name, kind, a, b)
    return Distribution(name, kind, a, b)


def _from_moments(name: str, kind: str, mean: float, sd: float) -> tuple[float, float]:
    """Natural parameters of ``kind`` with this mean and standard deviation."""
    where = f"--vary {name}: {kind}(mean={mean:g}, sd={sd:g})"
    if sd <= 0:
        raise DistributionError(f"{where}: found sd {sd:g}, expected sd > 0")
    if kind == "normal":
        return mean, sd
    if kind == "uniform":
        half = sd * math.sqrt(3)
        return mean - half, mean + half
    if kind == "beta":
        if not 0 < mean < 1:
            raise DistributionError(f"{where}: found mean {mean:g}, expected 0 < mean < 1")
        limit = math.sqrt(mean * (1 - mean))
        if sd >= limit:
            raise DistributionError(
                f"{where}: found sd {sd:g}, expected sd < sqrt(mean x (1 - mean)) = {limit:.4g}"
            )
        k = mean * (1 - mean) / sd**2 - 1
        return mean * k, (1 - mean) * k
    if mean <= 0:
        raise DistributionError(f"{where}: found mean {mean:g}, expected mean > 0")
    if kind == "gamma":
        return (mean / sd) ** 2, sd**2 / mean
    sigma2 = math.log(1 + (sd / mean) ** 2)  # lognormal
    return math.log(mean) - sigma2 / 2, math.sqrt(sigma2)


def _check_natural(name: str, kind: str, a: float, b: float) -> None:
    first, second = KINDS[kind]
    where = f"--vary {name}: {kind}({first}={a:g}, {second}={b:g})"
    if kind == "uniform" and a > b:
        raise DistributionError(f"{where}: found low > high, expected low <= high")
    if kind in ("beta", "gamma") and (a <= 0 or b <= 0):
        raise DistributionError(f"{where}: expected {first} > 0 and {second} > 0")
    if kind in ("lognormal", "normal") and b <= 0:
        raise DistributionError(f"{where}: found {second} {b:g}, expected {second} > 0")
