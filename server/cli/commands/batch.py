"""``coregulate batch MANIFEST --out DIR [--jobs N] [--dask ADDRESS]``: many sessions, resumable."""

from __future__ import annotations

import argparse

from .. import argtypes
from .analyze import add_pipeline_options, pipeline_config


def add_parser(sub) -> None:
    """Add the ``batch`` command to the CLI's subparsers ``sub``."""
    p = sub.add_parser(
        "batch", help="analyze many sessions (manifest or folder), resumable, locally or on Dask",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Analyzes each session of MANIFEST exactly as 'analyze' does into DIR/<session_id>/, "
                    "skipping sessions whose outputs are up to date, and writes DIR/study.csv (one row per "
                    "session per person) and DIR/errors.csv (failed sessions). Exit code 65 if any session "
                    "failed.\n\n"
                    "MANIFEST: a CSV (columns session_id, specs = ROLE=PATH;ROLE=PATH..., optional baseline "
                    "START-END, other columns = metadata) or a TOML file of [[session]] tables; or a folder "
                    "with one sub-folder per session holding client.*/therapist.* files (or client_*, "
                    "therapist_*, or client/ therapist/ export folders).")
    p.add_argument("manifest", metavar="MANIFEST", help="manifest .csv/.toml, or a folder of session folders")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_pipeline_options(p, baseline_from=False)
    p.add_argument("--jobs", type=argtypes.positive_int, default=None, metavar="N",
                   help="local worker processes (default: number of cores)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run on a Dask distributed scheduler (tcp://host:8786); workers read the manifest's "
                        "paths, so they must be on storage every worker sees")
    p.add_argument("--force", action="store_true", help="re-analyze every session, even up-to-date ones")
    p.add_argument("--no-report", action="store_true", help="skip each session's report.html")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args) -> int:
    """Analyze every session of a manifest (resumable); print the counts and the study table.
    Exit code 0, or 65 (``EX_DATAERR``) if any session failed."""
    from ....sensors.errors import EX_DATAERR, UsageError
    from ...offline.batch import read_manifest, run_batch

    if args.jobs is not None and args.dask:
        raise UsageError("--jobs and --dask exclude each other (the cluster has its own workers)")
    config = pipeline_config(args)
    sessions = read_manifest(args.manifest)
    res = run_batch(sessions, args.out, config=config, keep_audio=args.keep_audio, report=not args.no_report,
                    jobs=args.jobs, dask=args.dask, force=args.force, progress=not args.quiet)
    print(f"{len(sessions)} sessions: {len(res.analysed)} analyzed, {len(res.skipped)} up to date (skipped), "
          f"{len(res.failed)} failed")
    print(f"  {res.study_file}")
    if res.failed:
        print(f"  {res.errors_file} ({', '.join(res.failed[:5])}{', ...' if len(res.failed) > 5 else ''})")
        return EX_DATAERR
    return 0
