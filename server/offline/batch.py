"""``batch``: many sessions through :func:`~coregulate.server.offline.analysis.analyze_session`, resumable,
on local processes or a Dask distributed cluster, with a study-level table.

A batch is a list of :class:`BatchSession` read from a manifest (CSV or TOML) or from a folder
layout (one sub-folder per session, files named by role). Each session is analysed by the
top-level, picklable :func:`run_session` into ``OUT/<session_id>/`` and summarised from its own
CSV outputs, so a skipped (up-to-date) session and a freshly analysed one give the same rows of
``OUT/study.csv``. Failures go to ``OUT/errors.csv`` and never stop the other sessions.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from ...models.columns import ZONES
from ...models.session_summary import QUALITY_LEVELS
from ...sensors.errors import EX_DATAERR, EX_SOFTWARE, CoregulateError, InputError, MissingInputError, OutputError
from ..version import coregulate_version

BATCH_FILE = "batch.json"
STUDY_FILE = "study.csv"
ERRORS_FILE = "errors.csv"
REQUIRED = ("session_id", "specs")
#: Roles recognised by the folder layout convention.
FOLDER_ROLES = ("client", "therapist")
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
#: Zones counted as episodes in study.csv (contiguous runs of seconds in that zone).
EPISODE_ZONES = ("hyper", "hypo", "hypo_candidate")
#: How long to wait for a Dask scheduler before giving up (exit 69).
DASK_CONNECT_TIMEOUT = "10s"


@dataclass
class BatchSession:
    """One session of a batch. ``error`` is set for a row that cannot run (reported per session)."""

    session_id: str
    specs: list[str]
    baseline: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    line: int | None = None
    source: str = ""
    error: CoregulateError | None = None


# ---------------------------------------------------------------------------------------------
# Manifest and folder layout


def _resolve_spec(text: str, base: Path) -> tuple[str, list[Path]]:
    """Spec with its path made absolute against ``base``; also the local paths it reads."""
    from ...sensors.spec import parse_spec
    from ..session.sources import is_session_spec, is_simulator_spec, session_path

    text = text.strip()
    if is_simulator_spec(text):
        return text, []
    if is_session_spec(text):
        p = session_path(text)
        p = p if p.is_absolute() else base / p
        return f"session:{p}", [p]
    spec = parse_spec(text)  # raises InputError naming the spec
    p = Path(os.path.expanduser(spec.path))
    p = p if p.is_absolute() else base / p
    _, q, opts = text.partition("?")  # the first '?' starts the options (also in video:PATH?client=...)
    fmt = f"{spec.fmt}:" if spec.fmt else ""
    return f"{spec.role}={fmt}{p}{q}{opts}", [p]


def _finish_row(sess: BatchSession, raw_specs: list[str], base: Path, where: str) -> BatchSession:
    """Resolve paths and check the row; problems become the session's own error."""
    from ..session.sources import parse_baseline

    try:
        if not _SAFE_ID.match(sess.session_id) or sess.session_id in (".", ".."):
            raise InputError(f"session id {sess.session_id!r} cannot be a folder name", field="session_id",
                             expected="letters, digits, '.', '_' or '-', starting with a letter or digit")
        specs = [s for s in (x.strip() for x in raw_specs) if s]
        if not specs:
            raise InputError("no SPEC given", field="specs", expected="ROLE=PATH[;ROLE=PATH...] or sim?seed=N")
        resolved = []
        for s in specs:
            r, paths = _resolve_spec(s, base)
            for p in paths:
                if not p.exists():
                    raise MissingInputError(f"{p} does not exist", field="specs")
            resolved.append(r)
        sess.specs = resolved
        if sess.baseline:
            parse_baseline(sess.baseline)
    except CoregulateError as exc:
        sess.error = _at_row(exc, where, sess.line)
    return sess


def _at_row(exc: CoregulateError, where: str, line: int | None) -> CoregulateError:
    """The error with the manifest row in front, keeping its exit code and class name."""
    loc = f"{where}:{line}" if line is not None else where
    return _RowError(f"{loc}: {exc}", exc.exit_code, type(exc).__name__)


class _RowError(CoregulateError):
    """A per-session error carrying the original class name and exit code."""

    def __init__(self, message: str, exit_code: int, kind: str):
        super().__init__(message)
        self.exit_code = exit_code
        self.kind = kind


def _dedupe(sessions: list[BatchSession], where: str) -> list[BatchSession]:
    first: dict[str, int | None] = {}
    for s in sessions:
        if s.session_id in first and s.error is None:
            s.error = _RowError(f"{where}:{s.line}: session id {s.session_id!r} already used on line "
                                f"{first[s.session_id]}; each session needs its own id", EX_DATAERR, "InputError")
        first.setdefault(s.session_id, s.line)
    return sessions


def read_csv_manifest(path: Path) -> list[BatchSession]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError:
        raise InputError("the manifest is not UTF-8 text", path=path, expected="a CSV or TOML manifest") from None
    except csv.Error as exc:
        raise InputError(f"cannot read the manifest as CSV ({exc})", path=path) from None
    if not rows:
        raise InputError("the manifest is empty", path=path, line=1, expected="a header with session_id,specs")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}; found {', '.join(header) or 'nothing'}",
                         path=path, line=1, expected="columns session_id, specs, optional baseline and metadata")
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup or "" in header:
        raise InputError(f"duplicate or empty column name(s) {', '.join(repr(d) for d in dup or [''])}",
                         path=path, line=1, expected="one unique name per column")
    out = []
    for i, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue  # blank lines are allowed
        if row[0].lstrip().startswith("#"):
            continue
        if len(row) != len(header):
            out.append(BatchSession(row[0].strip() if row else f"line{i}", [], line=i, error=_RowError(
                f"{path}:{i}: {len(row)} cells for {len(header)} columns "
                "(quote SPEC lists containing ',')", EX_DATAERR, "InputError")))
            continue
        rec = {h: c.strip() for h, c in zip(header, row)}
        sess = BatchSession(rec["session_id"], [], baseline=rec.get("baseline") or None, line=i, source=str(path),
                            meta={h: rec[h] for h in header if h not in (*REQUIRED, "baseline")})
        out.append(_finish_row(sess, rec["specs"].split(";"), path.parent, str(path)))
    return _dedupe(out, str(path))


def read_toml_manifest(path: Path) -> list[BatchSession]:
    """``[[session]]`` tables with ``session_id``, ``specs`` (list or ';'-separated string),
    optional ``baseline`` and scalar metadata keys."""
    import tomllib

    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise InputError("the manifest is not UTF-8 text", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"cannot read the manifest as TOML ({exc})", path=path) from None
    key = "session" if "session" in data else "sessions"
    tables = data.get(key)
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise InputError("no [[session]] tables", path=path, expected="[[session]] tables with session_id and specs")
    # tomllib gives no positions: the n-th [[session]] header is the n-th table
    heads = [i for i, ln in enumerate(text.splitlines(), start=1)
             if re.match(rf"\s*\[\[\s*{key}\s*\]\]", ln)]
    out = []
    for n, t in enumerate(tables):
        line = heads[n] if n < len(heads) else None
        missing = [c for c in REQUIRED if c not in t]
        if missing:
            raise InputError(f"[[{key}]] #{n + 1} lacks {', '.join(missing)}", path=path, line=line,
                             expected="session_id and specs in every [[session]]")
        specs = t["specs"]
        specs = specs.split(";") if isinstance(specs, str) else specs
        sid = t["session_id"]
        sess = BatchSession(str(sid), [], baseline=t.get("baseline"), line=line, source=str(path),
                            meta={k: _scalar(v) for k, v in t.items() if k not in (*REQUIRED, "baseline")})
        if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
            sess.error = _RowError(f"{path}:{line}: specs must be a list of strings", EX_DATAERR, "InputError")
            out.append(sess)
            continue
        if sess.baseline is not None and not isinstance(sess.baseline, str):
            sess.error = _RowError(f"{path}:{line}: baseline must be a string START-END", EX_DATAERR, "InputError")
            out.append(sess)
            continue
        out.append(_finish_row(sess, specs, path.parent, str(path)))
    return _dedupe(out, str(path))


def _scalar(v: Any) -> str:
    return json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def _role_of(name: str) -> str | None:
    low = name.lower()
    for role in FOLDER_ROLES:
        if low == role or any(low.startswith(role + sep) for sep in "._-"):
            return role
    return None


def read_folder(root: Path) -> list[BatchSession]:
    """One sub-folder per session (its name is the id); inside, ``client.*``/``therapist.*``,
    ``client_*``/``therapist_*`` files, or ``client/``/``therapist/`` folders (E4 exports)."""
    out = []
    subs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subs:
        raise InputError("the folder has no session sub-folders", path=root,
                         expected="one sub-folder per session with client.* / therapist.* files, or a manifest")
    for d in subs:
        specs = [f"{role}={p}" for p in sorted(d.iterdir())
                 if not p.name.startswith(".") and (role := _role_of(p.name))]
        sess = BatchSession(d.name, [], source=str(d))
        if not specs:
            sess.error = _RowError(f"{d}: no client.* or therapist.* files", EX_DATAERR, "InputError")
            out.append(sess)
            continue
        out.append(_finish_row(sess, specs, d, str(d)))
    return out


def read_manifest(path: str | Path) -> list[BatchSession]:
    """Sessions from a CSV or TOML manifest, or from a folder layout."""
    p = Path(path)
    if not p.exists():
        raise MissingInputError("does not exist", path=p, expected="a manifest (.csv, .toml) or a folder")
    if p.is_dir():
        return read_folder(p)
    if p.suffix.lower() == ".toml":
        return read_toml_manifest(p)
    if p.suffix.lower() in (".csv", ".tsv", ".txt"):
        return read_csv_manifest(p)
    raise InputError(f"unknown manifest type {p.suffix!r}", path=p, expected="a .csv or .toml manifest, or a folder")


# ---------------------------------------------------------------------------------------------
# Fingerprint (resumability)


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
    from ..session.sources import is_session_spec, is_simulator_spec, session_path

    h = hashlib.sha256()
    for s in specs:
        h.update(s.encode() + b"\n")
        if is_simulator_spec(s):
            continue
        if is_session_spec(s):
            paths = [session_path(s)]
        else:
            from ...sensors.spec import parse_spec

            paths = [Path(parse_spec(s).path)]
        for p in paths:
            for e in _stat_entries(p):
                h.update(e.encode() + b"\n")
    h.update(config_json.encode() + b"\n")
    h.update(json.dumps(settings, sort_keys=True).encode() + b"\n")
    h.update(coregulate_version().encode())
    return h.hexdigest()


def is_complete(out_dir: Path, fp: str) -> bool:
    try:
        done = json.loads((out_dir / BATCH_FILE).read_text())
    except (OSError, ValueError):
        return False
    return done.get("fingerprint") == fp and all((out_dir / f).is_file() for f in done.get("files", []))


# ---------------------------------------------------------------------------------------------
# Per-session work (runs in a worker process or on a Dask worker)


def run_session(task: dict[str, Any]) -> dict[str, Any]:
    """Analyse one session unless it is up to date, then summarise it. Never raises: errors are
    returned (as text, so they cross process and network boundaries) for ``errors.csv``."""
    from ...models.config import PipelineConfig

    sid, out = task["session_id"], Path(task["out_dir"])
    res: dict[str, Any] = {"session_id": sid, "status": "ok", "error": None, "exit_code": 0, "kind": None, "rows": []}
    try:
        fp = fingerprint(task["specs"], task["config"], task["settings"])
        if not task.get("force") and is_complete(out, fp):
            res["status"] = "skipped"
        else:
            from .analysis import analyze_session

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
        res.update(status="failed", error=f"{task['where']}: {exc}", exit_code=exc.exit_code, kind=type(exc).__name__)
    except Exception as exc:  # a bug in one session must not stop the batch; reported as such
        res.update(status="failed", error=f"{task['where']}: internal error: {type(exc).__name__}: {exc}",
                   exit_code=EX_SOFTWARE, kind=type(exc).__name__)
    return res


# ---------------------------------------------------------------------------------------------
# Study table


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _num(v: str | None) -> float | None:
    if v in (None, ""):
        return None
    try:
        x = float(v)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _runs(flags: list[bool]) -> list[int]:
    runs, n = [], 0
    for f in flags:
        if f:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    if n:
        runs.append(n)
    return runs


def summarize_person(rows: list[dict[str, str]]) -> dict[str, Any]:
    """Summary of one person's features.csv rows (one per second). Episodes are contiguous runs
    of seconds in the zone (the zone column already carries the tolerance model's sustain rules)."""
    n = len(rows)
    zones = [r.get("zone") or "unknown" for r in rows]
    out: dict[str, Any] = {"minutes": round(n / 60, 4)}
    for z in ZONES:
        out[f"share_{z}"] = sum(x == z for x in zones) / n if n else None
    for z in EPISODE_ZONES:
        runs = _runs([x == z for x in zones])
        out[f"n_{z}_episodes"] = len(runs)
        out[f"{z}_s"] = sum(runs)
    for col in ("arousal", "vocal_arousal", "hr_bpm", "rmssd_ms"):
        out[f"mean_{col}"] = _mean([x for x in (_num(r.get(col)) for r in rows) if x is not None])
    qual = [r.get("quality") or "none" for r in rows]
    for q in QUALITY_LEVELS:
        out[f"quality_{q}_share"] = sum(x == q for x in qual) / n if n else None
    return out




def summarize_session(out_dir: Path) -> list[dict[str, Any]]:
    """study.csv rows of one analysed session: one per person, the dyad summary repeated."""
    from ...models.dyad_summary import summarize_dyad

    feats = _read_csv(out_dir / "features.csv")
    by_person: dict[str, list[dict[str, str]]] = {}
    for r in feats:
        by_person.setdefault(r["participant"], []).append(r)
    dyad_rows = _read_csv(out_dir / "dyad.csv")
    dyad: dict[str, Any] = {}
    if dyad_rows:
        events = _read_csv(out_dir / "events.csv")
        dyad = {f"dyad_{k}": v for k, v in summarize_dyad(dyad_rows, events).items()}
    # the session's warnings (summary.csv), so that a study table shows which rows to read with care
    warnings = {r["participant"]: r.get("warnings", "") for r in _read_csv(out_dir / "summary.csv") if r["row"] == "person"}
    return [{"participant": p, **summarize_person(rows), **dyad, "warnings": warnings.get(p, "")}
            for p, rows in by_person.items()]


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(round(v, 6)) if math.isfinite(v) else ""
    return str(v)


def write_table(path: Path, rows: list[dict[str, Any]], first: list[str]) -> Path:
    cols = list(first)
    for r in rows:
        cols += [k for k in r if k not in cols]
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow([_fmt(r.get(c)) for c in cols])
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------------------
# Running a batch


@dataclass
class BatchResult:
    analysed: list[str]
    skipped: list[str]
    failed: list[str]
    study_file: Path
    errors_file: Path


class _Bar:
    def __init__(self, total: int, enabled: bool):
        self.bar = None
        self.counts = {"ok": 0, "skipped": 0, "failed": 0}
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
            self.bar.set_postfix_str(f"done {self.counts['ok']}, skipped {self.counts['skipped']}, "
                                     f"failed {self.counts['failed']}, remaining {left}", refresh=False)
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
        futs = {pool.submit(run_session, t): t for t in tasks}
        try:
            for f in as_completed(futs):
                yield futs[f], _result_or_crash(futs[f], f)
        except BaseException:
            for f in futs:
                f.cancel()
            raise


def _dask_results(tasks: list[dict], address: str) -> Iterable[tuple[dict, dict]]:
    from ...sensors.errors import DeviceUnavailableError

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
        return {"session_id": task["session_id"], "status": "failed", "exit_code": EX_SOFTWARE,
                "kind": type(exc).__name__, "error": f"worker failed: {type(exc).__name__}: {exc}", "rows": []}


def run_batch(sessions: list[BatchSession], out_dir: str | Path, *, config=None, keep_audio: bool = False,
              report: bool = True, jobs: int | None = None, dask: str | None = None, force: bool = False,
              progress: bool = False,
              on_result: Callable[[dict], None] | None = None) -> BatchResult:
    """Analyse every session (skipping up-to-date ones) and write study.csv and errors.csv."""
    from ...models.config import PipelineConfig
    from ..session.sources import parse_baseline

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
                "session_id": s.session_id, "status": "failed", "error": str(s.error),
                "exit_code": s.error.exit_code, "kind": getattr(s.error, "kind", type(s.error).__name__), "rows": []}
            continue
        cfg = replace(base, baseline=parse_baseline(s.baseline) if s.baseline else base.baseline)
        tasks.append({"session_id": s.session_id, "specs": s.specs, "out_dir": str(out / s.session_id),
                      "config": cfg.to_json(), "settings": settings, "meta": s.meta, "force": force,
                      "where": f"{s.source}:{s.line}" if s.line is not None else (s.source or s.session_id)})
    bar = _Bar(len(sessions), progress)
    for r in results.values():
        bar.update("failed")
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
    by = lambda st: sorted((r["session_id"] for r in results.values() if r["status"] == st), key=order.get)
    return BatchResult(by("ok"), by("skipped"), by("failed"), out / STUDY_FILE, out / ERRORS_FILE)


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
        if r["status"] == "failed":
            errors.append({"session_id": s.session_id, "manifest_line": s.line, "exit_code": r["exit_code"],
                           "error_type": r["kind"], "error": r["error"]})
            continue
        for row in r["rows"]:
            study.append({"session_id": s.session_id, **{k: s.meta.get(k, "") for k in meta_cols}, **row})
    write_table(out / STUDY_FILE, study, ["session_id", *meta_cols, "participant"])
    write_table(out / ERRORS_FILE, errors, ["session_id", "manifest_line", "exit_code", "error_type", "error"])
