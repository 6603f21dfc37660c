"""Model parameters (simulation.model.parameters): a unit, a tag and a provenance each."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pathway.guidelines.aih.sources import SOURCES, TAGS
from simulation.model.disease import ModelConstants
from simulation.model.parameters import ParameterError, ParameterSet, load_parameters
from simulation.run.cohort import load_cohort


def test_every_parameter_has_provenance() -> None:
    """Each parameter has a unit, a known tag, and sources + figure, or a MODEL rationale."""
    params = load_parameters()
    assert len(params) > 50
    for name in params:
        info = params.info(name)
        assert info.unit, name
        assert info.tag in TAGS, name
        for source in info.sources:
            assert source in SOURCES, f"{name}: {source}"
        if info.tag == "MODEL":
            assert info.rationale, name
        else:
            assert info.sources, name
            assert info.figure, name


def test_every_parameter_is_used_by_the_model() -> None:
    """The model reads every parameter of the file (no dead numbers)."""
    params = load_parameters()
    read: set[str] = set()

    class Recording(ParameterSet):
        def __getitem__(self, name: str) -> float:
            read.add(name)
            return super().__getitem__(name)

    ModelConstants.from_parameters(Recording({n: params.info(n) for n in params}))
    assert set(params) - read == set()


def test_default_cohort_cites_known_sources() -> None:
    """The default cohort's figures cite knowledge-base sources (validated on load): the
    population registries, not a trial's mean age (issue 12)."""
    cohort = load_cohort()
    sources = cohort.raw["sources"]
    cited = {s for entry in sources.values() for s in entry.get("sources", [])}
    assert {"S-GRON14", "S-GRON20"} <= cited <= set(SOURCES)
    assert "S-CAMARO" not in sources["age.mean"].get("sources", [])
    assert cohort.age.mean != 57.9  # CAMARO's trial mean
    for field in ("age.mean", "sex", "cirrhosis.compensated", "presentation.acute_severe"):
        assert field in sources


def _write(tmp_path: Path, entry: dict[str, object]) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"schema": 1, "parameters": {"x.y": entry}}))
    return path


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"value": 1, "unit": "d", "tag": "V", "figure": "f"}, r"x\.y\.sources: found \[\]"),
        ({"value": 1, "unit": "d", "tag": "V", "sources": ["S-NOPE"], "figure": "f"}, "S-NOPE"),
        ({"value": 1, "unit": "d", "tag": "MODEL"}, r"x\.y\.rationale"),
        ({"value": "a", "unit": "d", "tag": "MODEL", "rationale": "r"}, r"x\.y\.value"),
        ({"value": 1, "unit": "d", "tag": "guess", "rationale": "r"}, r"x\.y\.tag"),
        ({"value": 1, "tag": "MODEL", "rationale": "r"}, r"x\.y\.unit"),
    ],
)
def test_invalid_parameter_files_fail_in_one_line(
    tmp_path: Path, entry: dict[str, object], message: str
) -> None:
    """A parameter without provenance names the file, the field and what was found."""
    path = _write(tmp_path, entry)
    with pytest.raises(ParameterError, match=message) as info:
        load_parameters(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_override_lists_close_matches() -> None:
    """Overriding an unknown parameter suggests the nearest names."""
    with pytest.raises(ParameterError, match=r"did you mean 'relapse\.withdrawal_1y'"):
        load_parameters().with_overrides({"relapse.withdrawl_1y": 0.5})


def test_overrides_change_only_the_value() -> None:
    """An override keeps the provenance and records the overridden name."""
    params = load_parameters().with_overrides({"relapse.withdrawal_1y": 0.5})
    assert params["relapse.withdrawal_1y"] == 0.5
    assert params.info("relapse.withdrawal_1y").sources == ("S-VGERVEN13",)
    assert params.overridden == ("relapse.withdrawal_1y",)
