"""How every ``qkan`` subcommand ends on an error: one line on stderr, ``PROG: error: MESSAGE``, and exit status 2
for a bad option or combination or 1 for a failure while running; ``--debug`` adds the full traceback."""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import Callable

from .training.trainer import first_line

USAGE_ERRORS = (ValueError, TypeError)  # the checks of options and their combinations raise these
DEBUG_HELP = "on an error, print the full traceback as well as the one-line message"


def add_debug_flag(parser: argparse.ArgumentParser, subcommand: bool = False) -> None:
    """Add ``--debug``. A subcommand's flag has no default of its own, so ``qkan --debug CMD`` and
    ``qkan CMD --debug`` both reach the handler."""
    default = argparse.SUPPRESS if subcommand else False
    parser.add_argument("--debug", action="store_true", default=default, help=DEBUG_HELP)


def exit_status(err: Exception) -> int:
    """2 for a usage error (bad option values or combinations), 1 for a failure while running."""
    return 2 if isinstance(err, USAGE_ERRORS) else 1


def error_line(prog: str, err: Exception, debug: bool = False) -> str:
    """The one-line message: the exception's first line, with its type named where it is not a plain
    value/type/runtime/OS error, and for a failure a pointer to --debug (unless it is on)."""
    message = first_line(err)
    if not isinstance(err, (*USAGE_ERRORS, RuntimeError, OSError)) and message != type(err).__name__:
        message = f"{type(err).__name__}: {message}"
    hint = "" if debug or exit_status(err) == 2 else " (--debug shows the traceback)"
    return f"{prog}: error: {message}{hint}"


def run_guarded(prog: str, handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """``handler(args)``, with any exception it raises turned into its one-line message on stderr and its
    exit status; ``args.debug`` prints the traceback first."""
    try:
        return handler(args)
    except Exception as err:
        debug = getattr(args, "debug", False)
        if debug:
            traceback.print_exc()
        print(error_line(prog, err, debug), file=sys.stderr)
        return exit_status(err)
