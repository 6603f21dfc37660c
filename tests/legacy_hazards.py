"""The patient model's hazards as DiseaseModel._set_hazards set them before issue 14
declared them (simulation.model.clock_hazards).

Kept only as the oracle of tests/test_clock_hazards.py: the declared table must give every
clock the origin and hazard this code gave it, bit for bit. Not used by the package. Copied
verbatim apart from the signature: the conditions' values and the flare case are given,
and the record's and latent fields are read off the situation (the same values).
"""

from __future__ import annotations

# ruff: noqa
# mypy: ignore-errors

from types import SimpleNamespace
from typing import Any

from simulation.model.hazards import YEAR_DAYS, Hazard, constant, scale


class _Clock:
    def __init__(self, name: str, out: dict[str, tuple[float, Hazard]]) -> None:
        self.name, self.out = name, out

    def set(self, origin: float, hazard: Hazard) -> None:
        self.out[self.name] = (origin, hazard)


class _Clocks(dict):
    def __init__(self) -> None:
        super().__init__()
        self.settings: dict[str, tuple[float, Hazard]] = {}

    def __missing__(self, name: str) -> _Clock:
        return _Clock(name, self.settings)


def legacy_settings(
    c: Any, s: Any, on: dict[str, Any], case: str, day: float, lt_day: float, drug_start: dict
) -> dict[str, tuple[float, Hazard]]:
    """Each clock's ``(origin, hazard)`` as the hand-written ``_set_hazards`` set them."""
    clocks = _Clocks()
    age_now = s.age  # DiseaseModel.situation: p.age + day / YEAR_DAYS
    p = SimpleNamespace(
        withdrawal_start_day=s.withdrawal_start_day, treatment_start_day=s.treatment_start_day
    )
    lat = SimpleNamespace(
        lt_day=lt_day,
        stage=s.stage,
        recurrence=s.recurrence,
        untreated_since=s.untreated_since,
        nonadherent_since=s.nonadherent_since,
        drug_start=drug_start,
    )
    hr = c.activity_hr if on["activity"] else 1.0
    # Flares.
    flare: Hazard = ()
    origin = day
    if case == "flare.recurrence":
        flare, origin = c.recurrence, lat.lt_day
    elif case == "flare.withdrawal" and p.withdrawal_start_day is not None:
        flare, origin = c.withdrawal_flare, p.withdrawal_start_day
    elif case == "flare.maintenance_untreated" and lat.untreated_since is not None:
        flare, origin = c.withdrawal_flare, lat.untreated_since
    elif case == "flare.nonadherent" and lat.nonadherent_since is not None:
        # [MODEL] Non-adherent: part of the protection is lost, so part of the
        # hazard after full withdrawal (S-VGERVEN13) adds to the maintenance one.
        origin = lat.nonadherent_since
        flare = tuple(
            (start, c.maintenance_flare_rate + rate)
            for start, rate in scale(c.withdrawal_flare, c.adherence_effect_lost)
        )
    elif case == "flare.maintenance":
        flare = constant(c.maintenance_flare_rate)
    elif case == "flare.untreated":
        flare = constant(c.untreated_flare_rate)
    clocks["flare"].set(origin, flare)
    postpartum = on["postpartum_flare"]
    clocks["postpartum_flare"].set(day, constant(c.postpartum_flare_rate) if postpartum else ())
    for drug, hazard in (
        ("azathioprine", c.aza_intolerance),
        ("mycophenolate", c.mmf_intolerance),
        ("tacrolimus", c.tac_intolerance),
    ):
        running = on[f"intolerance_{drug}"]
        clocks[f"intolerance_{drug}"].set(lat.drug_start.get(drug, day), hazard if running else ())
    nonadherence = constant(c.nonadherence_rate) if on["nonadherence"] else ()
    clocks["nonadherence"].set(day, nonadherence)
    # Liver stage and cancer (native liver only).
    recompensation = constant(c.recompensation_rate) if on["recompensation"] else ()
    clocks["recompensation"].set(day, recompensation)
    cirrhosis = constant(c.cirrhosis_rate * hr) if on["cirrhosis"] else ()
    clocks["cirrhosis"].set(day, cirrhosis)
    decompensation = constant(c.decompensation_rate * hr) if on["decompensation"] else ()
    clocks["decompensation"].set(day, decompensation)
    hcc_rate = c.hcc_rate_cirrhosis if lat.stage != "none" else c.hcc_rate_noncirrhotic
    clocks["hcc"].set(day, constant(hcc_rate) if on["hcc"] else ())
    # Transplant after a referral for a chronic indication: after the steroid trial's
    # remaining days, and before the maximum age (free-form: numbers of days).
    years_left = (c.transplant_max_age - age_now) * YEAR_DAYS
    trial_left = 0.0
    started = p.treatment_start_day
    if on["transplant.steroid_trial"] and started is not None:
        trial_left = max(0.0, started + c.steroid_trial_days - day)
    transplant: Hazard = ()
    if on["transplant"] and years_left > trial_left:
        transplant = ((trial_left, c.transplant_rate), (years_left, 0.0))
    clocks["transplant"].set(day, transplant)
    # After transplant.
    loss = c.graft_loss_rate * (c.recurrence_graft_loss_hr if lat.recurrence else 1.0)
    clocks["graft_failure"].set(day, constant(loss) if on["graft_failure"] else ())
    lt_death = scale(c.post_lt_death, c.recurrence_death_hr if lat.recurrence else 1.0)
    clocks["post_transplant_death"].set(lat.lt_day, lt_death if on["post_transplant_death"] else ())
    # Liver and cancer deaths.
    liver_rate = 0.0
    if on["liver_death.decompensated"]:
        liver_rate += c.decompensated_death_rate
    if on["liver_death.graft_failed"]:
        liver_rate += c.graft_failure_death_rate
    clocks["liver_death"].set(day, constant(liver_rate))
    clocks["hcc_death"].set(day, constant(c.hcc_death_rate) if on["hcc_death"] else ())
    # Pregnancy (women of reproductive age, outside transplant care).
    years_fertile = (c.pregnancy_max_age - age_now) * YEAR_DAYS
    clocks["plan_pregnancy"].set(
        day,
        ((0.0, c.pregnancy_rate), (years_fertile, 0.0)) if on["plan_pregnancy"] else (),
    )
    clocks["conception"].set(day, constant(c.conception_rate) if on["conception"] else ())
    return clocks.settings
