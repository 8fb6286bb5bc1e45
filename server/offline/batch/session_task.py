"""One session's work in a batch, in a worker process or on a Dask worker: skipped when its
fingerprint says the outputs are up to date, else analysed; then summarised from its own CSV
outputs, so a skipped session and a freshly analysed one give the same rows of ``study.csv``."""

from __future__ import annotations

import hashlib
import json
import os
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

from ....sensors.errors import EX_SOFTWARE, CoregulateError
from ...version import coregulate_version
from .study import summarize_session

BATCH_FILE = "batch.json"


class RowOutcome(StrEnum):
    """What became of one manifest row in a batch (not a session's status: a skipped row's
    session file stays ``complete``). Stored and printed as the plain word."""

    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"


def _stat_entries(p: Path) -> list[str]:
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file())
    else:
        files = [p]
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append(f"{f}\t{st.st_size}\t{st.st_mtime_ns}")
        except OSError:
            out.append(f"{f}\tmissing")
    return out


def fingerprint(specs: list[str], config_json: str, settings: dict[str, Any]) -> str:
    """sha256 of the specs, each input file's size and mtime (not contents: hashing hours of
    audio on every resume would cost as much as re-reading it), the config and the version."""
    from ...session.sources import is_session_spec, is_simulator_spec, session_path

    h = hashlib.sha256()
    for s in specs:
        h.update(s.encode() + b"\n")
        if is_simulator_spec(s):
            continue
        if is_session_spec(s):
            paths = [session_path(s)]
        else:
            from ....sensors.spec import parse_spec

            paths = [Path(parse_spec(s).path)]
        for p in paths:
            for e in _stat_entries(p):
                h.update(e.encode() + b"\n")
    h.update(config_json.encode() + b"\n")
    h.update(json.dumps(settings, sort_keys=True).encode() + b"\n")
    h.update(coregulate_version().encode())
    return h.hexdigest()


def is_complete(out_dir: Path, fp: str) -> bool:
    """Whether ``out_dir`` holds a finished analysis of the same inputs: its ``batch.json`` records
    fingerprint ``fp`` (see :func:`fingerprint`) and every file it lists still exists.
    """
    try:
        done = json.loads((out_dir / BATCH_FILE).read_text())
    except (OSError, ValueError):
        return False
    return done.get("fingerprint") == fp and all((out_dir / f).is_file() for f in done.get("files", []))


def run_session(task: dict[str, Any]) -> dict[str, Any]:
    """Analyse one session unless it is up to date, then summarise it. Never raises: errors are
    returned (as text, so they cross process and network boundaries) for ``errors.csv``."""
    from ....models.config import PipelineConfig

    sid, out = task["session_id"], Path(task["out_dir"])
    res: dict[str, Any] = {"session_id": sid, "status": RowOutcome.OK, "error": None, "exit_code": 0, "kind": None, "rows": []}
    try:
        fp = fingerprint(task["specs"], task["config"], task["settings"])
        if not task.get("force") and is_complete(out, fp):
            res["status"] = RowOutcome.SKIPPED
        else:
            from ..analysis import analyze_session

            (out / BATCH_FILE).unlink(missing_ok=True)  # an interrupted re-run must not look complete
            t0 = time.perf_counter()
            result = analyze_session(task["specs"], out, config=PipelineConfig.from_json(task["config"]),
                                     keep_audio=task["settings"]["keep_audio"], session_id=sid, overwrite=True,
                                     progress=False, report=task["settings"]["report"],
                                     meta={"batch_" + k: str(v) for k, v in task.get("meta", {}).items()})
            record = {"session_id": sid, "fingerprint": fp, "specs": task["specs"], "config": task["config"],
                      "settings": task["settings"], "version": coregulate_version(),
                      "files": [f.name for f in result.files],
                      "elapsed_s": round(time.perf_counter() - t0, 3)}
            tmp = out / (BATCH_FILE + ".tmp")
            tmp.write_text(json.dumps(record, indent=1))
            os.replace(tmp, out / BATCH_FILE)
        res["rows"] = summarize_session(out)
    except CoregulateError as exc:
        res.update(status=RowOutcome.FAILED, error=f"{task['where']}: {exc}", exit_code=exc.exit_code, kind=type(exc).__name__)
    except Exception as exc:  # a bug in one session must not stop the batch; reported as such
        res.update(status=RowOutcome.FAILED, error=f"{task['where']}: internal error: {type(exc).__name__}: {exc}",
                   exit_code=EX_SOFTWARE, kind=type(exc).__name__)
    return res
