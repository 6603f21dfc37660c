"""Patient models of the guidelines other than AIH, by the name a bundle gives in
``Guideline.patient_model`` (AIH's disease model runs through :mod:`simulation.run.cohort`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from ..run.engine import PatientModel
from .draws import PatientStream
from .toy import ToyPatient

__all__ = ["PATIENT_MODELS", "ModelFactory"]

#: ``(patient id, generator) -> (record at diagnosis, patient model)``.
ModelFactory = Callable[[str, PatientStream], tuple[Any, PatientModel]]


def _toy(patient_id: str, rng: PatientStream) -> tuple[Any, PatientModel]:
    model = ToyPatient(patient_id, rng)
    return model.record, model


PATIENT_MODELS: Final[dict[str, ModelFactory]] = {"toy": _toy}
