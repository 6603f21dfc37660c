"""Benchmark: peak resident memory of ``carechart simulate`` as the cohort grows.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_memory.py    # 2,000 / 10,000 / 50,000 x 10 years
    .venv/bin/python benchmarks/bench_memory.py --patients 2000 20000 --years 5
    .venv/bin/python benchmarks/bench_memory.py --extra=--format=parquet
    .venv/bin/python benchmarks/bench_memory.py --extra=--dask=local --patients 2000

Each size is one whole ``carechart simulate`` (outputs, summary and report.html written to a
temporary folder) in a fresh process. The resident set size (RSS) of that process and of
every process it starts (pool workers, a Dask LocalCluster's nanny and workers) is sampled
from ``/proc`` every 0.1 s. The table gives the wall time; the main process's CPU time
(writing the outputs and the report: the simulation runs in the workers); the peak RSS of
the main process, of the largest other process and of their sum (shared pages count once
per process); and the size of the events file. Sampling can miss a peak shorter than
0.1 s; the main process's own peak (``VmHWM``, exact) is read at its last sample. Linux
only; not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from simulation.version import software_version

MIB = 1024 * 1024
#: Sampling interval (s).
INTERVAL = 0.1


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in bytes (empty once it has gone)."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` so far (``None`` once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _descendants(root: int) -> list[int]:
    """Every live process below ``root`` (children, grandchildren...)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class Peak:
    """Peaks of one run, in bytes, and its wall time in seconds."""

    main: int = 0
    main_hwm: int = 0
    other: int = 0
    total: int = 0
    processes: int = 0
    wall: float = 0.0
    main_cpu: float = 0.0


def measure(command: list[str]) -> tuple[Peak, subprocess.CompletedProcess[bytes]]:
    """Run ``command``, sampling the RSS of it and its descendants until it ends."""
    peak = Peak()
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen: set[int] = set()
    while proc.poll() is None:
        main = _status(proc.pid)
        peak.main = max(peak.main, main.get("VmRSS", 0))
        peak.main_hwm = max(peak.main_hwm, main.get("VmHWM", 0))
        total = main.get("VmRSS", 0)
        for pid in _descendants(proc.pid):
            rss = _status(pid).get("VmRSS", 0)
            seen.add(pid)
            peak.other = max(peak.other, rss)
            total += rss
        peak.total = max(peak.total, total)
        cpu = _cpu_seconds(proc.pid)
        peak.main_cpu = peak.main_cpu if cpu is None else cpu
        time.sleep(INTERVAL)
    stdout, stderr = proc.communicate()
    peak.wall = time.perf_counter() - started
    peak.processes = len(seen)
    return peak, subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def main(argv: list[str] | None = None) -> int:
    """Run ``carechart simulate`` at each size and print the peaks side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[2_000, 10_000, 50_000])
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--carechart",
        default=str(Path(sys.executable).with_name("carechart")),
        help="the carechart command to measure (default: the one beside this Python)",
    )
    parser.add_argument(
        "--extra",
        action="append",
        default=[],
        help="one more argument for carechart simulate (repeatable), e.g. --extra=--compress",
    )
    args = parser.parse_args(argv)
    print(
        f"carechart {software_version()} on Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU(s), {args.workers} worker(s), compiled engine"
    )
    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    header = (
        "| Patients x years | Wall | Main CPU | Main peak (HWM) | Largest other process "
        "| All processes | events file(s) |"
    )
    rows = [header, "|---|---|---|---|---|---|---|"]
    for n in args.patients:
        with tempfile.TemporaryDirectory(prefix="carechart-mem-") as tmp:
            out = Path(tmp) / "out"
            command = [
                args.carechart,
                "simulate",
                "--patients",
                str(n),
                "--years",
                f"{args.years:g}",
                "--workers",
                str(args.workers),
                "--seed",
                str(args.seed),
                "--out",
                str(out),
                *args.extra,
            ]
            peak, done = measure(command)
            if done.returncode not in (0, 1):  # 1: invariant violations, still measured
                sys.stderr.write(done.stderr.decode(errors="replace"))
                return done.returncode
            size = sum(p.stat().st_size for p in out.glob("events.*"))
        rows.append(
            f"| {n:,} x {args.years:g} | {peak.wall:.1f} s | {peak.main_cpu:.1f} s "
            f"| {peak.main / MIB:.0f} MiB "
            f"({peak.main_hwm / MIB:.0f}) | {peak.other / MIB:.0f} MiB "
            f"| {peak.total / MIB:.0f} MiB ({peak.processes} processes) "
            f"| {size / 1e6:.0f} MB |"
        )
        print(rows[-1], flush=True)
    print()
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
