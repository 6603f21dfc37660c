"""Synthetic cohort output folders that follow shared/spec/cohort-and-outputs.md exactly.

The report and calibration code read what ``carechart simulate`` writes. These folders let
their tests run without the stochastic patient model: a short, plausible story per patient
(triage, induction, month-6 assessment, maintenance, withdrawal and relapse, second line,
acute severe presentations, transplant, death), written with the contract's columns and
transition rows whose source and target ids are the chart's state ids.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PATIENT_HEADER = [
    "patient_id",
    "age",
    "sex",
    "weight_kg",
    "cirrhosis_at_diagnosis",
    "presentation",
    "tpmt",
    "first_line",
    "first_cbr_day",
    "second_line_day",
    "withdrawal_day",
    "relapse_day",
    "transplant_day",
    "death_day",
    "death_cause",
    "followup_days",
]
EVENT_HEADER = ["patient_id", "day", "kind", "name", "detail", "source", "target", "rule_ids"]


@dataclass
class _Course:
    pid: str
    horizon: float
    rows: list[list[str]] = field(default_factory=list)
    days: dict[str, float] = field(default_factory=dict)
    death_cause: str = ""
    dead: bool = False

    def add(
        self,
        day: float,
        kind: str,
        name: str,
        src: str = "",
        tgt: str = "",
        rules: str = "",
        detail: str = "",
    ) -> None:
        self.rows.append([self.pid, f"{day:g}", kind, name, detail, src, tgt, rules])

    def move(self, day: float, event: str, src: str, tgt: str, rules: str) -> None:
        self.add(day, "transition", event, src, tgt, rules)

    def die(self, day: float, cause: str, src: str) -> None:
        self.add(day, "finding", "death")
        self.move(day, "death", "alive", "death", "AIH-GEN-03")
        self.days["death_day"] = day
        self.death_cause = cause
        self.dead = True
        del src


def _story(
    c: _Course, rng: np.random.Generator, presentation: str, cirrhosis: str, first_line: str
) -> None:
    h = c.horizon
    c.add(0, "finding", "labs", detail="alt_xuln=8.0;igg_xuln=1.6")
    state = "diagnosis"
    if presentation == "acute_liver_failure":
        c.move(0, "encephalopathy", "diagnosis", "acute_liver_failure", "AIH-TRI-02")
        c.add(0, "action", "refer_transplant", rules="AIH-ALF-01")
        c.move(0, "refer_transplant", "acute_liver_failure", "transplant", "AIH-ALF-01;INV-14")
        state = "transplant"
    elif presentation == "acute_severe":
        c.add(0, "action", "start_prednisolone", rules="AIH-TRI-01")
        c.move(0, "start_prednisolone", "diagnosis", "acute_severe", "AIH-TRI-01")
        if rng.random() < 0.2:
            c.add(7, "action", "refer_transplant", rules="AIH-ASA-01")
            c.move(7, "refer_transplant", "acute_severe", "transplant", "AIH-ASA-01;INV-13")
            state = "transplant"
        else:
            c.move(7, "acute_review", "acute_severe", "induction", "AIH-ASA-01;INV-13")
            state = "induction"
    else:
        drug = "start_budesonide" if first_line.startswith("budesonide") else "start_prednisolone"
        c.add(0, "action", drug, rules="AIH-IND-01")
        c.move(0, drug, "diagnosis", "induction", "AIH-IND-01;AIH-DOSE-PRED")
        c.move(0, drug, "no_steroid", "steroid_induction", "AIH-DOSE-PRED")
        state = "induction"
    if state == "transplant":
        day = float(rng.uniform(5, 60))
        if rng.random() < 0.25 or day > h:
            c.die(min(day, h), "liver", "transplant")
            return
        c.add(day, "finding", "transplanted")
        c.move(day, "transplanted", "transplant", "post_transplant", "AIH-LT-04")
        c.days["transplant_day"] = day
        rec = day + float(rng.exponential(4000))
        if rec < h:
            c.move(rec, "labs", "graft_stable", "recurrent_aih", "AIH-PLT-01;INV-19")
        return
    c.add(14, "action", "add_azathioprine", rules="AIH-IND-03")
    c.move(14, "add_azathioprine", "steroid_lead_in", "combination", "AIH-IND-03")
    c.move(28, "week4_check", "induction", "response_assessment", "AIH-RSP-01;INV-18")
    p_cbr = {"budesonide+azathioprine": 0.55, "prednisolone+mycophenolate": 0.7}.get(
        first_line, 0.6
    )
    if cirrhosis == "decompensated" and rng.random() < 0.3:
        c.die(float(rng.uniform(30, 180)), "liver", "response_assessment")
        return
    if rng.random() < p_cbr:
        c.move(182, "month6_assessment", "response_assessment", "maintenance", "AIH-RSP-02")
        c.days["first_cbr_day"] = 182
        state = "maintenance"
    else:
        c.add(182, "action", "switch_to_mycophenolate", rules="AIH-2L-01")
        c.move(182, "switch_to_mycophenolate", "first_line", "second_line", "AIH-2L-01")
        c.days["second_line_day"] = 182
        if rng.random() < 0.55:
            c.move(365, "second_line_assessment", "second_line", "maintenance", "AIH-2L-03")
            c.days["first_cbr_day"] = 365
            state = "maintenance"
        else:
            c.add(365, "action", "start_third_line", rules="AIH-3L-01")
            c.move(365, "start_third_line", "second_line", "third_line", "AIH-3L-01")
            state = "third_line"
    if state == "maintenance" and cirrhosis == "none" and rng.random() < 0.5:
        wd = float(rng.uniform(900, 1400))
        if wd < h:
            c.add(wd, "action", "attempt_withdrawal", rules="AIH-WDR-01")
            c.move(wd, "attempt_withdrawal", "maintenance", "withdrawal", "AIH-WDR-01;INV-10")
            c.days["withdrawal_day"] = wd
            state = "withdrawal"
            off = wd + 120
            rel = wd + float(rng.exponential(500))
            if off < min(rel, h):
                c.move(off, "withdrawal_complete", "withdrawal", "off_treatment", "AIH-WDR-01")
                state = "off_treatment"
            if rel < h:
                c.move(rel, "labs", state, "relapse", "AIH-WDR-03")
                c.days["relapse_day"] = rel
                c.move(rel + 90, "relapse_assessment", "relapse", "maintenance", "AIH-REL-02")
                state = "maintenance"
    base_hazard = {"none": 1 / 9000, "compensated": 1 / 3500, "decompensated": 1 / 1500}
    death = float(rng.exponential(1 / base_hazard[cirrhosis])) + 200
    if cirrhosis != "none" and rng.random() < 0.15:
        tx = float(rng.uniform(400, 3000))
        if tx < min(death, h):
            c.add(tx, "action", "refer_transplant", rules="AIH-LT-01")
            c.move(tx, "refer_transplant", state, "transplant", "AIH-LT-01")
            c.add(tx + 90, "finding", "transplanted")
            c.move(tx + 90, "transplanted", "transplant", "post_transplant", "AIH-LT-04")
            c.days["transplant_day"] = tx + 90
            state = "post_transplant"
    if death < h:
        c.die(death, "liver" if cirrhosis != "none" else "other", state)


def write_synthetic_outputs(out_dir: Path, n: int = 80, seed: int = 7, years: float = 10) -> Path:
    """Write patients.csv, events.csv and summary.json for ``n`` synthetic patients.

    Args:
        out_dir: Folder to write into (created if needed).
        n: Number of patients.
        seed: Seed of the generator (same seed, same files).
        years: Follow-up horizon in years.

    Returns:
        ``out_dir``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    horizon = round(years * 365.25, 2)
    patient_rows: list[list[str]] = []
    event_rows: list[list[str]] = []
    for i in range(n):
        pid = f"P{i + 1:05d}"
        age = float(np.clip(rng.normal(45, 16), 18, 85))
        sex = "F" if rng.random() < 0.75 else "M"
        weight = float(np.clip(rng.normal(72, 14), 40, 150))
        cirrhosis = str(rng.choice(["none", "compensated", "decompensated"], p=[0.72, 0.23, 0.05]))
        presentation = str(
            rng.choice(["chronic", "acute_severe", "acute_liver_failure"], p=[0.88, 0.10, 0.02])
        )
        tpmt = str(rng.choice(["normal", "intermediate", "deficient"], p=[0.89, 0.10, 0.01]))
        first_line = "prednisolone+azathioprine"
        if cirrhosis == "none" and presentation == "chronic" and rng.random() < 0.3:
            first_line = "budesonide+azathioprine"
        elif rng.random() < 0.25:
            first_line = "prednisolone+mycophenolate"
        if presentation == "acute_liver_failure":
            first_line = ""
        c = _Course(pid, horizon)
        _story(c, rng, presentation, cirrhosis, first_line)
        followup = c.days.get("death_day", horizon)
        d = c.days
        patient_rows.append(
            [
                pid,
                f"{age:.1f}",
                sex,
                f"{weight:.1f}",
                cirrhosis,
                presentation,
                tpmt,
                first_line,
                *(
                    "" if d.get(k) is None else f"{d[k]:g}"
                    for k in (
                        "first_cbr_day",
                        "second_line_day",
                        "withdrawal_day",
                        "relapse_day",
                        "transplant_day",
                        "death_day",
                    )
                ),
                c.death_cause,
                f"{followup:g}",
            ]
        )
        c.rows.sort(key=lambda r: float(r[1]))  # stable: same-day rows keep their order
        event_rows.extend(c.rows)
    with (out_dir / "patients.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(PATIENT_HEADER)
        w.writerows(patient_rows)
    with (out_dir / "events.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(EVENT_HEADER)
        w.writerows(event_rows)
    summary = {
        "software": {"name": "carechart", "version": "0.1.0"},
        "parameters": {"seed": seed, "patients": n, "years": years, "policy": "guideline"},
        "counts": {"patients": n, "events": len(event_rows)},
        "invariant_violations": 0,
        "outcomes": {"synthetic": True},
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return out_dir
