"""The chart drawn as SVG without Graphviz: valid, complete, laid out, deterministic."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pathway import AIHPathway
from pathway.diagram_svg import to_svg
from pathway.structure import ChartModel
from simulation.cli.main import main
from simulation.verify import coverage_html
from simulation.verify.coverage import collect_scenarios

from .helpers import REPO

NS = {"svg": "http://www.w3.org/2000/svg"}
MODEL = ChartModel.of(AIHPathway)


@pytest.fixture(scope="module")
def svg() -> ET.Element:
    return ET.fromstring(to_svg())  # parses: well-formed XML


def _rects(root: ET.Element) -> dict[str, tuple[float, float, float, float]]:
    out = {}
    for g in root.iterfind(".//svg:g[@class='state']", NS):
        rect = g.find("svg:rect", NS)
        assert rect is not None
        sid = g.attrib["id"].removeprefix("state-")
        out[sid] = tuple(float(rect.attrib[k]) for k in ("x", "y", "width", "height"))
    return out  # type: ignore[return-value]


def test_every_state_and_transition_is_drawn(svg: ET.Element) -> None:
    """One box per state; one arrow per pair of states with a transition, whose tooltip
    names each of its events."""
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert set(_rects(svg)) == set(MODEL.states)
    arrows = {
        (g.attrib["data-source"], g.attrib["data-target"]): g.findtext("svg:title", "", NS)
        for g in svg.iterfind(".//svg:g[@class='transition']", NS)
    }
    pairs = {(t.source, t.target) for t in MODEL.transitions if t.target is not None}
    assert set(arrows) == pairs
    for t in MODEL.transitions:
        if t.target is not None:
            assert t.event in arrows[(t.source, t.target)]
    width, height = float(svg.attrib["width"]), float(svg.attrib["height"])
    for x, y, w, h in _rects(svg).values():
        assert min(x, y) >= 0
        assert x + w <= width
        assert y + h <= height


def test_boxes_nest_and_siblings_do_not_overlap(svg: ET.Element) -> None:
    """Each state lies inside its parent's box; boxes of siblings never overlap."""
    rects = _rects(svg)
    for sid, info in MODEL.states.items():
        x, y, w, h = rects[sid]
        if info.parent is not None:
            px, py, pw, ph = rects[info.parent]
            inside = px <= x and x + w <= px + pw and py <= y and y + h <= py + ph
            assert inside, sid
        siblings = MODEL.states[info.parent].children if info.parent else MODEL.top
        for other in siblings:
            if other == sid:
                continue
            ox, oy, ow, oh = rects[other]
            apart = x + w <= ox or ox + ow <= x or y + h <= oy or oy + oh <= y
            assert apart, (sid, other)


def test_the_drawing_is_deterministic() -> None:
    assert to_svg() == to_svg()


def test_diagram_command_writes_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", "--format", "svg"]) == 0
    assert capsys.readouterr().out == to_svg()
    out = tmp_path / "chart.svg"
    assert main(["diagram", "--format", "svg", "--out", str(out)]) == 0
    assert out.read_text() == to_svg()


def test_coverage_page_draws_the_chart_without_graphviz(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``dot`` the coverage page still shows the chart, coloured by coverage."""
    monkeypatch.setattr(coverage_html.shutil, "which", lambda name: None)
    report = collect_scenarios(
        [str(REPO / "scenarios" / "combination-therapy-to-maintenance.yaml")]
    )
    page = coverage_html.render_html(report)
    start, end = page.index("<svg"), page.index("</svg>") + len("</svg>")
    root = ET.fromstring(page[start:end])
    colours = {
        g.attrib["id"].removeprefix("state-"): g.find("svg:rect", NS).attrib["stroke"]  # type: ignore[union-attr]
        for g in root.iterfind(".//svg:g[@class='state']", NS)
    }
    assert colours["maintenance"] == "#2e7d32"  # the course went there: green
    assert colours["transplant"] == "#c62828"  # it never did: red
    labels = [t.text or "" for t in root.iterfind(".//svg:g[@class='labels']/svg:text", NS)]
    assert "week4_check (1)" in labels
    assert "not installed" not in page
