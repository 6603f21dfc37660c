"""Calibration: does the simulated cohort reproduce published figures?

Each target (``simulation/data/calibration_targets.yaml``) is a sub-cohort, a clinician
policy, a follow-up horizon and a measured quantity, compared with a figure from the
clinical knowledge base (section 4) and its 95% interval. Targets are data: a target runs
through the same cohort engine as ``carechart simulate`` (:func:`simulation.run.cohort.run_cohort`
writing the standard output files), and its quantity is measured on those files with the
same readers the report uses. Targets sharing cohort, policy and horizon share one run; every
run uses the same seed, so the arms of a trial are simulated on the same virtual patients.

``carechart calibrate`` prints the table, ``--out FILE`` saves the result as JSON (the
report shows it), and ``--markdown FILE`` writes the page ``docs/calibration.md``.
"""

from ..intervals import wilson_interval
from .measures import MEASURES, Measure, measure
from .render import render_markdown, render_text
from .result import CalibrationResult, TargetResult, load_result, save_result
from .runner import DEFAULT_PATIENTS, DEFAULT_SEED, override_strings, run_calibration
from .targets import DEFAULT_TARGETS, CalibrationError, Published, Target, load_targets

__all__ = [
    "DEFAULT_PATIENTS",
    "DEFAULT_SEED",
    "DEFAULT_TARGETS",
    "MEASURES",
    "CalibrationError",
    "CalibrationResult",
    "Measure",
    "Published",
    "Target",
    "TargetResult",
    "load_result",
    "load_targets",
    "measure",
    "override_strings",
    "render_markdown",
    "render_text",
    "run_calibration",
    "save_result",
    "wilson_interval",
]
