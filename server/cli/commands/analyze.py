"""``coregulate analyze SPEC... --out DIR``: offline analysis, the live pipeline at max speed."""

from __future__ import annotations

import argparse
import textwrap

from .. import argtypes

SPEC_HELP = ("ROLE=PATH, ROLE=FORMAT:PATH or ROLE=FORMAT:PATH?key=value&... (a file or an export folder; "
             "repeat per stream and per person), or 'sim[?seed=N&duration=S&audio=0]' alone: the simulator is a "
             "whole dyad (client and therapist) and takes no ROLE")


def add_pipeline_options(p: argparse.ArgumentParser, baseline_from: bool = True) -> None:
    """Add the pipeline's options (baseline, window, audio storage, participant codes) to a command's parser.

    Shared by ``analyze``, ``batch``, ``replay`` and ``record``, so that every command takes the
    same settings under the same names; :func:`pipeline_config` turns them into a ``PipelineConfig``.

    Parameters
    ----------
    p : argparse.ArgumentParser
        The command's parser.
    baseline_from : bool, optional
        Also offer ``--baseline-from`` (a baseline taken from a separate resting recording).
    """
    from ....models.config import MIN_BASELINE_S, WINDOW_RANGE_S, PipelineConfig

    # a baseline segment of this session, or one taken from a separate resting recording
    which = p.add_mutually_exclusive_group()
    which.add_argument("--baseline", metavar="START-END", type=argtypes.baseline,
                       help=f"baseline segment in seconds, at least {MIN_BASELINE_S:g} s (default: the first "
                            f"{PipelineConfig.default_baseline_s:g} s)")
    if baseline_from:  # not in batch: one resting recording cannot serve every session of a manifest
        which.add_argument("--baseline-from", action="append", default=None, metavar="SPEC",
                           help="take the baseline from a separate resting recording of the same people and devices "
                                "(ROLE=[FORMAT:]PATH, repeatable) instead of the session's first 300 s")
    p.add_argument("--window", type=argtypes.window, default=PipelineConfig.window_s, metavar="S",
                   help=f"HRV window in seconds, {WINDOW_RANGE_S[0]:g}-{WINDOW_RANGE_S[1]:g} "
                        f"(default {PipelineConfig.window_s:g})")
    p.add_argument("--keep-audio", action="store_true",
                   help="store raw audio in the session file (off: only prosody features are kept)")
    p.add_argument("--code", action="append", default=[], metavar="ROLE=CODE", type=argtypes.code,
                   help="pseudonymous participant code to record, e.g. client=C07 (repeatable; never a name)")


def pipeline_config(args):
    """The PipelineConfig of the options (each already checked by its argparse type)."""
    from ....models.config import PipelineConfig
    from ...session.sources import parse_baseline

    config = PipelineConfig(window_s=args.window, baseline=parse_baseline(args.baseline))
    if getattr(args, "baseline_from", None):
        from ...offline.baseline import with_baseline_from
        from ...session.sources import build_source

        specs = getattr(args, "specs", None)  # record has devices, not SPECs: no role check there
        roles = [s.participant for s in build_source(specs).streams] if specs else None
        config = with_baseline_from(args.baseline_from, config, roles)
    return config


def add_parser(sub) -> None:
    """Add the ``analyze`` command to the CLI's subparsers ``sub``."""
    from .._help import FORMATS_AND_EXAMPLES

    p = sub.add_parser("analyze", help="analyze recorded files (or the simulator) offline",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=FORMATS_AND_EXAMPLES,
                       description=textwrap.fill(
                           "Runs the live pipeline at max speed and writes session.sqlite, features.csv, events.csv, "
                           "dyad.csv (two people), summary.csv and report.html into --out, then prints the "
                           "session's warnings.", 79))
    p.add_argument("specs", nargs="+", metavar="SPEC", type=argtypes.spec, help=SPEC_HELP)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_pipeline_options(p)
    p.add_argument("--jobs", type=argtypes.positive_int, default=1, metavar="N",
                   help="processes: up to N-1 people's estimators run in workers beside the main process "
                        "(default 1; the output is identical)")
    p.add_argument("--session-id", help="session identifier (default: the output folder's name)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier analysis in --out")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args) -> int:
    """Analyze the inputs offline; print the files written, warnings and baseline notes. Exit code 0."""
    from ...offline.analysis import analyze_session
    from ...session.sources import check_spec_combination, parse_codes

    argtypes.as_usage(check_spec_combination, args.specs)
    codes = argtypes.as_usage(parse_codes, args.code)
    res = analyze_session(args.specs, args.out, config=pipeline_config(args), keep_audio=args.keep_audio,
                          participant_codes=codes,
                          session_id=args.session_id, overwrite=args.overwrite, progress=not args.quiet,
                          report=not args.no_report, jobs=args.jobs)
    print(f"analyzed {res.seconds / 60:.1f} min of {', '.join(res.participants)}; wrote:")
    for f in res.files:
        print(f"  {f}")
    if res.warnings:  # the report lists them too; said here so that nobody misses them
        print(f"warnings ({len(res.warnings)}):")
        for w in res.warnings:
            print(f"  {w}")
    for line in res.notes:
        print(line)
    return 0
