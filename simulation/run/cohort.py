"""Cohorts: the cohort file, ``--set`` overrides, seeds, and running a cohort in parallel.

A cohort file (YAML, shared/spec/cohort-and-outputs.md) says how many patients to simulate,
for how many years, and how their attributes at diagnosis are distributed. :func:`run_cohort`
samples each patient, runs them through the pathway under a policy with the stochastic
patient model (:mod:`simulation.model.disease`) and collects tidy outputs
(:mod:`simulation.results.outputs`).

Seeds: patient ``i`` draws from counter-based streams keyed by ``(seed, i, stream)``
(:mod:`simulation.model.draws`): an attribute stream and a disease stream, each draw a pure
function of the key and its number. Nothing depends on the order, batch or worker in which
patients run, so ``workers`` processes produce byte-identical outputs to one, and a patient
draws the same numbers under every policy (common random numbers).
"""

from __future__ import annotations

import copy
import math
import os
import re
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, cast

import yaml

from pathway import AIHPathway, Pathway, PatientRecord, Thresholds
from pathway.block import BlockPathway
from pathway.compiled import CompiledPathway
from pathway.guidelines.aih.block import AIH_BLOCK
from pathway.guidelines.aih.sources import SOURCES, TAGS
from pathway.guidelines.aih.vocabulary import CIRRHOSIS_STAGES, PRESENTATIONS, SEXES, TPMT_STATUSES

from ..input_files import InputFileError, compose_yaml
from ..model.disease import DiseaseModel, ModelConstants
from ..model.draws import PatientStream, Randomness
from ..model.model_block import ModelColumns
from ..model.parameters import (
    ParameterError,
    ParameterSet,
    load_parameters,
    read_input_file,
    unknown_key_message,
)
from ..model.policies import MAX_ACTIONS_PER_STEP, Policy, get_strategy
from ..results.outputs import ChunkResult, CohortResult, PatientResult, collect_patient
from . import stopping
from .block_charts import BlockCharts
from .engine import run_patient
from .lockstep import ChartList, RowError, run_lockstep
from .scale import CHUNKS_PER_WORKER, dask_map, in_order

__all__ = [
    "BLOCK_ENGINES",
    "BLOCK_PATIENTS",
    "DEFAULT_COHORT",
    "DEFAULT_SEED",
    "LOCKSTEP_BLOCK_PATIENTS",
    "Cohort",
    "CohortError",
    "NumericDistribution",
    "RunSettings",
    "SimulationError",
    "StartedPatient",
    "apply_overrides",
    "block_size",
    "check_run_options",
    "engine_runs",
    "load_cohort",
    "parse_cohort",
    "patient_rng",
    "run_cohort",
    "sample_attributes",
    "simulate_block",
    "simulate_patient",
    "start_patient",
]

#: The cohort file shipped with the package (used when ``--cohort`` is not given).
DEFAULT_COHORT = "default_cohort.yaml"
#: Seed used when none is given.
DEFAULT_SEED = 20250101

_CATEGORICAL: dict[str, tuple[str, ...]] = {
    "sex": SEXES,
    "cirrhosis": CIRRHOSIS_STAGES,
    "presentation": PRESENTATIONS,
    "tpmt": TPMT_STATUSES[1:],
}
_NUMERIC_LIMITS: dict[str, tuple[float, float]] = {
    # The patient record's own limits (adults only: knowledge base section 6).
    "age": (18.0, 110.0),
    "weight_kg": (30.0, 300.0),
}
_DIST_KEYS = ("distribution", "mean", "sd", "min", "max", "value", "fixed")
_TOP_KEYS = ("patients", "years", *_NUMERIC_LIMITS, *_CATEGORICAL, "sources")


class CohortError(ValueError):
    """A cohort file or ``--set`` override is invalid (one line: file, field, found, expected).

    ``field`` is the dotted path of the field at fault (``age.sd``), when there is one.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SimulationError(RuntimeError):
    """A patient's course failed (a modelling bug); names the patient, index and seed."""


def _fail(origin: str, field_name: str, found: Any, expected: str) -> CohortError:
    return CohortError(f"{origin}: {field_name}: found {found!r}, expected {expected}", field_name)


@dataclass(frozen=True, slots=True)
class NumericDistribution:
    """A numeric attribute: ``normal`` (truncated to min/max), ``uniform`` or ``fixed``."""

    kind: str
    mean: float = 0.0
    sd: float = 0.0
    low: float = 0.0
    high: float = 0.0
    value: float = 0.0

    def sample(self, rng: Randomness) -> float:
        """One draw (truncation by rejection, at most 100 tries, then clipping)."""
        if self.kind == "fixed":
            return self.value
        if self.kind == "uniform":
            return float(rng.uniform(self.low, self.high))
        for _ in range(100):
            x = float(rng.normal(self.mean, self.sd))
            if self.low <= x <= self.high:
                return x
        return min(self.high, max(self.low, self.mean))


@dataclass(frozen=True, slots=True)
class Cohort:
    """A validated cohort definition.

    Attributes:
        patients: number of patients.
        years: follow-up horizon (years).
        age: age at diagnosis (years).
        weight_kg: body weight (kg).
        sex, cirrhosis, presentation, tpmt: category -> probability (each sums to 1).
        origin: the file it came from (for messages and the summary).
        raw: the mapping it was built from (``--set`` edits this and re-validates).
    """

    patients: int
    years: float
    age: NumericDistribution
    weight_kg: NumericDistribution
    sex: dict[str, float]
    cirrhosis: dict[str, float]
    presentation: dict[str, float]
    tpmt: dict[str, float]
    origin: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def horizon_days(self) -> float:
        """The follow-up horizon in days."""
        return self.years * 365.25

    def describe(self) -> dict[str, Any]:
        """The cohort as plain data (for summary.json), without the ``sources`` block."""
        return {k: copy.deepcopy(v) for k, v in self.raw.items() if k != "sources"}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _only(origin: str, name: str, spec: dict[str, Any], kind: str, keys: Sequence[str]) -> None:
    """A key the distribution does not use is an error, not silently ignored."""
    for key in spec:
        if key not in keys:
            raise _fail(
                origin, f"{name}.{key}", spec[key], f"no {key!r} for {kind} (it takes {list(keys)})"
            )


def _numeric(origin: str, name: str, spec: Any) -> NumericDistribution:
    lo_lim, hi_lim = _NUMERIC_LIMITS[name]
    expected_range = f"a number from {lo_lim:g} to {hi_lim:g}"
    if _number(spec):
        spec = {"fixed": spec}
    if not isinstance(spec, dict):
        raise _fail(origin, name, spec, "{distribution: normal|uniform, ...} or {fixed: VALUE}")
    for key in spec:
        if key not in _DIST_KEYS:
            raise _fail(origin, f"{name}.{key}", key, f"one of {list(_DIST_KEYS)}")
    if "fixed" in spec or spec.get("distribution") == "fixed":
        if spec.get("distribution", "fixed") != "fixed":
            raise _fail(
                origin, f"{name}.distribution", spec["distribution"], "none beside 'fixed: VALUE'"
            )
        _only(origin, name, spec, "fixed", ("distribution", "fixed", "value"))
        value: Any = spec.get("fixed", spec.get("value"))
        if not _number(value) or not lo_lim <= float(value) <= hi_lim:
            raise _fail(origin, f"{name}.fixed", value, expected_range)
        return NumericDistribution("fixed", value=float(value))
    kind = spec.get("distribution")
    if kind not in ("normal", "uniform"):
        raise _fail(origin, f"{name}.distribution", kind, "'normal', 'uniform' or 'fixed'")
    needed = ("mean", "sd", "min", "max") if kind == "normal" else ("min", "max")
    _only(origin, name, spec, kind, ("distribution", *needed))
    for key in needed:
        if not _number(spec.get(key)):
            raise _fail(origin, f"{name}.{key}", spec.get(key), "a number")
    low, high = float(spec["min"]), float(spec["max"])
    for key, value in (("min", low), ("max", high)):
        if not lo_lim <= value <= hi_lim:
            raise _fail(origin, f"{name}.{key}", value, expected_range)
    if low >= high:
        raise _fail(origin, f"{name}.max", high, f"a number above min ({low:g})")
    if kind == "uniform":
        return NumericDistribution("uniform", low=low, high=high)
    mean, sd = float(spec["mean"]), float(spec["sd"])
    if sd <= 0:
        raise _fail(origin, f"{name}.sd", sd, "a number > 0")
    if not low <= mean <= high:
        raise _fail(origin, f"{name}.mean", mean, f"a number from min {low:g} to max {high:g}")
    return NumericDistribution("normal", mean=mean, sd=sd, low=low, high=high)


def _categorical(origin: str, name: str, spec: Any) -> dict[str, float]:
    allowed = _CATEGORICAL[name]
    if not isinstance(spec, dict) or not spec:
        raise _fail(origin, name, spec, f"probabilities of {list(allowed)}")
    out: dict[str, float] = {}
    for key, value in spec.items():
        if key not in allowed:
            raise _fail(origin, f"{name}.{key}", key, f"one of {list(allowed)}")
        if not _number(value) or not 0.0 <= value <= 1.0:
            raise _fail(origin, f"{name}.{key}", value, "a probability from 0 to 1")
        out[str(key)] = float(value)
    total = math.fsum(out.values())
    if abs(total - 1.0) > 1e-6:
        raise CohortError(
            f"{origin}: {name}: probabilities sum to {total:.6g}, expected 1 "
            f"({', '.join(f'{k}={v:g}' for k, v in out.items())})",
            name,
        )
    return {k: out.get(k, 0.0) for k in allowed}


def _check_sources(origin: str, sources: Any) -> None:
    if not isinstance(sources, dict):
        raise _fail(origin, "sources", sources, "a mapping field -> {tag, sources, figure}")
    for key, entry in sources.items():
        where = f"sources.{key}"
        if not isinstance(entry, dict):
            raise _fail(origin, where, entry, "{tag: ..., sources: [...], figure: ...}")
        tag = entry.get("tag")
        if tag not in TAGS:
            raise _fail(origin, f"{where}.tag", tag, f"one of {list(TAGS)}")
        ids = entry.get("sources", [])
        if not isinstance(ids, list):
            raise _fail(origin, f"{where}.sources", ids, "a list of source ids")
        for source in ids:
            if source not in SOURCES:
                raise _fail(origin, f"{where}.sources", source, "a knowledge-base source id")
        if tag == "MODEL" and not entry.get("rationale"):
            raise _fail(origin, f"{where}.rationale", None, "a rationale for MODEL")
        if tag != "MODEL" and (not ids or not entry.get("figure")):
            raise _fail(origin, where, entry, "sources and the figure they give")


def parse_cohort(data: Any, origin: str) -> Cohort:
    """Validate a parsed cohort mapping and build a :class:`Cohort`.

    Raises:
        CohortError: the first invalid field, as ``file: field: found X, expected Y``.
    """
    if not isinstance(data, dict):
        raise _fail(origin, "(top level)", data, "a mapping of cohort fields")
    for key in data:
        if key not in _TOP_KEYS:
            raise CohortError(
                f"{origin}: {unknown_key_message('field', str(key), list(_TOP_KEYS))}", str(key)
            )
    for key in ("patients", "years", *_NUMERIC_LIMITS, *_CATEGORICAL):
        if key not in data:
            raise _fail(origin, key, None, "a value (the field is required)")
    patients = data["patients"]
    if isinstance(patients, bool) or not isinstance(patients, int) or patients < 1:
        raise _fail(origin, "patients", patients, "a whole number >= 1")
    years = data["years"]
    if not _number(years) or not 0 < years <= 100:
        raise _fail(origin, "years", years, "a number of years > 0 and <= 100")
    if "sources" in data:
        _check_sources(origin, data["sources"])
    return Cohort(
        patients=patients,
        years=float(years),
        age=_numeric(origin, "age", data["age"]),
        weight_kg=_numeric(origin, "weight_kg", data["weight_kg"]),
        sex=_categorical(origin, "sex", data["sex"]),
        cirrhosis=_categorical(origin, "cirrhosis", data["cirrhosis"]),
        presentation=_categorical(origin, "presentation", data["presentation"]),
        tpmt=_categorical(origin, "tpmt", data["tpmt"]),
        origin=origin,
        raw=copy.deepcopy(data),
    )


def load_cohort(path: str | Path | None = None) -> Cohort:
    """Load and validate a cohort file (default: the packaged default cohort).

    Raises:
        CohortError: invalid content; OSError: unreadable file.
    """
    if path is None:
        ref = resources.files("simulation").joinpath("data", DEFAULT_COHORT)
        text, origin = ref.read_text(encoding="utf-8"), f"simulation/data/{DEFAULT_COHORT}"
    else:
        text, origin = read_input_file(path), str(path)
    try:
        root = compose_yaml(text, origin)  # duplicate keys, depth, aliases: see input_files
    except InputFileError as exc:
        raise CohortError(str(exc)) from None
    try:
        return parse_cohort(None if root is None else root.plain(), origin)
    except CohortError as exc:
        # A missing field is placed at its nearest enclosing key; none at all: no line.
        line = root.line_of(exc.field.split(".")) if exc.field and root is not None else None
        if line is None:
            raise
        # file:line: field: ..., the form of the scenario loader's and compilers' messages.
        located = f"{origin}:{line}: " + str(exc).removeprefix(f"{origin}: ")
        raise CohortError(located, exc.field) from None


# --- --set overrides ---------------------------------------------------------------------------


def _cohort_keys(cohort: Cohort) -> list[str]:
    keys = ["cohort.patients", "cohort.years"]
    for name in _NUMERIC_LIMITS:
        keys.append(f"cohort.{name}")
        keys += [f"cohort.{name}.{k}" for k in ("mean", "sd", "min", "max", "fixed")]
    for name, cats in _CATEGORICAL.items():
        keys += [f"cohort.{name}.{c}" for c in cats]
    return keys


#: A number in decimal or scientific notation (YAML 1.1 reads ``5e-1`` as text).
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _parse_value(key: str, text: str) -> Any:
    if _NUMBER.fullmatch(text):
        return float(text) if any(c in text for c in ".eE") else int(text)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise CohortError(f"--set {key}: found {text!r}, expected a number or a word") from None


def _set_categorical(dist: dict[str, Any], cat: str, value: float, where: str) -> None:
    """Set one probability; the others are rescaled so that they still sum to 1."""
    if not _number(value) or not 0.0 <= value <= 1.0:
        raise _fail("--set", where, value, "a probability from 0 to 1")
    others = {k: float(v) for k, v in dist.items() if k != cat}
    rest = math.fsum(others.values())
    if rest <= 0 and value < 1.0:
        raise CohortError(
            f"--set: {where}: probabilities would sum to {value:g}, expected 1 "
            "(no other category to rescale)"
        )
    for k, v in others.items():
        dist[k] = v * (1.0 - value) / rest if rest > 0 else 0.0
    dist[cat] = float(value)


def apply_overrides(
    cohort: Cohort,
    parameters: ParameterSet,
    sets: Sequence[str],
    thresholds: Thresholds | None = None,
) -> tuple[Cohort, ParameterSet, Thresholds]:
    """Apply ``--set KEY=VALUE`` overrides by dotted name.

    Keys: ``cohort.<field>[.<part>]`` for the cohort (setting one category's probability
    rescales the others so they still sum to 1), a model parameter's name (optionally
    ``parameters.<name>``), or ``thresholds.<name>`` for a pathway threshold.

    Raises:
        CohortError: malformed ``KEY=VALUE``, an unknown key (with close matches) or a value
            that fails validation.
    """
    thresholds = thresholds or Thresholds()
    raw = copy.deepcopy(cohort.raw)
    params: dict[str, float] = {}
    ths: dict[str, float] = {}
    threshold_names = [f"thresholds.{n}" for n in Thresholds.__dataclass_fields__]
    known = [*_cohort_keys(cohort), *parameters, *threshold_names]
    for item in sets:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CohortError(f"--set {item!r}: expected KEY=VALUE")
        value = _parse_value(key, text.strip())
        name = key.removeprefix("parameters.")
        if name in parameters:
            if not _number(value):
                raise _fail("--set", name, value, "a number")
            params[name] = float(value)
        elif key in threshold_names:
            if not _number(value):
                raise _fail("--set", key, value, "a number")
            ths[key.removeprefix("thresholds.")] = float(value)
        elif key in _cohort_keys(cohort):
            _set_cohort(raw, key.removeprefix("cohort."), value)
        else:
            raise CohortError(f"--set: {unknown_key_message('key', key, known)}")
    new_cohort = parse_cohort(raw, f"{cohort.origin} with --set") if raw != cohort.raw else cohort
    try:
        new_params = parameters.with_overrides(params) if params else parameters
        if params:  # a value out of its range (a probability above 1...) fails here, once
            ModelConstants.from_parameters(new_params)
        new_ths = thresholds.with_overrides(**ths) if ths else thresholds
    except (ParameterError, ValueError) as exc:
        raise CohortError(f"--set: {exc}") from None
    return new_cohort, new_params, new_ths


def _set_cohort(raw: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    head = parts[0]
    if head in ("patients", "years"):
        raw[head] = value
    elif head in _CATEGORICAL:
        dist = dict(raw.get(head) or {})
        _set_categorical(dist, parts[1], value, path)
        raw[head] = dist
    elif len(parts) == 1:  # cohort.age=40: a fixed value
        raw[head] = {"fixed": value}
    else:
        spec = raw.get(head)
        spec = dict(spec) if isinstance(spec, dict) else {"fixed": spec}
        if parts[1] == "fixed":
            spec = {"fixed": value}
        else:
            if "fixed" in spec:
                raise _fail("--set", path, value, f"cohort.{head}.fixed (the field is fixed)")
            spec[parts[1]] = value
        raw[head] = spec


# --- sampling and running ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attributes:
    """A sampled patient at diagnosis (the true TPMT status included)."""

    patient_id: str
    age: float
    sex: str
    weight_kg: float
    cirrhosis: str
    presentation: str
    tpmt: str


def patient_rng(seed: int, index: int) -> PatientStream:
    """Patient ``index``'s root stream (stream 0); its children are its attribute and disease
    streams (:mod:`simulation.model.draws`)."""
    return PatientStream(seed, index)


def _pick(dist: Mapping[str, float], u: float) -> str:
    acc = 0.0
    last = ""
    for key, p in dist.items():
        if p <= 0:
            continue
        acc += p
        last = key
        if u < acc:
            return key
    return last


def sample_attributes(cohort: Cohort, patient_id: str, rng: Randomness) -> Attributes:
    """Draw one patient's attributes from the cohort's distributions."""
    u = rng.random(4)
    return Attributes(
        patient_id=patient_id,
        age=round(cohort.age.sample(rng), 1),
        sex=_pick(cohort.sex, float(u[0])),
        weight_kg=round(cohort.weight_kg.sample(rng), 1),
        cirrhosis=_pick(cohort.cirrhosis, float(u[1])),
        presentation=_pick(cohort.presentation, float(u[2])),
        tpmt=_pick(cohort.tpmt, float(u[3])),
    )


@dataclass(frozen=True)
class RunSettings:
    """Everything a worker needs to simulate any patient of the run (picklable)."""

    cohort: Cohort
    parameters: ParameterSet
    thresholds: Thresholds
    seed: int
    policy: str
    horizon_days: float
    keep_charts: bool = False
    engine: str = "compiled"
    chart_class: Callable[..., Pathway[PatientRecord]] | None = None

    @property
    def width(self) -> int:
        """Digits of the zero-padded patient number."""
        return max(5, len(str(self.cohort.patients)))

    def patient_id(self, index: int) -> str:
        """``P00001`` for index 0."""
        return f"P{index + 1:0{self.width}d}"


@dataclass
class StartedPatient:
    """One patient of a run at diagnosis: attributes, chart, model and clinician."""

    index: int
    attrs: Attributes
    record: PatientRecord
    chart: Any
    model: DiseaseModel
    policy: Policy


def start_patient(
    settings: RunSettings, index: int, constants: ModelConstants, *, chart: bool = True
) -> StartedPatient:
    """Patient ``index`` of the run at diagnosis (its draws depend on the seed and index);
    ``chart=False``: no chart (the record stays fresh, for a block to take)."""
    strategy = get_strategy(settings.policy)
    rng = patient_rng(settings.seed, index)
    attr_rng, model_rng = rng.spawn(2)
    pid = settings.patient_id(index)
    attrs = sample_attributes(settings.cohort, pid, attr_rng)
    record = PatientRecord(
        pid,
        age=attrs.age,
        sex=attrs.sex,
        weight_kg=attrs.weight_kg,
        cirrhosis=attrs.cirrhosis,
        presentation=attrs.presentation,
        tpmt="unknown",
    )
    made: Any = None
    if chart:
        engine = BLOCK_ENGINES.get(settings.engine, settings.engine)
        chart_class: Any = settings.chart_class or ENGINES[engine]
        made = chart_class(
            record,
            thresholds=settings.thresholds,
            options=strategy.options,
            strict_invariants=False,
        )
    model = DiseaseModel(record, constants, model_rng, tpmt=attrs.tpmt)
    return StartedPatient(index, attrs, record, made, model, strategy.policy())


def _failed(
    settings: RunSettings, patient: StartedPatient, exc: BaseException, group: int = 1
) -> SimulationError:
    chart = patient.chart
    among = f", or one of the {group} patients stepped with it" if group > 1 else ""
    return SimulationError(
        f"patient {patient.attrs.patient_id} (index {patient.index}, seed {settings.seed}, "
        f"policy {settings.policy!r}{among}) failed on day {chart.patient.day:g} in "
        f"{sorted(chart.active)}: {type(exc).__name__}: {exc}"
    )


def simulate_patient(
    settings: RunSettings, index: int, constants: ModelConstants | None = None
) -> PatientResult:
    """Simulate patient ``index`` of the run; the same inputs give the same result.

    Raises:
        SimulationError: the course failed (names the patient, index and seed).
    """
    constants = constants or ModelConstants.from_parameters(settings.parameters)
    patient = start_patient(settings, index, constants)
    try:
        run_patient(
            patient.chart,
            patient.model,
            horizon_days=settings.horizon_days,
            policy=patient.policy,
        )
    except Exception as exc:
        raise _failed(settings, patient, exc) from exc
    return collect_patient(
        patient.attrs,
        patient.chart,
        patient.model,
        settings.horizon_days,
        keep=settings.keep_charts,
    )


def simulate_block(
    settings: RunSettings, bounds: tuple[int, int], constants: ModelConstants | None = None
) -> list[PatientResult]:
    """Simulate patients ``bounds[0]`` to ``bounds[1] - 1`` together, in lockstep rounds
    (:mod:`simulation.run.lockstep`); each gets the result :func:`simulate_patient` gives.

    Raises:
        SimulationError: a course failed (names the patient, index and seed).
    """
    constants = constants or ModelConstants.from_parameters(settings.parameters)
    columnar = BLOCK_ENGINES[settings.engine] == "block"
    patients = [start_patient(settings, i, constants, chart=not columnar) for i in range(*bounds)]
    block: ChartList | BlockCharts
    columns: BlockCharts | None = None
    if columnar:
        strategy = get_strategy(settings.policy)
        block = columns = BlockCharts(
            BlockPathway(
                AIH_BLOCK,
                [p.record for p in patients],
                thresholds=settings.thresholds,
                options=strategy.options,
                strict_invariants=False,
                max_actions=MAX_ACTIONS_PER_STEP,
            )
        )
        for row, p in enumerate(patients):
            p.chart = block.chart(row)
    else:
        block = ChartList([p.chart for p in patients], [p.policy for p in patients])
    models = [p.model for p in patients]
    # The vector engine answers a round's questions to the models with array operations.
    asked = None if columns is None else ModelColumns(block, models, constants)
    try:
        run_lockstep(block, models, settings.horizon_days, asked)
    except RowError as exc:
        raise _failed(settings, patients[exc.row], exc.error, exc.group) from exc.error
    return [
        collect_patient(
            p.attrs,
            p.chart if columns is None else cast(Any, columns.result(row)),
            p.model,
            settings.horizon_days,
            keep=settings.keep_charts,
        )
        for row, p in enumerate(patients)
    ]


def _simulate(
    settings: RunSettings, bounds: tuple[int, int], constants: ModelConstants
) -> ChunkResult:
    """Patients ``bounds[0]`` to ``bounds[1] - 1``, one by one or as a block."""
    if settings.engine in BLOCK_ENGINES:
        return ChunkResult.of(simulate_block(settings, bounds, constants))
    start, stop = bounds
    return ChunkResult.of([simulate_patient(settings, i, constants) for i in range(start, stop)])


#: Chart engines by name: the compiled executor (default) and python-statemachine itself.
ENGINES: dict[str, Any] = {"compiled": CompiledPathway, "reference": AIHPathway}

#: Engines that step a block of patients together (:mod:`simulation.run.lockstep`), by name,
#: with the chart engine of their charts. ``lockstep`` (Python API only, not a command-line
#: choice) runs compiled charts in lockstep rounds: the same outputs as ``compiled``, the
#: reference for a columnar block.
BLOCK_ENGINES: dict[str, str] = {"lockstep": "compiled", "vector": "block"}

_WORKER: dict[str, Any] = {}


def _init_worker(settings: RunSettings) -> None:
    _WORKER["settings"] = settings
    _WORKER["constants"] = ModelConstants.from_parameters(settings.parameters)


def _init_pool_worker(settings: RunSettings, parent: int) -> None:
    # A forked worker inherits the command's SIGTERM/SIGHUP handler; the pool's own
    # shutdown stops the workers, so they keep the default (end at once).
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    stopping.die_with_parent(parent)  # a kill -9 of the command must not strand them
    _init_worker(settings)


def _run_chunk(bounds: tuple[int, int]) -> ChunkResult:
    settings: RunSettings = _WORKER["settings"]
    constants: ModelConstants = _WORKER["constants"]
    return _simulate(settings, bounds, constants)


#: Most patients per block when no block size is asked for. A block is the unit of work of a
#: worker (local or Dask) and of output: its rows are written once it is back, in patient
#: order, so memory holds a few blocks per worker whatever the cohort size.
BLOCK_PATIENTS = 100

#: The same for the engines that step a block together (:data:`BLOCK_ENGINES`): larger
#: blocks make larger groups of rows evaluated at once (docs/performance.md, "vector
#: engine"). [MODEL] A block of 1,000 patients x 10 years peaks at 167 MiB in all
#: (measured), so 2,000 keeps a worker near 300 MiB.
LOCKSTEP_BLOCK_PATIENTS = 2000


def engine_runs(engine: str, policy: str) -> bool:
    """Whether ``engine`` runs ``policy``: a columnar block's policy loop is the guideline's,
    so it runs the strategies that only set options, not those that prefer or avoid
    actions (every other engine runs every policy)."""
    strategy = get_strategy(policy)
    return BLOCK_ENGINES.get(engine) != "block" or not (strategy.prefer or strategy.avoid)


def block_size(n: int, workers: int, requested: int | None = None, engine: str = "") -> int:
    """Patients per block: ``requested``, or at most :data:`BLOCK_PATIENTS`
    (:data:`LOCKSTEP_BLOCK_PATIENTS` for a block engine), fewer for a small cohort so that
    each of the ``workers`` gets about 8 blocks (for a block engine: the same number of
    blocks, as large as the cap allows). Outputs do not depend on it (each patient's draws
    depend on the seed and its index only)."""
    if requested is not None:
        return requested
    if engine in BLOCK_ENGINES:
        # As few blocks as the cap allows, in a multiple of the workers and of even size,
        # so that no worker runs a block more than another (10,000 patients on 2 workers:
        # 6 blocks of 1,667, not 5 of 2,000 of which one worker would run 3).
        workers = max(1, workers)
        blocks = workers * math.ceil(n / (workers * LOCKSTEP_BLOCK_PATIENTS))
        return max(1, math.ceil(n / blocks))
    return max(1, min(BLOCK_PATIENTS, n // max(1, workers * 8) or 1))


def _chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    """Patient index ranges ``(start, stop)`` of ``size``, made as they are asked for."""
    return ((i, min(n, i + size)) for i in range(0, n, size))


def run_chunk(settings: RunSettings, bounds: tuple[int, int]) -> ChunkResult:
    """Simulate patients ``bounds[0]`` to ``bounds[1] - 1`` (for remote workers such as Dask)."""
    return _simulate(settings, bounds, ModelConstants.from_parameters(settings.parameters))


def _chunk_results(
    settings: RunSettings, workers: int, dask: Any = None, size: int | None = None
) -> Iterator[ChunkResult]:
    n = settings.cohort.patients
    size = block_size(n, workers, size, settings.engine)
    bounds = _chunks(n, size)
    if dask is not None:
        yield from dask_map(run_chunk, settings, bounds, dask, workers)
        return
    if workers <= 1 or n < 2:
        _init_worker(settings)
        try:
            for b in bounds:
                yield _run_chunk(b)
        finally:
            _WORKER.clear()
        return
    chunks = math.ceil(n / size)
    with ProcessPoolExecutor(
        max_workers=min(workers, chunks),
        initializer=_init_pool_worker,
        initargs=(settings, os.getpid()),
    ) as pool:

        def submit(b: tuple[int, int]) -> Any:
            with stopping.deferred():  # a worker being started is one SIGTERM must see
                return pool.submit(_run_chunk, b)

        try:
            # In submission order: outputs are merged in patient order. Not pool.map(),
            # which submits every chunk at once and keeps each result until it is consumed.
            yield from in_order(submit, bounds, CHUNKS_PER_WORKER * workers)
        except BaseException:
            # An error or Ctrl-C: the chunks not yet started are dropped.
            pool.shutdown(wait=True, cancel_futures=True)
            raise


Progress = Callable[[int, int], None]


def default_workers() -> int:
    """Worker processes when none are asked for: the CPUs, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


#: Most worker processes per CPU ``--workers`` may ask for; more only add start-up time and
#: memory (each worker holds the model), since the work is CPU-bound.
MAX_WORKERS_PER_CPU = 4


def choose_workers(requested: int | None, option: str = "--workers") -> int:
    """The worker processes to use for ``--workers requested`` (``None``: the default).

    More than :data:`MAX_WORKERS_PER_CPU` per CPU are capped, with a note on stderr.

    Raises:
        CohortError: ``requested`` is below 1.
    """
    if requested is None:
        return default_workers()
    if requested < 1:
        raise CohortError(f"{option}: found {requested}, expected a whole number >= 1")
    cpus = os.cpu_count() or 1
    most = MAX_WORKERS_PER_CPU * cpus
    if requested > most:
        sys.stderr.write(
            f"carechart: {option} {requested}: using {most} ({MAX_WORKERS_PER_CPU} per CPU, "
            f"{cpus} CPUs); more processes would not run any faster\n"
        )
        return most
    return requested


def run_cohort(
    cohort: Cohort | None = None,
    *,
    parameters: ParameterSet | None = None,
    thresholds: Thresholds | None = None,
    patients: int | None = None,
    years: float | None = None,
    seed: int = DEFAULT_SEED,
    policy: str = "guideline",
    workers: int = 1,
    progress: Progress | None = None,
    keep_charts: bool = False,
    on_chunk: Callable[[ChunkResult], None] | None = None,
    keep_patients: bool = True,
    engine: str = "compiled",
    chart_class: Callable[..., Pathway[PatientRecord]] | None = None,
    dask: Any = None,
    block: int | None = None,
) -> CohortResult:
    """Simulate a cohort and return its tidy outputs.

    Args:
        cohort: the cohort (default: the packaged default cohort).
        parameters: model parameters (default: the packaged ones).
        thresholds: pathway thresholds (default: the guideline's).
        patients: overrides the cohort's number of patients.
        years: overrides the cohort's follow-up horizon (years).
        seed: the run's seed; the same seed gives the same outputs for any ``workers``.
        policy: a strategy name of :data:`simulation.model.policies.STRATEGIES`.
        workers: processes to use (1: run in this process).
        progress: called with ``(done, total)`` after each chunk of patients.
        keep_charts: keep each patient's chart and model in the result (memory heavy; on
            the vector engine the chart is the row's finished view,
            :class:`pathway.block.BlockChart`, not a chart that takes events).
        on_chunk: called with each chunk's result in patient order (e.g. to stream
            events to a file); the chunk's events are then not kept in the result.
        keep_patients: keep every patient's result (row, and events unless streamed) in
            the result; ``False`` keeps only the running totals behind its summary, so
            memory does not grow with the cohort (stream the rows with ``on_chunk``).
        engine: ``compiled`` (default) or ``reference`` (python-statemachine); both give
            the same outputs (tests/test_engines.py), the compiled one faster;
            ``lockstep`` (:data:`BLOCK_ENGINES`) steps each block's patients together.
        chart_class: a chart class to use instead of the engine's (e.g. instrumented for
            coverage); it must be importable by worker processes when ``workers > 1``.
        dask: ``"local"`` for a Dask LocalCluster with ``workers`` workers, the address of
            a Dask scheduler, or an open ``distributed.Client``; outputs are identical to a
            local run of the same seed.
        block: patients per block, the unit of work sent to a worker and handed to
            ``on_chunk`` (default: :func:`block_size`); outputs do not depend on it.

    Returns:
        The :class:`~simulation.results.outputs.CohortResult`.

    Raises:
        ValueError: bad arguments; SimulationError: a patient's course failed.
    """
    cohort = cohort or load_cohort()
    get_strategy(policy)  # fail early on an unknown name
    if patients is not None:
        if patients < 1:
            raise ValueError(f"'patients' must be >= 1 (got {patients!r})")
        cohort = _replace_raw(cohort, patients=patients)
    if years is not None:
        if not 0 < years <= 100:
            raise ValueError(f"'years' must be > 0 and <= 100 (got {years!r})")
        cohort = _replace_raw(cohort, years=years)
    if workers < 1:
        raise ValueError(f"'workers' must be >= 1 (got {workers!r})")
    if seed < 0:
        raise ValueError(f"'seed' must be >= 0 (got {seed!r})")
    if block is not None and block < 1:
        raise ValueError(f"'block' must be >= 1 (got {block!r})")
    if engine not in ENGINES and engine not in BLOCK_ENGINES:
        raise ValueError(f"'engine' must be one of {[*ENGINES, *BLOCK_ENGINES]} (got {engine!r})")
    if chart_class is not None and BLOCK_ENGINES.get(engine) == "block":
        raise ValueError(
            f"engine {engine!r} holds patients as columns; 'chart_class' needs a "
            "chart engine ('compiled' or 'reference')"
        )
    if not engine_runs(engine, policy):
        raise ValueError(
            f"engine {engine!r} runs the guideline policy and strategies that only set "
            f"options; policy {policy!r} prefers or avoids actions (use engine 'compiled')"
        )
    parameters = parameters or load_parameters()
    # Out-of-range parameters fail here, in one line, not in every worker's initializer.
    ModelConstants.from_parameters(parameters)
    settings = RunSettings(
        cohort=cohort,
        parameters=parameters,
        thresholds=thresholds or Thresholds(),
        seed=int(seed),
        policy=policy,
        horizon_days=cohort.horizon_days,
        keep_charts=keep_charts,
        engine=engine,
        chart_class=chart_class,
    )
    result = CohortResult(settings, keep=keep_patients)
    done = 0
    for chunk in _chunk_results(settings, workers, dask, block):
        if on_chunk is not None:
            on_chunk(chunk)
            chunk = chunk.without_events()
        result.add(chunk)
        done += len(chunk.patients)
        if progress is not None:
            progress(done, cohort.patients)
    return result


def check_run_options(patients: int | None, years: float | None, seed: int) -> None:
    """Check ``--patients``, ``--years`` and ``--seed`` (``None``: not given).

    Raises:
        CohortError: naming the option, the value found and the range expected.
    """
    if patients is not None and patients < 1:
        raise CohortError(f"--patients: found {patients}, expected a whole number >= 1")
    if years is not None and not 0 < years <= 100:
        raise CohortError(f"--years: found {years:g}, expected a number of years > 0 and <= 100")
    if seed < 0:
        raise CohortError(f"--seed: found {seed}, expected a whole number >= 0")


def _replace_raw(cohort: Cohort, **changes: Any) -> Cohort:
    raw = copy.deepcopy(cohort.raw)
    raw.update(changes)
    return parse_cohort(raw, cohort.origin)
