"""Benchmark: the goals of issue 14 (the vector engine) in one run, side by side.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_vector_goals.py                       # the goals' sizes
    .venv/bin/python benchmarks/bench_vector_goals.py --patients 10000 --budget 600

Each run is a whole ``carechart simulate`` (or ``carechart sweep``) in a fresh process on
``--workers`` workers, timed on the wall clock with the peak resident memory of all its
processes (sampled as in bench_memory.py):

1. scale: ``--patients`` x 10 years on the compiled and on the vector engine, events.csv
   and patients.csv compared byte for byte; goal: vector under 30 s at 100,000 patients;
2. per-patient cost: compiled over vector in that same run; goal: at least 25x;
3. large: ``--large`` patients x 10 years on the vector engine; goals: under 5 minutes and
   under 1 GiB of peak memory at 1,000,000 patients;
4. sweep: ``--draws`` parameter draws x ``--draw-patients`` patients on the vector engine;
   goal: under 5 minutes for 200 x 10,000;
5. Dask: ``--dask-patients`` on the vector engine over a LocalCluster, outputs compared
   with the same run without Dask.

A run whose time, estimated from the vector engine's own rate in goal 1, would exceed
``--budget`` seconds is not started: the table says so and gives the estimate, marked as
an extrapolation, and the goal counts as not met. A goal measured at other sizes than its
own is reported as measured, never as met. Wall-clock figures on this machine; not part of
the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_memory import MIB, measure  # noqa: E402

from simulation.version import software_version  # noqa: E402

#: The goals of issue 14: (patients, years) and seconds; memory in bytes; the speed ratio.
SCALE_GOAL = (100_000, 30.0)
LARGE_GOAL = (1_000_000, 300.0)
SWEEP_GOAL = (200, 10_000, 300.0)
MEMORY_GOAL = 1024 * MIB
RATIO_GOAL = 25.0
YEARS = 10.0
#: The parameter a sweep varies: any one serves; the cost does not depend on which.
SWEEP_VARY = "relapse.withdrawal_1y=0.4:0.7"


@dataclass
class Run:
    """One measured command: wall time (s), peak memory of all processes (bytes), output
    digests (file name -> sha256), or why it did not run."""

    wall: float = 0.0
    memory: int = 0
    digests: dict[str, str] | None = None
    skipped: str = ""


def _digests(out: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.glob("*.csv"))
        if p.name in ("events.csv", "patients.csv")
    }


def _run(carechart: str, verb: str, args: list[str]) -> Run:
    """Run ``carechart verb args`` with a fresh output path; its figures."""
    with tempfile.TemporaryDirectory(prefix="carechart-goals-") as tmp:
        out = Path(tmp) / "out"
        target = ["--out", str(out if verb == "simulate" else out.with_suffix(".json"))]
        peak, done = measure([carechart, verb, *args, *target])
        if done.returncode not in (0, 1):  # 1: invariant violations, still measured
            sys.stderr.write(done.stderr.decode(errors="replace"))
            raise SystemExit(f"carechart {verb} {' '.join(args)} failed ({done.returncode})")
        return Run(peak.wall, peak.total, _digests(out) if verb == "simulate" else None)


def _simulate(
    carechart: str, engine: str, patients: int, workers: int, seed: int, *extra: str
) -> Run:
    return _run(
        carechart,
        "simulate",
        [
            "--engine",
            engine,
            "--patients",
            str(patients),
            "--years",
            f"{YEARS:g}",
            "--workers",
            str(workers),
            "--seed",
            str(seed),
            *extra,
        ],
    )


def _verdict(met: bool, at_goal_size: bool) -> str:
    if not at_goal_size:
        return "measured below the goal's size"
    return "met" if met else "NOT met"


def main(argv: list[str] | None = None) -> int:
    """Run the goals and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=SCALE_GOAL[0])
    parser.add_argument("--large", type=int, default=LARGE_GOAL[0])
    parser.add_argument("--draws", type=int, default=SWEEP_GOAL[0])
    parser.add_argument("--draw-patients", type=int, default=SWEEP_GOAL[1])
    parser.add_argument("--dask-patients", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--budget",
        type=float,
        default=1800.0,
        help="seconds: a run estimated to take longer is not started (default: %(default)s)",
    )
    parser.add_argument(
        "--carechart",
        default=str(Path(sys.executable).with_name("carechart")),
        help="the carechart command to measure (default: the one beside this Python)",
    )
    args = parser.parse_args(argv)
    cc, w, seed = args.carechart, args.workers, args.seed
    print(
        f"carechart {software_version()} on Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU(s), {w} worker(s), load average {os.getloadavg()[0]:.1f}"
    )
    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    rows = ["| Goal | Run | Measured | Goal | Verdict |", "|---|---|---|---|---|"]

    def row(goal: str, run: str, measured: str, target: str, verdict: str) -> None:
        rows.append(f"| {goal} | {run} | {measured} | {target} | {verdict} |")
        print(rows[-1], flush=True)

    n = args.patients
    compiled = _simulate(cc, "compiled", n, w, seed)
    vector = _simulate(cc, "vector", n, w, seed)
    same = compiled.digests == vector.digests
    at_size = n >= SCALE_GOAL[0]
    row(
        "1 scale",
        f"{n:,} x {YEARS:g} y, vector",
        f"{vector.wall:.1f} s (compiled {compiled.wall:.1f} s); outputs "
        + ("identical" if same else "DIFFER"),
        f"< {SCALE_GOAL[1]:g} s at {SCALE_GOAL[0]:,}",
        _verdict(vector.wall < SCALE_GOAL[1] and same, at_size),
    )
    ratio = compiled.wall / vector.wall
    row(
        "2 per patient",
        "the same run",
        f"compiled / vector = {ratio:.2f}x",
        f">= {RATIO_GOAL:g}x",
        "met" if ratio >= RATIO_GOAL else "NOT met",
    )
    rate = vector.wall / n  # seconds per patient-course on w workers

    m = args.large
    estimate = rate * m
    if estimate > args.budget:
        large = Run(skipped=f"not run: about {estimate:,.0f} s extrapolated from goal 1")
    else:
        large = _simulate(cc, "vector", m, w, seed)
    at_size = m >= LARGE_GOAL[0]
    if large.skipped:
        row(
            "3 large",
            f"{m:,} x {YEARS:g} y, vector",
            large.skipped,
            f"< {LARGE_GOAL[1]:g} s and < {MEMORY_GOAL // MIB:,} MiB",
            "NOT met",
        )
    else:
        row(
            "3 large",
            f"{m:,} x {YEARS:g} y, vector",
            f"{large.wall:.1f} s",
            f"< {LARGE_GOAL[1]:g} s at {LARGE_GOAL[0]:,}",
            _verdict(large.wall < LARGE_GOAL[1], at_size),
        )
        row(
            "3 memory",
            "the same run, all processes",
            f"{large.memory / MIB:,.0f} MiB",
            f"< {MEMORY_GOAL // MIB:,} MiB at {LARGE_GOAL[0]:,}",
            _verdict(large.memory < MEMORY_GOAL, at_size),
        )

    d, dn = args.draws, args.draw_patients
    estimate = rate * d * dn
    if estimate > args.budget:
        row(
            "4 sweep",
            f"{d} draws x {dn:,}, vector",
            f"not run: about {estimate:,.0f} s extrapolated from goal 1",
            f"< {SWEEP_GOAL[2]:g} s",
            "NOT met",
        )
    else:
        sweep = _run(
            cc,
            "sweep",
            [
                "--engine",
                "vector",
                "--vary",
                SWEEP_VARY,
                "--draws",
                str(d),
                "--patients",
                str(dn),
                "--years",
                f"{YEARS:g}",
                "--workers",
                str(w),
                "--seed",
                str(seed),
            ],
        )
        at_size = d >= SWEEP_GOAL[0] and dn >= SWEEP_GOAL[1]
        row(
            "4 sweep",
            f"{d} draws x {dn:,}, vector",
            f"{sweep.wall:.1f} s",
            f"< {SWEEP_GOAL[2]:g} s at {SWEEP_GOAL[0]} x {SWEEP_GOAL[1]:,}",
            _verdict(sweep.wall < SWEEP_GOAL[2], at_size),
        )

    k = args.dask_patients
    plain = _simulate(cc, "vector", k, w, seed)
    dask = _simulate(cc, "vector", k, w, seed, "--dask", "local")
    row(
        "5 Dask",
        f"{k:,} x {YEARS:g} y, vector on a LocalCluster",
        f"{dask.wall:.1f} s (without Dask {plain.wall:.1f} s); outputs "
        + ("identical" if dask.digests == plain.digests else "DIFFER"),
        "identical outputs",
        "met" if dask.digests == plain.digests else "NOT met",
    )
    print()
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
