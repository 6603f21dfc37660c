"""Declared findings: the file is validated, matches mark findings, unused ones go stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulation.verify.findings import (
    Declaration,
    DeclarationError,
    Finding,
    apply_declarations,
    load_declarations,
)


def test_shipped_declarations_load() -> None:
    """The shipped file is valid and every entry names a reason and a known rule."""
    declarations = load_declarations()
    assert declarations
    assert all(d.reason and d.rule_id for d in declarations)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "declared.yaml"
    path.write_text(text)
    return path


def test_unknown_rule_id_is_refused(tmp_path: Path) -> None:
    """A declaration must cite a catalogued rule."""
    path = _write(
        tmp_path,
        "declared:\n  - {code: trap-state, subject: x, reason: because, rule_id: AIH-NOPE-01}\n",
    )
    with pytest.raises(DeclarationError, match="unknown rule id 'AIH-NOPE-01'"):
        load_declarations(path)


def test_unknown_code_and_missing_reason_are_refused(tmp_path: Path) -> None:
    """Codes come from the list of finding codes; a reason must be given."""
    path = _write(
        tmp_path, "declared:\n  - {code: oops, subject: x, reason: r, rule_id: AIH-GEN-01}\n"
    )
    with pytest.raises(DeclarationError, match="unknown finding code 'oops'"):
        load_declarations(path)
    path = _write(tmp_path, "declared:\n  - {code: gap, subject: x, rule_id: AIH-GEN-01}\n")
    with pytest.raises(DeclarationError, match="missing \\['reason'\\]"):
        load_declarations(path)


def test_declared_findings_are_marked_and_unused_ones_are_stale(tmp_path: Path) -> None:
    """A matching declaration carries its reason; one matching nothing becomes a finding."""
    path = _write(
        tmp_path,
        "declared:\n"
        "  - {code: trap-state, subject: observation, reason: by design, rule_id: AIH-TRI-04}\n"
        "  - {code: dead-end, subject: nowhere, reason: old, rule_id: AIH-GEN-01}\n",
    )
    findings = [Finding("trap-state", "observation", "left by actions only")]
    out = apply_declarations(findings, load_declarations(path))
    assert out[0].declared == "by design (AIH-TRI-04)"
    assert [(f.code, f.subject) for f in out[1:]] == [("stale-declaration", "dead-end@nowhere")]


def test_search_declarations_are_not_stale_when_unmet(tmp_path: Path) -> None:
    """A search cannot prove an absence: unmet declarations of search codes are only noted."""
    path = _write(
        tmp_path,
        "declared:\n  - {code: overlap, subject: a@b, reason: order, rule_id: AIH-TAP-01}\n",
    )
    unmet: list[Declaration] = []
    out = apply_declarations([], load_declarations(path), stale_codes={"dead-end"}, unmet=unmet)
    assert out == []
    assert [d.subject for d in unmet] == ["a@b"]
