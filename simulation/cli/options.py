"""What every sub-command's parser shares: the usage error, the help format, the parser
class, and :func:`add_subcommand`, which registers a sub-command in one call."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from pathway.bundle import Guideline
from pathway.guidelines import DEFAULT, NAMES, get

__all__ = [
    "CommandParser",
    "DefaultsHelpFormatter",
    "UsageError",
    "add_guideline_option",
    "add_output_file_option",
    "add_subcommand",
    "guideline_of",
]


class UsageError(Exception):
    """Bad input from the user (file, option, value): reported in one line, exit 2."""


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help that ends each option's text with its default, unless the text states it.

    ``(default: X)`` for a value, ``(default: off)`` for a flag and ``(default: none)`` for
    a repeatable option, nothing for a required one (``(required)`` in its help, or
    ``required=True``); an option whose default is ``None`` must say in its own help what
    happens without it (``tests/test_help_defaults.py`` checks every sub-command).
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if not action.option_strings or "default" in text or action.help == argparse.SUPPRESS:
            return action.help
        if action.required or "(required)" in text:
            return action.help  # a required option has no default to show
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


class CommandParser(argparse.ArgumentParser):
    """The parser of ``carechart`` and its sub-commands: errors raise :class:`UsageError`."""

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


def add_subcommand(
    sub: Any, name: str, func: Callable[[argparse.Namespace], int], *, help: str, description: str
) -> argparse.ArgumentParser:
    """Register sub-command ``name`` on ``sub`` (from ``add_subparsers``); return its parser.

    ``func(args)`` runs the command and returns its exit status; ``help`` is the line in
    ``carechart --help``, ``description`` the paragraph of ``carechart NAME --help``.
    """
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help, description=description)
    parser.set_defaults(func=func)
    return parser


def add_output_file_option(parser: argparse.ArgumentParser, option: str, what: str) -> None:
    """An optional ``OPTION FILE`` that writes ``what`` there (nothing when absent)."""
    parser.add_argument(option, metavar="FILE", help=f"write {what} (default: not written)")


def add_guideline_option(parser: argparse.ArgumentParser) -> None:
    """``--guideline NAME``: the shipped guideline the command runs (see pathway.guidelines)."""
    parser.add_argument(
        "--guideline",
        choices=NAMES,
        default=DEFAULT,
        help="the guideline to run: aih (autoimmune hepatitis) or toy (a made-up guideline "
        "that tests the engine; no clinical content)",
    )


def guideline_of(args: argparse.Namespace) -> Guideline:
    """The guideline ``--guideline`` names (the default one when the command has no option)."""
    return get(getattr(args, "guideline", DEFAULT))
