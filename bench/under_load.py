"""Run a command while busy loops occupy CPU cores: the suite must pass on a busy machine.

    python bench/under_load.py [--cores 1] -- python -m pytest ...

The burners are child processes that spin in pure Python (one core each) and die with this
script, whatever the command's outcome; the exit code is the command's. ``make test-under-load``
runs ``make test``'s pytest this way.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

BURN = "import os, sys\nwhile os.getppid() == int(sys.argv[1]):\n    for _ in range(1_000_000): pass\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=1, help="cores to keep busy (default 1)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    # the burner checks its parent every ~30 ms: orphaned (this script killed), it exits
    burners = [subprocess.Popen([sys.executable, "-c", BURN, str(os.getpid())]) for _ in range(args.cores)]
    print(f"under_load: {args.cores} busy core(s) (pids {', '.join(str(b.pid) for b in burners)}) "
          f"while running: {' '.join(command)}", flush=True)
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 130
    finally:
        for b in burners:
            b.send_signal(signal.SIGTERM)
        for b in burners:
            b.wait()


if __name__ == "__main__":
    sys.exit(main())
