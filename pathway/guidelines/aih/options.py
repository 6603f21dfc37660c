"""Guideline variants: the newest source is the default, older ones are named options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["GuidelineOptions"]


@dataclass(frozen=True)
class GuidelineOptions:
    """Where guidelines disagree: the newest is the default, older variants are options.

    Attributes:
        steroid_scheme: ``weight_based`` (EASL, 0.5-1 mg/kg, default) or ``aasld_fixed``
            (AASLD 2019 fixed 20-40 mg/day with AZA [R]).
        first_line_antimetabolite: ``azathioprine`` (default) or ``mycophenolate`` (the
            CAMARO / HASL first-line MMF variant).
        withdrawal_criteria: ``hasl`` (default: also >= 3 years of treatment in total,
            G-HASL [V], AIH-WDR-04) or ``hartl`` (the study criteria of S-HARTL15 and
            S-VGERVEN13 [V]: >= 2 years of CBR on monotherapy, no total duration).
        withdrawal_biopsy: also require a biopsy showing histological remission (HAI <= 3,
            the ``histological_remission`` finding) during the current response (S-EJIM21
            [V]; G-HASL [V] says "consider"; AIH-WDR-05). Off by default.
    """

    steroid_scheme: Literal["weight_based", "aasld_fixed"] = "weight_based"
    first_line_antimetabolite: Literal["azathioprine", "mycophenolate"] = "azathioprine"
    withdrawal_criteria: Literal["hasl", "hartl"] = "hasl"
    withdrawal_biopsy: bool = False

    def __post_init__(self) -> None:
        if self.steroid_scheme not in ("weight_based", "aasld_fixed"):
            raise ValueError(
                f"steroid_scheme must be 'weight_based' or 'aasld_fixed' "
                f"(got {self.steroid_scheme!r})"
            )
        if self.first_line_antimetabolite not in ("azathioprine", "mycophenolate"):
            raise ValueError(
                "first_line_antimetabolite must be 'azathioprine' or 'mycophenolate' "
                f"(got {self.first_line_antimetabolite!r})"
            )
        if self.withdrawal_criteria not in ("hasl", "hartl"):
            raise ValueError(
                f"withdrawal_criteria must be 'hasl' or 'hartl' (got {self.withdrawal_criteria!r})"
            )
        if not isinstance(self.withdrawal_biopsy, bool):
            raise ValueError(
                f"withdrawal_biopsy must be true or false (got {self.withdrawal_biopsy!r})"
            )
