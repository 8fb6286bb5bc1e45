"""The ``coregulate`` command. Each sub-command lives in ``server/cli/commands/<name>.py`` with
``add_parser(subparsers)``; heavy imports happen inside the command, so ``--help`` is instant.

Errors in the input are reported as one line on stderr with a sysexits-style exit code
(65 bad data, 66 missing input, 69 device unavailable, 73 cannot write output, 74 I/O error;
130 when interrupted) -- never a traceback. A malformed command line (bad SPEC syntax, an
option out of range, options that exclude each other) exits 2 with argparse's usage line and
``coregulate COMMAND: error: ...``: option values are checked by ``cli/argtypes.py``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

from ...sensors.errors import CoregulateError, UsageError
from ..session import signals
from . import terminal_log

COMMANDS = ("demo", "serve", "replay", "record", "analyze", "batch", "export", "devices")


def build_parser() -> argparse.ArgumentParser:
    """The ``coregulate`` argument parser with every command's subparser."""
    from ._help import FORMATS_AND_EXAMPLES
    from ..version import coregulate_version

    parser = argparse.ArgumentParser(
        prog="coregulate", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=FORMATS_AND_EXAMPLES,
        description="Real-time in-session signal monitor for psychotherapy research.\n"
                    "A research tool, not a diagnostic device.")
    parser.add_argument("--version", action="version", version=f"coregulate {coregulate_version()}")
    parser.add_argument("--verbose", action="store_true",
                        help="show every library's log messages and tracebacks (for bug reports)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as exc:  # a command whose module is not installed
            if exc.name and exc.name.endswith(f"commands.{name}"):
                continue
            raise
        mod.add_parser(sub)
    parser.command_parsers = sub.choices  # name -> sub-command parser, for its usage line on a usage error
    for command_parser in sub.choices.values():  # `coregulate serve --verbose` works too
        command_parser.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                                    help="show every library's log messages and tracebacks")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``coregulate`` with ``argv`` (default: the process's arguments).

    Returns
    -------
    int
        The sysexits exit code: errors become one line on stderr and their code (usage 2, data 65,
        missing input 66, ...), an interrupt 130.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    terminal_log.configure(verbose=args.verbose)
    with signals.handlers_installed():
        return _run(parser, args)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """One command, its errors and stop signals turned into one line and an exit code."""
    try:
        return int(args.run(args) or 0)
    except UsageError as exc:  # as argparse reports its own: usage line, "coregulate X: error: ...", exit 2
        parser.command_parsers[args.command].error(str(exc))
    except CoregulateError as exc:
        # one line, even when a library's message quoted inside it spans several
        print(f"coregulate {args.command}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        signals.stopped_by_signal = True  # also when Python's own handler raised it
        print(f"coregulate {args.command}: interrupted; what was recorded so far is kept", file=sys.stderr)
        return signals.EX_INTERRUPTED
    except signals.Terminated:
        print(f"coregulate {args.command}: stopped (SIGTERM); what was recorded so far is kept", file=sys.stderr)
        return 0
    except BrokenPipeError:
        return 0


def entry_point() -> None:
    """The ``coregulate`` console script: :func:`main`, then exit with its code.

    After a stop signal the session files are closed and committed; the interpreter's own
    teardown (garbage-collecting pandas, scipy, liblsl...) would still take 1-2 s on a busy
    machine, so the process ends at once instead, as the user who pressed Ctrl-C expects.
    """
    signals.install_handlers()  # for the whole process: before and after a command, no traceback either
    try:
        code = main()
    except (KeyboardInterrupt, signals.Terminated):  # while parsing the command line, or once it returned
        signals.stopped_by_signal = True
        code = signals.exit_code_for(signals.first_signal if signals.first_signal is not None else signal.SIGINT)
    if signals.stopped_by_signal:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry_point()
