"""Count switches to second and third line by reason on a default cohort (issue 12).

Usage (from the repository root)::

    .venv/bin/python benchmarks/loss_of_response.py                  # default cohort, seed 2026
    .venv/bin/python benchmarks/loss_of_response.py --patients 2000 --set labs.igg_noise_ratio=1

A normal ``run_cohort`` with the default cohort and the guideline policy; the reason of a
switch is read from the rule ids the action names (as events.csv records them):

- ``loss_of_response``: a loss of response on maintenance that persisted after optimisation
  (AIH-MNT-05);
- ``failure_after_optimisation``: a non-response or insufficient response that persisted
  after optimisation (AIH-RSP-05);
- ``failure``: a failed response outside first line and maintenance (AIH-RSP-03 alone);
- ``intolerance``: none of these (intolerance or cytopenia).

Optimisations (``optimise_treatment``) are counted by the same rule ids. The figures also
give the summary's second line within a year and third line ever. Deterministic for a
seed; not part of the test suite.
"""

from __future__ import annotations

import argparse
import csv
import io
from collections import Counter

from cohort_args import add_cohort_arguments, run_default_cohort

from simulation.results.outputs import EVENT_COLUMNS, ChunkResult

_SWITCHES = ("switch_to_mycophenolate", "switch_to_tacrolimus")


def switch_reason(rule_ids: str) -> str:
    """The reason of a switch to second line from the rule ids of its event.

    >>> switch_reason("AIH-2L-02;AIH-RSP-03;AIH-MNT-05;AIH-DOSE-TAC")
    'loss_of_response'
    >>> switch_reason("AIH-2L-01;AIH-DOSE-MMF")
    'intolerance'
    """
    rules = set(rule_ids.split(";"))
    if "AIH-MNT-05" in rules:
        return "loss_of_response"
    if "AIH-RSP-05" in rules:
        return "failure_after_optimisation"
    if "AIH-RSP-03" in rules:
        return "failure"
    return "intolerance"


def count_actions(events_csv: str) -> Counter[str]:
    """Counts of ``switch:<reason>``, ``optimise:<rule>`` and ``third_line`` in events lines."""
    counts: Counter[str] = Counter()
    name_at, rules_at = EVENT_COLUMNS.index("name"), EVENT_COLUMNS.index("rule_ids")
    for row in csv.reader(io.StringIO(events_csv)):
        if len(row) != len(EVENT_COLUMNS) or row[EVENT_COLUMNS.index("kind")] != "action":
            continue
        name, rules = row[name_at], row[rules_at]
        if name in _SWITCHES:
            counts[f"switch:{switch_reason(rules)}"] += 1
        elif name == "optimise_treatment":
            why = "AIH-MNT-05" if "AIH-MNT-05" in rules.split(";") else "AIH-RSP-05"
            counts[f"optimise:{why}"] += 1
        elif name == "start_third_line":
            counts["third_line"] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    """Run the cohort and print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_cohort_arguments(parser, patients=None, years=None, seed=2026)
    args = parser.parse_args(argv)
    counts: Counter[str] = Counter()

    def count(chunk: ChunkResult) -> None:
        counts.update(count_actions(chunk.events_csv))

    cohort, result = run_default_cohort(args, count)
    outcomes = result.summary([])["outcomes"]
    n = args.patients or cohort.patients
    print(f"patients {n}, seed {args.seed}, overrides {args.set or 'none'}")
    for key in sorted(counts):
        print(f"{key:40s} {counts[key]:6d}")
    print(f"{'second line within 1 year':40s} {outcomes['second_line_within_1y']:.1%}")
    print(f"{'third line ever':40s} {outcomes['third_line_ever']:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
