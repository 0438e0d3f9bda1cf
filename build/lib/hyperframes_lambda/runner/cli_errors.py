"""The command line's exit-code contract, shared by every subcommand group.

    0    success
    1    the render (or stage) failed: one line ``error [CODE]: message`` on stderr
    2    usage error: bad flags, bad ``--variables``/``--config`` JSON, an unusable ``-o``
    130  interrupted by SIGINT (Ctrl-C)
    143  terminated by SIGTERM (``timeout``, systemd, ``docker stop``)

SIGTERM is turned into :class:`~.interrupts.Terminated`, a :class:`KeyboardInterrupt`, so
the cleanup that Ctrl-C runs (browsers killed, their profiles and the work directory
removed) runs for it too (:mod:`.interrupts`). A group of subcommands added later
(``lambda``) reuses :func:`run_guarded`.
"""

from __future__ import annotations

import argparse
import difflib
import re
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn, TextIO

from ..errors import InternalError, RenderError
from .interrupts import Terminated

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SIGINT = 128 + signal.SIGINT  # 130, as shells report a death by the signal
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143

EXIT_CODES_HELP = """\
exit status:
  0    success
  1    failed: one line "error [CODE]: message" on stderr (CODE as in errors.py;
       INTERNAL_ERROR is a bug: rerun with --debug for the traceback)
  2    usage error (bad flags, bad JSON, an -o that cannot be written)
  130  interrupted (SIGINT, Ctrl-C)
  143  terminated (SIGTERM); browsers and temporary files are cleaned up first"""

INTERNAL_CODE = InternalError.code


class UsageError(Exception):
    """A problem with the command line itself; reported like argparse's errors, exit 2."""


def one_line(text: str) -> str:
    """Messages may carry hints on further lines (even bulleted lists); the contract is
    one line on stderr: lines joined with "; " (a space after ":" or "."), bullets dropped."""
    out = ""
    for raw in text.splitlines():
        line = " ".join(raw.split()).removeprefix("- ").removeprefix("* ")
        if not line:
            continue
        if out:
            out += " " if out.endswith((":", ".", ";", ",")) else "; "
        out += line
    return out


def format_error(exc: BaseException) -> str:
    """``error [CODE]: message`` for a deliberate error, ``error [INTERNAL_ERROR]: …`` otherwise."""
    if isinstance(exc, RenderError):
        return f"error [{exc.code}]: {one_line(str(exc)) or type(exc).__name__}"
    detail = one_line(str(exc))
    message = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return f"error [{INTERNAL_CODE}]: {message} (a bug; rerun with --debug for the traceback)"


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, Terminated):
        return EXIT_SIGTERM
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_SIGINT
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    return EXIT_FAILED


def run_guarded(
    command: Callable[[], int],
    *,
    usage_error: Callable[[str], None],
    debug: bool = False,
    stderr: TextIO | None = None,
) -> int:
    """Run one subcommand under the contract: every outcome becomes one of the exit codes.

    ``usage_error`` is the subcommand parser's ``error`` (prints usage, exits 2).
    """
    err = stderr or sys.stderr
    try:
        return command()
    except UsageError as exc:
        usage_error(str(exc))
        return EXIT_USAGE  # not reached: argparse exits
    except KeyboardInterrupt as exc:
        print("terminated" if isinstance(exc, Terminated) else "interrupted", file=err)
        return exit_code_for(exc)
    except Exception as exc:  # noqa: BLE001 - the last line of defence of the contract
        if debug:
            traceback.print_exc(file=err)
        print(format_error(exc), file=err)
        return EXIT_FAILED


class CliParser(argparse.ArgumentParser):
    """argparse with usage errors on one line: the message, a "did you mean" for a near-miss
    flag or subcommand, and where the subcommand's help is — not argparse's usage block
    (which, for an unknown flag, was the top-level parser's, not the subcommand's)."""

    def error(self, message: str) -> NoReturn:
        self._fail(self._reworded(message))

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: None = None
    ) -> argparse.Namespace:
        """argparse's, but an unknown flag is reported by the subcommand it was given to."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            chosen_parser(self, parsed).unrecognized(extras)
        return parsed

    def unrecognized(self, extras: list[str]) -> NoReturn:
        """Arguments no parser took, reported by the subcommand parser they were given to."""
        flags = [arg.split("=", 1)[0] for arg in extras if arg.startswith("-")]
        if not flags:
            self._fail(f"unexpected argument {' '.join(extras)}")
        parts = []
        for flag in flags:
            match = difflib.get_close_matches(flag, self._option_strings(), n=1)
            parts.append(f"{flag} (did you mean {match[0]}?)" if match else flag)
        self._fail(f"unknown option {', '.join(parts)}")

    def _fail(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message}; see '{self.prog} --help'\n")

    def _option_strings(self) -> list[str]:
        return [s for action in self._actions for s in action.option_strings if s.startswith("--")]

    def _subcommands(self) -> tuple[str | None, list[str]]:
        """The subcommand argument's ``dest`` and its names (none: no subcommands)."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action.dest, list(action.choices)
        return None, []

    def _reworded(self, message: str) -> str:
        """argparse's messages in the user's terms: a near-miss subcommand gets "did you
        mean", a missing subcommand lists them (not the internal ``dest`` name)."""
        dest, commands = self._subcommands()
        found = re.match(rf"argument {dest}: invalid choice: '([^']*)'", message)
        if found is not None:
            match = difflib.get_close_matches(found.group(1), commands, n=1)
            hint = f"did you mean '{match[0]}'?" if match else f"one of {', '.join(commands)}"
            return f"unknown command '{found.group(1)}' ({hint})"
        if message.startswith("the following arguments are required:") and commands:
            wanted = message.split(":", 1)[1].strip().split(", ")
            if dest in wanted:
                return f"a command is required: {', '.join(commands)}"
        return message


def chosen_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> CliParser:
    """The innermost subcommand parser the command line chose (``lambda render``'s, say)."""
    current = parser
    while True:
        sub = next((a for a in current._actions if isinstance(a, argparse._SubParsersAction)), None)
        name = getattr(args, sub.dest, None) if sub is not None else None
        if sub is None or name is None:
            break
        current = sub.choices[name]
    assert isinstance(current, CliParser)
    return current


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` for counts: ``--chunks 0`` is a usage error, not a hang."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum} (got {value})")
        return value

    parse.__name__ = "int"
    return parse
