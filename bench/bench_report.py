"""Cost of ``summary.csv`` and ``report.html`` next to the analysis that precedes them.

Baseline, in the same process: ``analyze --no-report`` of a simulated dyadic session (the time
a user waits anyway; it includes one summary, measured again on its own here). Measured: computing the summary (per-person
figures, dyad figures, warnings) and writing summary.csv, and writing report.html (plots
included); both as wall time and as a share of the analysis.

    .venv/bin/python bench/bench_report.py [--minutes 120] [--no-audio]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from coregulate.server.offline.analysis import analyze_session
from coregulate.server.session.store import SessionStore
from coregulate.server.offline.report import write_report
from coregulate.server.offline.summary import summarize_store, write_summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=120.0)
    ap.add_argument("--no-audio", action="store_true")
    args = ap.parse_args()
    spec = f"sim?seed=0&duration={args.minutes * 60:g}&audio={0 if args.no_audio else 1}"
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "out"
        t = time.perf_counter()
        analyze_session([spec], out, report=False)  # the baseline (it writes summary.csv once too)
        t_analyze = time.perf_counter() - t
        with SessionStore(out / "session.sqlite") as store:
            t = time.perf_counter()
            summary = summarize_store(store)
            write_summary(summary, out / "summary.csv")
            t_summary = time.perf_counter() - t
            t = time.perf_counter()
            write_report(store, out / "report.html", summary)
            t_report = time.perf_counter() - t
            size = (out / "report.html").stat().st_size
    print(f"session: {args.minutes:g} min dyad, audio={'off' if args.no_audio else 'on'}; {len(summary.warnings)} warnings")
    print(f"analyze --no-report (baseline): {t_analyze:.1f} s")
    print(f"summary (figures + warnings + summary.csv): {t_summary:.2f} s = {100 * t_summary / t_analyze:.1f}% of the analysis")
    print(f"report.html (plots included, {size / 1024:.0f} KiB): {t_report:.2f} s = {100 * t_report / t_analyze:.1f}% of the analysis")


if __name__ == "__main__":
    main()
