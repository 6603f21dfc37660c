"""Issue 12: every figure of the disease model comes from the parameter file.

simulation/model/disease.py may hold no numeric literal but the mathematical ones (0, 1, 2,
one half), list indices, rounding digits and a few named module constants (calendar, the
years in the parameter names, numerical guards, the number of random draws, event order).
A new number belongs in simulation/data/parameters.yaml with its source and tag, or
[MODEL] with a rationale.
"""

from __future__ import annotations

import ast
from pathlib import Path

import simulation.model.disease as disease

SOURCE = Path(disease.__file__)
#: Values allowed anywhere: formulas' 0, 1 and 2 (ln 2, halves, CDF) and one half.
ALLOWED_VALUES = frozenset({0, 1, 2, 0.5})
#: Module-level constants allowed to hold other numbers (each is not a model figure).
ALLOWED_MODULE_CONSTANTS = frozenset(
    {
        "MONTH_DAYS",  # 12 months a year
        "_WITHDRAWAL_YEARS",  # time points named in relapse.withdrawal_{1,2,3}y
        "_RECURRENCE_YEARS",  # ... in transplant.recurrence_{5,10}y
        "_LT_SURVIVAL_YEARS",  # ... in transplant.survival_{5,10}y
        "_PER_1000",  # a rate per 1,000 patient-years
        "_EPS",
        "_LOG_FLOOR",
        "_P_CLAMP",
        "_U_MAX",
        "_MIN_HALFLIFE_DAYS",
        "_BASELINE_NORMALS",
        "_BASELINE_UNIFORMS",
        "_COURSE_NORMALS",
        "_OWN_STREAMS",
        "_PANEL_DRAWS",
        "_NOISE_BLOCK",
        "_DECIMALS",  # powers of ten of the rounding digits
        "_FIRST",
        "_FINDING",
        "_EMERGENCY",
        "_DEATH",
    }
)


def _exempt(tree: ast.Module) -> set[int]:
    """Nodes whose literals are not model figures: indices, rounding digits, docstrings and
    the allowed module constants."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            out.update(id(n) for n in ast.walk(node.slice))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "round":
            out.update(id(n) for arg in node.args[1:] for n in ast.walk(arg))
    for stmt in tree.body:
        targets: list[ast.expr] = []
        if isinstance(stmt, ast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, ast.AnnAssign):
            targets = [stmt.target]
        names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        if names and names <= ALLOWED_MODULE_CONSTANTS:
            out.update(id(n) for n in ast.walk(stmt))
    return out


def literals(source: str) -> list[tuple[int, float]]:
    """(line, value) of every numeric literal in ``source`` that is not allowed."""
    tree = ast.parse(source)
    exempt = _exempt(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and type(node.value) in (int, float)
        and id(node) not in exempt
        and node.value not in ALLOWED_VALUES
    ]


def test_the_disease_model_holds_no_inline_figures() -> None:
    found = literals(SOURCE.read_text())
    assert found == [], f"numbers in {SOURCE.name} (move them to parameters.yaml): {found}"


def test_the_check_finds_an_inline_figure() -> None:
    """The check is not vacuous: a clip bound, a path time or a module constant outside the
    allowed list is found; an index, a rounding digit and a formula's 2 are not."""
    code = (
        "x = _clip(v, 0.35, 0.95)\n"
        "t = t_n * 1.05\n"
        "_SECRET = 42\n"
        "y = z[7] + round(w, 2) + math.log(2.0)\n"
    )
    assert sorted(value for _, value in literals(code)) == [0.35, 0.95, 1.05, 42]
