"""The ``carechart`` command.

Each sub-command lives in a module of this package (``train`` in its own) and registers
itself through an ``add_command(subparsers)`` function; this module only builds the parser
and turns errors into one clear line and a non-zero exit status (2 for bad input), never a
traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Sequence
from types import ModuleType

from pathway import PathwayError

from ..run import stopping
from ..run.cohort import SimulationError
from ..train import command as train_command
from ..version import software_version
from . import calibrate, check, coverage, demo, diagram, generate, replay, simulate, sweep
from .options import CommandParser, UsageError

__all__ = ["build_parser", "main"]

#: Modules that provide sub-commands, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[ModuleType, ...] = (
    demo,
    diagram,
    replay,
    calibrate,
    simulate,
    sweep,
    coverage,
    check,
    generate,
    train_command,
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered sub-command."""
    parser = CommandParser(
        prog="carechart",
        description=(
            "Simulate patients through the autoimmune hepatitis pathway, a statechart. "
            "For research and education; not for treating patients."
        ),
    )
    parser.add_argument("--version", action="version", version=f"carechart {software_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    for module in COMMAND_MODULES:
        module.add_command(sub)
    return parser


def _os_error_message(exc: OSError) -> str:
    """``FILE: No such file or directory`` rather than ``[Errno 2] ...: 'FILE'``."""
    if exc.filename is None or exc.strerror is None:
        return str(exc)
    target = f" -> {exc.filename2}" if exc.filename2 is not None else ""
    return f"{exc.filename}{target}: {exc.strerror}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    # Signal handlers belong to the main thread (main() may also run in another one).
    catch = threading.current_thread() is threading.main_thread()
    previous = stopping.install() if catch else None
    try:
        args = parser.parse_args(argv)
        if getattr(args, "func", None) is None:
            parser.print_help()
            return 2
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a reader that went away shows here, not at the interpreter's exit
        return status
    except UsageError as exc:
        print(f"carechart: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader of the output went away (`carechart ... | head`): stop quietly, as Unix
        # tools do. Stdout now points at /dev/null, so the final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE: what a shell reports for a tool the pipe stopped
    except OSError as exc:
        print(f"carechart: error: {_os_error_message(exc)}", file=sys.stderr)
        return 2
    except (PathwayError, ValueError) as exc:
        print(f"carechart: error: {exc}", file=sys.stderr)
        return 2
    except SimulationError as exc:
        # A bug in the model, not bad input: one line naming the patient and seed, so the
        # course can be replayed, and exit 1 (2 means the input was wrong).
        print(f"carechart: internal error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print("carechart: interrupted", file=sys.stderr)
        return 130
    finally:
        if catch:
            stopping.restore(previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
