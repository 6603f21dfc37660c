"""A calibration run's result: each target's measured value, saved and read back as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pathway.atomic import write_atomic

from ...input_files import InputFileError, parse_json, read_input_file
from .measures import MEASURES, Measure
from .targets import GROUP_TITLES, GROUPS, CalibrationError, Published, Target

__all__ = ["CalibrationResult", "TargetResult", "load_result", "save_result", "simulated_text"]


@dataclass(frozen=True, slots=True)
class TargetResult:
    """A target with its simulated value (``None``: no eligible patient) and verdict."""

    target: Target
    simulated: float | None
    n: int

    @property
    def passed(self) -> bool | None:
        """Inside the published interval; ``None`` when nothing could be measured."""
        if self.simulated is None:
            return None
        pub = self.target.published
        return pub.low <= self.simulated <= pub.high


@dataclass(frozen=True)
class CalibrationResult:
    """All targets' results and how they were produced."""

    results: tuple[TargetResult, ...]
    patients: int
    seed: int
    command: str
    generated: str
    version: str
    runs: int = 0
    seconds: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def counts(self, group: str | None = None) -> tuple[int, int]:
        """(targets inside their interval, targets with a measured value), in ``group``."""
        judged = [
            r
            for r in self.results
            if r.passed is not None and (group is None or r.target.group == group)
        ]
        return sum(1 for r in judged if r.passed), len(judged)

    def summary_lines(self) -> list[str]:
        """One line per group of targets: how many fall inside their interval."""
        out = []
        for group in GROUPS:
            passed, judged = self.counts(group)
            if judged:
                out.append(f"{GROUP_TITLES[group]}: {passed} of {judged} inside the interval.")
        return out

    def facts(self) -> dict[str, str]:
        """How the result was produced, for display."""
        return {
            "Command": self.command,
            "Patients per run": str(self.patients),
            "Seed": str(self.seed),
            "Generated": self.generated,
            "carechart": self.version,
        }

    def notes(self) -> list[str]:
        """One line per target with caveats (definitions, assumptions, denominators)."""
        out = []
        for r in self.results:
            parts = [x.rstrip(".") + "." for x in (r.target.note, r.target.published.n_note) if x]
            if parts:
                out.append(f"{r.target.id}: {' '.join(parts)}")
        return out

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-ready mapping (the ``--out`` file)."""
        return {
            "schema": 1,
            "kind": "carechart-calibration",
            "command": self.command,
            "generated": self.generated,
            "version": self.version,
            "patients": self.patients,
            "seed": self.seed,
            "runs": self.runs,
            "seconds": round(self.seconds, 1),
            "targets": [
                {
                    **_target_json(r.target),
                    "simulated": r.simulated,
                    "n": r.n,
                    "passed": r.passed,
                }
                for r in self.results
            ],
        }


def _target_json(t: Target) -> dict[str, Any]:
    pub = t.published
    return {
        "id": t.id,
        "source": t.source,
        "study": t.study,
        "quantity": t.quantity,
        "arm": t.arm,
        "population": t.population,
        "set": dict(t.overrides),
        "policy": t.policy if isinstance(t.policy, str) else dict(t.policy),
        "years": t.years,
        "measure": {"kind": t.measure.kind, **t.measure.params},
        "published": {
            "value": pub.value,
            "low": pub.low,
            "high": pub.high,
            "derived": pub.derived,
            "n": pub.n,
            "n_note": pub.n_note,
            "interval": pub.interval_text(),
        },
        "note": t.note,
        "group": t.group,
    }


def _target_from_json(d: Mapping[str, Any]) -> Target:
    pub = d["published"]
    measure_raw = dict(d["measure"])
    kind = str(measure_raw.pop("kind"))
    if kind not in MEASURES:
        raise ValueError(f"unknown measure kind {kind!r}")
    return Target(
        id=str(d["id"]),
        source=str(d["source"]),
        study=str(d["study"]),
        quantity=str(d["quantity"]),
        arm=str(d["arm"]),
        population=str(d["population"]),
        overrides=dict(d["set"]),
        policy=d["policy"] if isinstance(d["policy"], str) else dict(d["policy"]),
        years=float(d["years"]),
        measure=Measure(kind, measure_raw),
        published=Published(
            value=float(pub["value"]),
            low=float(pub["low"]),
            high=float(pub["high"]),
            derived=bool(pub["derived"]),
            n=None if pub["n"] is None else int(pub["n"]),
            n_note=str(pub.get("n_note", "")),
        ),
        note=str(d.get("note", "")),
        group=str(d.get("group", "input")),
    )


def simulated_text(r: TargetResult) -> str:
    """The simulated figure for display: ``66.6% (n=412)``, or why there is none."""
    if r.simulated is None:
        return f"no eligible patients (n={r.n})"
    return f"{100 * r.simulated:.1f}% (n={r.n})"


# --- results: files, text, Markdown -------------------------------------------------------


def save_result(result: CalibrationResult, path: Path) -> Path:
    """Write the result as JSON, atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result.to_json(), indent=2) + "\n"
    write_atomic(path, text)
    return path


def load_result(path: Path) -> CalibrationResult:
    """Read a result written by :func:`save_result` (``carechart calibrate --out``).

    Raises:
        FileNotFoundError: If the file does not exist.
        CalibrationError: If it is not a calibration result.
    """
    path = Path(path)
    try:  # a missing file raises FileNotFoundError naming it
        data = parse_json(read_input_file(path), str(path))
    except InputFileError as exc:
        raise CalibrationError(str(exc)) from None
    if not isinstance(data, dict) or data.get("kind") != "carechart-calibration":
        raise CalibrationError(f"{path}: not a carechart calibration result")
    try:
        results = tuple(
            TargetResult(
                _target_from_json(row),
                None if row["simulated"] is None else float(row["simulated"]),
                int(row["n"]),
            )
            for row in data["targets"]
        )
        return CalibrationResult(
            results=results,
            patients=int(data["patients"]),
            seed=int(data["seed"]),
            command=str(data["command"]),
            generated=str(data["generated"]),
            version=str(data["version"]),
            runs=int(data.get("runs", 0)),
            seconds=float(data.get("seconds", 0.0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CalibrationError(f"{path}: malformed calibration result ({exc!r})") from exc
