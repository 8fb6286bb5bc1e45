"""The ``coregulate`` command. Each sub-command lives in ``server/commands/<name>.py`` with
``add_parser(subparsers)``; heavy imports happen inside the command, so ``--help`` is instant.

Errors in the input are reported as one line on stderr with a sysexits-style exit code
(65 bad data, 66 missing input, 69 device unavailable, 73 cannot write output, 74 I/O error;
2 for a malformed command line; 130 when interrupted) -- never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..sensors.errors import CoregulateError

COMMANDS = ("demo", "serve", "replay", "record", "analyze", "batch", "export", "devices")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coregulate",
        description="Real-time in-session signal monitor for psychotherapy research. "
                    "A research tool, not a diagnostic device.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as exc:  # a command whose module is not installed
            if exc.name and exc.name.endswith(f"commands.{name}"):
                continue
            raise
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except CoregulateError as exc:
        print(f"coregulate {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"coregulate {args.command}: interrupted; what was recorded so far is kept", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
