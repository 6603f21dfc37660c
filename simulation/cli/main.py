"""The ``carechart`` command.

Each sub-command lives in the module of its concept and registers itself through an
``add_command(subparsers)`` function; this module only builds the parser and turns errors
into one clear line and a non-zero exit status (2 for bad input), never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

from pathway import PathwayError

from ..run import stopping
from ..run.cohort import SimulationError
from ..version import software_version

__all__ = ["DefaultsHelpFormatter", "UsageError", "main"]

#: Modules that provide sub-commands, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "simulation.cli.demo",
    "simulation.cli.diagram",
    "simulation.scenarios.replay",
    "simulation.cli.calibrate",
    "simulation.cli.simulate",
    "simulation.run.sweep",
    "simulation.verify.coverage",
    "simulation.verify.check",
    "simulation.verify.generate",
    "simulation.train.command",
)


class UsageError(Exception):
    """Bad input from the user (file, option, value): reported in one line, exit 2."""


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help that ends each option's text with its default, unless the text states it.

    ``(default: X)`` for a value, ``(default: off)`` for a flag and ``(default: none)`` for
    a repeatable option; an option whose default is ``None`` must say in its own help what
    happens without it (``tests/test_help_defaults.py`` checks every sub-command).
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if not action.option_strings or "default" in text or action.help == argparse.SUPPRESS:
            return action.help
        default = action.default
        if default is None or default is argparse.SUPPRESS:
            return action.help
        if isinstance(action, argparse._StoreConstAction) or action.nargs == 0:
            shown = "off" if not default else "on"
        elif isinstance(default, list | tuple) and not default:
            shown = "none"
        else:
            shown = "%(default)s"
        return f"{text} (default: {shown})" if text else f"default: {shown}"


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse, then refuse an empty file or folder name (``--out "$UNSET"``), which the
        commands would otherwise take as "not given" and silently write nothing."""
        ns, extras = super().parse_known_args(args, namespace)
        for action in self._actions:
            if not isinstance(action.metavar, str) or not (
                "FILE" in action.metavar or "DIR" in action.metavar
            ):
                continue
            value = getattr(ns, action.dest, None)
            if value == "" or (isinstance(value, list) and "" in value):
                name = "/".join(action.option_strings) or action.metavar
                self.error(f"{name}: found an empty name, expected a file or folder name")
        return ns, extras


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered sub-command."""
    parser = _Parser(
        prog="carechart",
        description=(
            "Simulate patients through the autoimmune hepatitis pathway, a statechart. "
            "For research and education; not for treating patients."
        ),
    )
    parser.add_argument("--version", action="version", version=f"carechart {software_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_command(sub)
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
    # Run the imported module's main, so command modules and this one share UsageError.
    from simulation.cli.main import main as _main

    sys.exit(_main())
