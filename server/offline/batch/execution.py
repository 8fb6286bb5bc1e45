"""Running a batch: every session through :func:`~coregulate.server.offline.batch.session_task.run_session`
on local processes or a Dask distributed cluster, with a progress bar, then ``study.csv`` and
``errors.csv``. Failures never stop the other sessions."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

from ....sensors.errors import EX_SOFTWARE, OutputError
from ..forking import forking_without_garbage
from .manifest import BatchSession
from .session_task import RowOutcome, run_session
from .study import ERRORS_FILE, STUDY_FILE, write_table

#: How long to wait for a Dask scheduler before giving up (exit 69).
DASK_CONNECT_TIMEOUT = "10s"


@dataclass
class BatchResult:
    """What :func:`run_batch` did: the session ids analysed, skipped (up to date) and failed, and
    the paths of ``study.csv`` and ``errors.csv``.
    """

    analysed: list[str]
    skipped: list[str]
    failed: list[str]
    study_file: Path
    errors_file: Path


class _Bar:
    def __init__(self, total: int, enabled: bool):
        self.bar = None
        self.counts = {outcome: 0 for outcome in RowOutcome}
        if enabled:
            from tqdm import tqdm

            # disable=None: no bar when stderr is not a terminal (logs, CI)
            self.bar = tqdm(total=total, unit="session", desc="batch", file=sys.stderr, disable=None,
                            dynamic_ncols=True,
                            bar_format="{desc} {n_fmt}/{total_fmt} |{bar}| [{elapsed}<{remaining}]{postfix}")

    def update(self, status: str) -> None:
        self.counts[status] += 1
        if self.bar is not None:
            left = self.bar.total - self.bar.n - 1
            self.bar.set_postfix_str(f"done {self.counts[RowOutcome.OK]}, skipped {self.counts[RowOutcome.SKIPPED]}, "
                                     f"failed {self.counts[RowOutcome.FAILED]}, remaining {left}", refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


#: Imported in the parent before the pool starts, so forked workers inherit them instead of each
#: paying the import (about 2 s per worker on a busy 2-core machine).
PRELOAD = ("coregulate.server.offline.analysis", "coregulate.server.offline.report", "coregulate.sensors.simulator",
           "coregulate.sensors.readers", "coregulate.models.heart", "coregulate.models.voice",
           "coregulate.models.eda", "coregulate.models.movement", "coregulate.models.autonomic",
           "coregulate.models.tolerance", "coregulate.models.dyad", "coregulate.models.dyad_summary")


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # a family not installed fails its sessions later, with a clear error
            pass


def _local_results(tasks: list[dict], jobs: int) -> Iterable[tuple[dict, dict]]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    _preload()
    with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(tasks)))) as pool:
        with forking_without_garbage():  # the pool forks its workers at the first submit
            futs = {pool.submit(run_session, t): t for t in tasks}
        try:
            for f in as_completed(futs):
                yield futs[f], _result_or_crash(futs[f], f)
        except BaseException:
            for f in futs:
                f.cancel()
            raise


def _dask_results(tasks: list[dict], address: str) -> Iterable[tuple[dict, dict]]:
    from ....sensors.errors import DeviceUnavailableError

    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise DeviceUnavailableError("--dask needs dask[distributed] installed") from None
    try:
        client = Client(address, timeout=DASK_CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise DeviceUnavailableError(f"cannot reach the Dask scheduler at {address} ({exc})") from None
    try:
        futs = {}
        for t in tasks:
            # pure=False: a re-submission must run again (inputs may have changed on disk)
            f = client.submit(run_session, t, pure=False, key=f"coregulate-batch-{t['session_id']}-{time.time_ns()}")
            futs[f.key] = (f, t)
        for f in as_completed([f for f, _ in futs.values()]):
            t = futs[f.key][1]
            yield t, _result_or_crash(t, f)
    finally:
        client.close()


def _result_or_crash(task: dict, fut) -> dict:
    """A worker that died (out of memory, killed) fails its session only."""
    try:
        return fut.result()
    except Exception as exc:
        return {"session_id": task["session_id"], "status": RowOutcome.FAILED, "exit_code": EX_SOFTWARE,
                "kind": type(exc).__name__, "error": f"worker failed: {type(exc).__name__}: {exc}", "rows": []}


def run_batch(sessions: list[BatchSession], out_dir: str | Path, *, config=None, keep_audio: bool = False,
              report: bool = True, jobs: int | None = None, dask: str | None = None, force: bool = False,
              progress: bool = False,
              on_result: Callable[[dict], None] | None = None) -> BatchResult:
    """Analyse every session (skipping up-to-date ones) and write study.csv and errors.csv."""
    from ....models.config import PipelineConfig
    from ...session.sources import parse_baseline

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: cannot create the output folder ({exc.strerror})") from None
    base = config or PipelineConfig()
    settings = {"keep_audio": keep_audio, "report": report}
    results: dict[str, dict] = {}
    tasks = []
    for s in sessions:
        if s.error is not None:
            results[s.session_id + f"@{s.line}"] = {
                "session_id": s.session_id, "status": RowOutcome.FAILED, "error": str(s.error),
                "exit_code": s.error.exit_code, "kind": getattr(s.error, "kind", type(s.error).__name__), "rows": []}
            continue
        cfg = replace(base, baseline=parse_baseline(s.baseline) if s.baseline else base.baseline)
        tasks.append({"session_id": s.session_id, "specs": s.specs, "out_dir": str(out / s.session_id),
                      "config": cfg.to_json(), "settings": settings, "meta": s.meta, "force": force,
                      "where": f"{s.source}:{s.line}" if s.line is not None else (s.source or s.session_id)})
    bar = _Bar(len(sessions), progress)
    for r in results.values():
        bar.update(RowOutcome.FAILED)
    try:
        if tasks:
            stream = _dask_results(tasks, dask) if dask else _local_results(tasks, jobs or os.cpu_count() or 1)
            for t, r in stream:
                results[t["session_id"]] = r
                bar.update(r["status"])
                if on_result:
                    on_result(r)
    finally:
        bar.close()
        _write_outputs(sessions, results, out)
    order = {s.session_id: i for i, s in enumerate(sessions)}

    def by(st: str) -> list[str]:
        return sorted((r["session_id"] for r in results.values() if r["status"] == st), key=order.get)

    return BatchResult(by(RowOutcome.OK), by(RowOutcome.SKIPPED), by(RowOutcome.FAILED), out / STUDY_FILE, out / ERRORS_FILE)


def _write_outputs(sessions: list[BatchSession], results: dict[str, dict], out: Path) -> None:
    """study.csv in manifest order (complete sessions only) and errors.csv (always written, so
    an empty one says the last run had no failure)."""
    meta_cols: list[str] = []
    for s in sessions:
        meta_cols += [k for k in s.meta if k not in meta_cols]
    study, errors = [], []
    for s in sessions:
        r = results.get(s.session_id) if s.error is None else results.get(s.session_id + f"@{s.line}")
        if r is None:
            continue  # not reached (interrupted)
        if r["status"] == RowOutcome.FAILED:
            errors.append({"session_id": s.session_id, "manifest_line": s.line, "exit_code": r["exit_code"],
                           "error_type": r["kind"], "error": r["error"]})
            continue
        for row in r["rows"]:
            study.append({"session_id": s.session_id, **{k: s.meta.get(k, "") for k in meta_cols}, **row})
    write_table(out / STUDY_FILE, study, ["session_id", *meta_cols, "participant"])
    write_table(out / ERRORS_FILE, errors, ["session_id", "manifest_line", "exit_code", "error_type", "error"])
