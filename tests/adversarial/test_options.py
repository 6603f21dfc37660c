"""Options: --dask, --workers, numbers in scientific notation, replay of broken links."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulation.cli.main import main
from simulation.run import scale
from simulation.run.cohort import MAX_WORKERS_PER_CPU

from .support import one_error_line, simulate


@pytest.fixture
def server() -> Iterator[tuple[socket.socket, list[bytes]]]:
    """A local TCP server that accepts and sends whatever ``replies[0]`` holds, then stays
    silent (not a Dask scheduler)."""
    listener = socket.create_server(("127.0.0.1", 0))
    replies: list[bytes] = [b""]
    clients: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            clients.append(conn)
            conn.sendall(replies[0])

    threading.Thread(target=serve, daemon=True).start()
    yield listener, replies
    listener.close()
    for conn in clients:
        conn.close()


def _address(listener: socket.socket) -> str:
    host, port = listener.getsockname()[:2]
    return f"tcp://{host}:{port}"


def _dask_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], address: str, seconds: float
) -> str:
    pytest.importorskip("distributed")
    started = time.monotonic()
    assert simulate(tmp_path / "o", "--dask", address) == 2
    assert time.monotonic() - started < seconds
    assert not (tmp_path / "o").exists()
    return one_error_line(capsys.readouterr().err)


def test_dask_closed_port_fails_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listening: one line naming --dask and the address, without the full timeout."""
    probe = socket.create_server(("127.0.0.1", 0))
    address = _address(probe)
    probe.close()
    line = _dask_error(tmp_path, capsys, address, seconds=10)
    assert f"--dask {address}: found no Dask scheduler there (Connection refused)" in line


def test_dask_garbage_is_one_line_not_a_huge_allocation(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    server: tuple[socket.socket, list[bytes]],
) -> None:
    """A server that answers with something else (here HTTP) ended in a 3 EiB allocation
    traceback; it is one line now."""
    listener, replies = server
    replies[0] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    line = _dask_error(tmp_path, capsys, _address(listener), seconds=20)
    assert f"--dask {_address(listener)}: found no Dask scheduler there" in line


def test_dask_silent_server_times_out(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    server: tuple[socket.socket, list[bytes]],
) -> None:
    """A server that accepts and never answers hung for minutes; now the connect timeout
    ends it with one line."""
    monkeypatch.setattr(scale, "CONNECT_TIMEOUT_SECONDS", 1)
    listener, _ = server
    line = _dask_error(tmp_path, capsys, _address(listener), seconds=15)
    assert "found no Dask scheduler there" in line


def test_workers_are_capped_with_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--workers 1000 no longer starts a process per chunk: it is capped, and says so."""
    most = MAX_WORKERS_PER_CPU * (os.cpu_count() or 1)
    assert main(["simulate", "--patients", "4", "--years", "1", "--workers", "1000",
                 "--out", str(tmp_path / "o")]) == 0  # fmt: skip
    captured = capsys.readouterr()
    assert f"carechart: --workers 1000: using {most} ({MAX_WORKERS_PER_CPU} per CPU" in (
        captured.err
    )
    assert f"{most} worker(s)" in captured.out


def test_scientific_notation_in_years_and_set(tmp_path: Path) -> None:
    """--years 1e-2 and --set NAME=5e-1 are numbers, not refused as text."""
    out = tmp_path / "o"
    assert simulate(out, "--years", "1e-2", "--set", "relapse.withdrawal_1y=5e-1") == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cohort"]["years"] == pytest.approx(0.01)
    assert summary["parameters"]["relapse.withdrawal_1y"] == 0.5


def test_scientific_notation_in_a_cohort_file(tmp_path: Path) -> None:
    """A cohort file may write ``years: 5e-1`` too (YAML 1.2 reads a number)."""
    from simulation.run.cohort import load_cohort

    default = (Path(__file__).resolve().parents[2] / "simulation" / "data").joinpath(
        "default_cohort.yaml"
    )
    text = default.read_text(encoding="utf-8")
    lines = [("years: 5e-1" if line.startswith("years:") else line) for line in text.splitlines()]
    path = tmp_path / "c.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert load_cohort(path).years == 0.5


def test_replay_reports_broken_links(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A dangling or looping .yaml link in a scenario folder was skipped in silence; it is
    an invalid file now, and the replay fails."""
    (tmp_path / "dangling.yaml").symlink_to(tmp_path / "gone.yaml")
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
    assert main(["replay", str(tmp_path)]) != 0
    out = capsys.readouterr().out
    assert f"{tmp_path / 'dangling.yaml'}: found a symbolic link to" in out
    assert f"{tmp_path / 'loop.yaml'}: found a loop of symbolic links" in out
