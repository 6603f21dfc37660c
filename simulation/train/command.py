"""``carechart train`` (the web trainer) and ``carechart train-report`` (the class report)."""

from __future__ import annotations

import json
import socket
import threading
import webbrowser
from pathlib import Path
from typing import Any

from pathway.atomic import write_atomic

from ..cli.options import UsageError, add_output_file_option, add_subcommand
from .cases import load_library
from .debrief import class_report, load_debriefs, render_class_report
from .sessions import SessionError

__all__ = ["add_command"]

_EXTRA = "carechart train needs the 'train' extra: pip install 'carechart[train]'"


def add_command(sub: Any) -> None:
    """Register ``carechart train`` and ``carechart train-report``."""
    p = add_subcommand(
        sub,
        "train",
        _train,
        help="the trainer: manage a virtual patient in the browser, with feedback and debrief",
        description="Serve the trainer on this computer and open it in the browser. A "
        "trainee picks a case (the built-in library, --cases folders, scenario files) and a "
        "difficulty, manages the virtual patient visit by visit, gets each decision classed "
        "against the pathway and ends with a debrief. Sessions and debriefs are saved under "
        "--sessions and resume after a restart. Needs the 'train' extra.",
    )
    p.add_argument(
        "--cases", action="append", default=[], metavar="DIR", help="a folder of case files"
    )
    p.add_argument(
        "--scenarios",
        action="append",
        default=None,
        metavar="DIR",
        help="a folder of scenario files offered as cases (default: ./scenarios when present)",
    )
    p.add_argument(
        "--sessions",
        default="carechart-train",
        metavar="DIR",
        help="where sessions and debriefs are saved (default: carechart-train)",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this computer only)",
    )
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free one)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")

    r = add_subcommand(
        sub,
        "train-report",
        _report,
        help="class report over many trainer debriefs: which rules are broken most",
        description="Read debrief JSON files (or folders of them, e.g. carechart-train/"
        "debriefs) and report which rules are broken most, by how many trainees, and the "
        "mean adherence per case.",
    )
    r.add_argument("paths", nargs="+", metavar="DEBRIEF", help="debrief files or folders")
    add_output_file_option(r, "--html", "the report as a self-contained page")
    add_output_file_option(r, "--json", "the report as JSON")


def build_app(args: Any) -> Any:
    """The app for parsed ``carechart train`` options (cases loaded and checked)."""
    try:
        # Optional: the 'train' extra (fastapi, jinja2); the rest of carechart runs without it.
        from .app import create_app
    except ImportError as exc:  # fastapi, jinja2 or uvicorn missing
        raise UsageError(f"{_EXTRA} ({exc})") from None

    scenarios = args.scenarios
    if scenarios is None:
        scenarios = ["scenarios"] if Path("scenarios").is_dir() else []
    cases = load_library(args.cases, scenarios)
    return create_app(cases, args.sessions)


def _train(args: Any) -> int:
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port: found {args.port}, expected 0 to 65535")
    app = build_app(args)
    try:
        import uvicorn  # optional: the 'train' extra
    except ImportError as exc:
        raise UsageError(f"{_EXTRA} ({exc})") from None
    Path(args.sessions).mkdir(parents=True, exist_ok=True)  # fails here, not at a request
    # Find out now (one clear line) rather than from uvicorn's log that the port is taken.
    with socket.socket() as s:
        try:
            s.bind((args.host, args.port))
        except OSError as exc:
            raise UsageError(
                f"--host {args.host} --port {args.port}: cannot listen there ({exc.strerror}); "
                "pass another --port, or --port 0 for any free one"
            ) from None
        port = s.getsockname()[1]
    url = f"http://{args.host}:{port}/"
    print(f"carechart trainer on {url} (Ctrl-C stops it); sessions in {args.sessions}/")
    if not args.no_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=args.host, port=port, log_level="warning")
    return 0


def _report(args: Any) -> int:
    try:
        report = class_report(load_debriefs(args.paths))
    except SessionError as exc:
        raise UsageError(str(exc)) from None
    print(f"{report['debriefs']} debriefs, {report['trainees']} trainees")
    print("rules broken most (times, trainees):")
    for row in report["rules"][:15]:
        print(f"  {row['rule_id']:<14} {row['times']:>4} {row['trainees']:>4}  {row['summary']}")
    if not report["rules"]:
        print("  none")
    for row in report["cases"]:
        print(f"case {row['case']}: {row['sessions']} sessions, mean adherence "
              f"{row['mean_adherence_pct']:g}%")  # fmt: skip
    if args.json:
        write_atomic(Path(args.json), json.dumps(report, indent=1, sort_keys=True))
    if args.html:
        try:  # the page needs jinja2, of the optional 'train' extra
            html = render_class_report(report)
        except ImportError as exc:
            raise UsageError(f"{_EXTRA} ({exc})") from None
        write_atomic(Path(args.html), html)
    return 0
