"""When each hazard of the patient model runs: its conditions, declared as expressions.

The disease model (:mod:`simulation.model.disease`) keeps one
:class:`~simulation.model.hazards.Clock` per kind of event and sets every clock's hazard
after each step of the chart. *Whether* a hazard runs, and which case of it, is declared here
once, as an expression of the guideline language (:mod:`pathway.expr`) over the patient's
:class:`Situation`: the chart's active states (``active``), the record's drugs and pregnancy,
the model's latent liver stage and events, and two limits (``th.transplant_meld`` from the
pathway's thresholds, ``th.pregnancy_max_age`` from the parameters). *How large* it is (its
rates, origin and time window) is declared in :mod:`simulation.model.clock_hazards`, by the
names of these conditions and of the model's constants; conditions named ``<clock>.<case>``
(``hcc.cirrhotic``, ``transplant.steroid_trial``) choose a rate, a hazard ratio or a window.

Each condition names the parameters behind its rate (their sources and tags are in
``simulation/data/parameters.yaml``) and why the condition is what it is. The scalar
interpreter evaluates them for one patient; each knows what it reads
(``HAZARD_CONDITIONS["cirrhosis"].when.deps``), the seam for a vectorised cohort engine.

Nothing is said in Python instead (:data:`FREE_FORM` is empty since issue 14: the transplant
window and the rates and origins became :mod:`simulation.model.clock_hazards`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass
from typing import Any

from pathway import AIHPathway
from pathway.expr import Expr, Schema

__all__ = [
    "FLARE_CASES",
    "FREE_FORM",
    "HAZARD_CONDITIONS",
    "REPORT_CONDITIONS",
    "SCHEMA",
    "HazardCondition",
    "Limits",
    "Situation",
    "flare_case",
    "hazards_on",
    "reported",
]


@dataclass(slots=True)
class Situation:
    """One patient now, as the hazard conditions read it (made after every chart step).

    Attributes:
        drugs: the drugs the record lists now.
        pregnancy: the record's pregnancy status (``none``, ``planned``, ``pregnant``,
            ``postpartum``).
        sex: ``F`` or ``M``.
        age: age now (years).
        withdrawal_start_day: day the current withdrawal began (``None``: none).
        treatment_start_day: day treatment first began (``None``: not yet).
        stage: the true liver stage (``none``, ``compensated``, ``decompensated``).
        native: the native liver (no transplant yet).
        hcc: hepatocellular carcinoma has occurred.
        recurrence: AIH recurred after transplant.
        graft_failed: the graft failed.
        recompensates: the current decompensation will recompensate on treatment.
        decompensation_active: the decompensation came with active disease.
        nonadherent_since: day a latent period of non-adherence began (``None``: adherent).
        untreated_since: day all drugs were stopped (``None``: on treatment or never).
        course: the kind of the current lab course (``untreated``, ``first_line``, ...).
        emergency: an acute outcome (death, transplant or recovery) is already scheduled.
        candidate: the patient would be listed for a transplant.
        meld: the MELD score now.
        alt: latent ALT now (x ULN).
        igg: latent IgG now (x ULN).
    """

    drugs: frozenset[str]
    pregnancy: str
    sex: str
    age: float
    withdrawal_start_day: float | None
    treatment_start_day: float | None
    stage: str
    native: bool
    hcc: bool
    recurrence: bool
    graft_failed: bool
    recompensates: bool
    decompensation_active: bool
    nonadherent_since: float | None
    untreated_since: float | None
    course: str
    emergency: bool
    candidate: bool
    meld: float
    alt: float
    igg: float


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits the conditions read as ``th.<name>``.

    Attributes:
        transplant_meld: MELD from which transplant is indicated (the pathway's threshold).
        pregnancy_max_age: oldest age (years) at which a pregnancy is planned (parameter
            ``pregnancy.max_age``).
    """

    transplant_meld: float
    pregnancy_max_age: float


_OPTIONAL = {"withdrawal_start_day", "treatment_start_day", "nonadherent_since", "untreated_since"}

#: The names the conditions may use: the situation's fields, the limits, the chart's states.
SCHEMA = Schema(
    fields={name: name in _OPTIONAL for name in Situation.__slots__},
    thresholds=frozenset(Limits.__slots__),
    states=frozenset(AIHPathway.states_map),
    derived={
        "in_transplant_care": 'active & {"transplant", "post_transplant"}',
        "indicated": 'stage == "decompensated" or hcc or graft_failed '
        "or meld >= th.transplant_meld",
        "fertile": 'sex == "F" and not in_transplant_care and age < th.pregnancy_max_age',
    },
)


@dataclass(frozen=True, slots=True)
class HazardCondition:
    """One declared condition.

    Attributes:
        name: the clock (``cirrhosis``) or the case of a clock (``flare.withdrawal``).
        when: the condition, checked against :data:`SCHEMA`.
        parameters: the parameters behind the rate that runs while the condition holds.
        why: why the condition is what it is ([MODEL] with a rationale, or a rule id).
    """

    name: str
    when: Expr
    parameters: tuple[str, ...]
    why: str


def _condition(name: str, when: str, parameters: tuple[str, ...], why: str) -> HazardCondition:
    return HazardCondition(name, Expr(when, SCHEMA, f"hazard condition {name!r}"), parameters, why)


_WITHDRAWAL = ("relapse.withdrawal_1y", "relapse.withdrawal_2y", "relapse.withdrawal_3y")

#: The flare clock's cases, first match wins (none matching: no flare hazard).
FLARE_CASES: tuple[HazardCondition, ...] = (
    _condition(
        "flare.recurrence",
        '"post_transplant" in active and not recurrence',
        ("transplant.recurrence_5y", "transplant.recurrence_10y"),
        "[MODEL] after transplant the only flare is recurrent AIH, until it has recurred",
    ),
    _condition(
        "flare.after_recurrence",
        '"post_transplant" in active',
        (),
        "[MODEL] recurrent AIH is one event; its course follows the flare that began it",
    ),
    _condition(
        "flare.withdrawal",
        'active & {"withdrawal", "off_treatment"} and withdrawal_start_day is not None',
        _WITHDRAWAL,
        "[MODEL] the hazard after withdrawal counts from the day withdrawal began",
    ),
    _condition(
        "flare.maintenance_untreated",
        '"maintenance" in active and not drugs and untreated_since is not None',
        _WITHDRAWAL,
        "[MODEL] maintenance without drugs is a withdrawal, counted from the last stop",
    ),
    _condition(
        "flare.nonadherent",
        '"maintenance" in active and nonadherent_since is not None',
        ("relapse.maintenance_remission", *_WITHDRAWAL, "adherence.effect_lost"),
        "[MODEL] non-adherence loses part of the protection of maintenance treatment",
    ),
    _condition(
        "flare.maintenance",
        '"maintenance" in active',
        ("relapse.maintenance_remission", "relapse.maintenance_months"),
        "[MODEL] relapse on maintenance treatment",
    ),
    _condition(
        "flare.untreated",
        'active & {"diagnosis", "observation"} and course == "untreated" '
        'and "transplant" not in active',
        ("relapse.untreated_per_year",),
        "[MODEL] mild untreated disease under observation can flare",
    ),
)


def _intolerance(drug: str, parameters: tuple[str, ...]) -> HazardCondition:
    return _condition(
        f"intolerance_{drug}",
        f'"{drug}" in drugs and not in_transplant_care',
        parameters,
        "[MODEL] outside transplant care: the transplant team owns those drugs",
    )


#: Every other clock's condition: its hazard runs while the condition holds.
HAZARD_CONDITIONS: dict[str, HazardCondition] = {
    c.name: c
    for c in (
        _condition(
            "postpartum_flare",
            'pregnancy == "postpartum" and active & '
            '{"maintenance", "withdrawal", "off_treatment", "observation"}',
            ("relapse.postpartum_flare", "relapse.postpartum_days"),
            "[MODEL] a postpartum flare is a relapse of disease in remission or observed",
        ),
        _intolerance("azathioprine", ("intolerance.azathioprine_1y",)),
        _intolerance("mycophenolate", ("intolerance.mycophenolate_6m",)),
        _intolerance("tacrolimus", ("intolerance.tacrolimus",)),
        _condition(
            "nonadherence",
            '"maintenance" in active and drugs and nonadherent_since is None',
            ("adherence.nonadherence_per_year",),
            "[MODEL] non-adherence starts on maintenance treatment (it is found at a flare)",
        ),
        _condition(
            "recompensation",
            'native and stage == "decompensated" and recompensates and drugs',
            ("liver.recompensation", "liver.recompensation_median_days"),
            "[MODEL] only decompensation with active disease recompensates, on treatment",
        ),
        _condition(
            "cirrhosis",
            'native and stage == "none"',
            ("liver.cirrhosis_per_year", "liver.activity_hazard_ratio"),
            "[MODEL] the native liver progresses stage by stage",
        ),
        _condition(
            "decompensation",
            'native and stage == "compensated"',
            ("liver.decompensation_per_year", "liver.activity_hazard_ratio"),
            "[MODEL] the native liver progresses stage by stage",
        ),
        _condition(
            "activity",
            "alt > 1.0 or igg > 1.0",
            ("liver.activity_hazard_ratio",),
            "[MODEL] active disease speeds cirrhosis and decompensation",
        ),
        _condition(
            "hcc",
            "native and not hcc",
            ("liver.hcc_per_1000py_cirrhosis", "liver.hcc_per_1000py_noncirrhotic"),
            "[MODEL] one HCC, in the native liver",
        ),
        _condition(
            "hcc.cirrhotic",
            'stage != "none"',
            ("liver.hcc_per_1000py_cirrhosis",),
            "[MODEL] HCC arises at the cirrhotic rate once the liver is cirrhotic",
        ),
        _condition(
            "transplant",
            '"transplant" in active and not emergency and indicated and candidate',
            ("transplant.wait_median_days", "transplant.candidate_share"),
            "[MODEL] a referral for a chronic indication leads to transplant after a wait "
            "(acute referrals have their own outcome)",
        ),
        _condition(
            "transplant.steroid_trial",
            'stage == "decompensated" and decompensation_active and treatment_start_day '
            "is not None and not (hcc or graft_failed or meld >= th.transplant_meld)",
            ("transplant.steroid_trial_days",),
            "[MODEL] decompensation from active disease gets a steroid trial before an "
            "elective transplant (S-WANG16: most recompensate)",
        ),
        _condition(
            "graft_failure",
            '"post_transplant" in active and not graft_failed',
            ("transplant.graft_loss_per_year", "transplant.recurrence_graft_loss_hr"),
            "[MODEL] a working graft can fail",
        ),
        _condition(
            "graft_failure.recurrence",
            "recurrence",
            ("transplant.recurrence_graft_loss_hr",),
            "[MODEL] recurrent AIH raises the hazard of graft loss",
        ),
        _condition(
            "post_transplant_death",
            '"post_transplant" in active and not graft_failed',
            ("transplant.mortality_1y", "transplant.survival_5y", "transplant.survival_10y"),
            "[MODEL] the registry's survival after transplant, while the graft works",
        ),
        _condition(
            "post_transplant_death.recurrence",
            "recurrence",
            ("transplant.recurrence_death_hr",),
            "[MODEL] recurrent AIH raises the hazard of death after transplant",
        ),
        _condition(
            "liver_death.decompensated",
            'native and stage == "decompensated"',
            ("liver.decompensated_death_per_year",),
            "[MODEL] death from decompensated cirrhosis of the native liver",
        ),
        _condition(
            "liver_death.graft_failed",
            "graft_failed",
            ("transplant.graft_failure_death_per_year",),
            "[MODEL] death after graft failure",
        ),
        _condition(
            "hcc_death",
            "native and hcc",
            ("liver.hcc_death_per_year",),
            "[MODEL] death from HCC without transplant",
        ),
        _condition(
            "plan_pregnancy",
            'fertile and pregnancy == "none"',
            ("pregnancy.plan_per_year", "pregnancy.max_age"),
            "[MODEL] women of reproductive age outside transplant care",
        ),
        _condition(
            "conception",
            'fertile and pregnancy == "planned"',
            ("pregnancy.conception_median_days",),
            "[MODEL] a planned pregnancy begins after a median wait",
        ),
    )
}


def _report(name: str, when: str) -> Expr:
    expr = Expr(when, SCHEMA, f"report condition {name!r}")
    if expr.deps.fields or expr.deps.thresholds:
        raise ValueError(f"report condition {name!r}: {when!r} may read only the active states")
    return expr


#: When a due event reaches the chart: the chart must be in a state that hears of it
#: (otherwise the event is dropped, or, for a latent one, only the model knows of it). They
#: read only the active states.
REPORT_CONDITIONS: dict[str, Expr] = {
    "delivered": _report("delivered", '"in_pregnancy" in active'),
    "emergency": _report("emergency", '"transplant" in active'),
    "transplant": _report("transplant", '"transplant" in active'),
    "graft_failure": _report("graft_failure", '"post_transplant" in active'),
    # AIH-LIV-03: recompensation is told while the chart's liver stage is decompensated.
    "recompensation": _report("recompensation", '"decompensated_cirrhosis" in active'),
}

#: What stays Python, and why (nothing: see the module docstring).
FREE_FORM: dict[str, str] = {}


def _compile(exprs: Sequence[Expr], shape: str) -> Callable[..., Any]:
    """One function of ``(p, th, opt, active)`` evaluating ``exprs`` together: a tuple of
    their values (``shape="tuple"``) or the index of the first true one, -1 for none
    (``shape="first"``). One call per step instead of one per condition: the conditions run
    after every chart step of every patient."""
    namespace: dict[str, Any] = {}
    sources = []
    for k, expr in enumerate(exprs):
        source = expr.source
        for name, value in expr.namespace.items():
            if name.startswith("_c"):  # the constants of one expression: made unique
                unique = f"_k{k}{name}"
                source = re.sub(rf"\b{name}\b", unique, source)
                name = unique
            namespace[name] = value
        sources.append(source)
    if shape == "tuple":
        body = "(" + "".join(f"{src}, " for src in sources) + ")"
    else:
        body = "".join(f"{k} if {src} else " for k, src in enumerate(sources)) + "-1"
    code = compile(f"lambda p, th, opt, active: {body}", "<hazard conditions>", "eval")
    function: Callable[..., Any] = eval(code, namespace)
    return function


_FLARE_FIRST = _compile([c.when for c in FLARE_CASES], "first")
_NAMES = tuple(HAZARD_CONDITIONS)
_ALL = _compile([HAZARD_CONDITIONS[n].when for n in _NAMES], "tuple")


def reported(name: str, active: Set[str]) -> bool:
    """Whether the chart, in ``active``, hears of the due event ``name``
    (:data:`REPORT_CONDITIONS`)."""
    return bool(REPORT_CONDITIONS[name].fn(None, None, None, active))


def flare_case(s: Situation, th: Limits, active: Set[str]) -> str:
    """The first case of :data:`FLARE_CASES` that holds (``""``: no flare hazard)."""
    index: int = _FLARE_FIRST(s, th, None, active)
    return FLARE_CASES[index].name if index >= 0 else ""


def hazards_on(s: Situation, th: Limits, active: Set[str]) -> dict[str, Any]:
    """Every condition of :data:`HAZARD_CONDITIONS` for one patient now, by name; a value
    is true when the condition holds (Python truth: a non-empty set of states is true)."""
    return dict(zip(_NAMES, _ALL(s, th, None, active), strict=True))
