"""The installed carechart version, written into every output (summary.json, folder markers,
calibration results) and shown by ``carechart --version``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["software_version"]


def software_version() -> str:
    """The installed carechart version (``importlib.metadata``), or ``unknown``."""
    try:
        return version("carechart")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"
