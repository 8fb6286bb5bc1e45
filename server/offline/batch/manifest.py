"""The sessions of a batch: read from a manifest (CSV or TOML) or a folder layout (one
sub-folder per session, files named by role), each path made absolute and checked. A row that
cannot run carries its own error (reported per session in ``errors.csv``), so one bad row never
stops the others."""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ....sensors.errors import EX_DATAERR, CoregulateError, InputError, MissingInputError

REQUIRED = ("session_id", "specs")
#: Roles recognised by the folder layout convention.
FOLDER_ROLES = ("client", "therapist")
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


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


def _resolve_spec(text: str, base: Path) -> tuple[str, list[Path]]:
    """Spec with its path made absolute against ``base``; also the local paths it reads."""
    from ....sensors.spec import parse_spec
    from ...session.sources import is_session_spec, is_simulator_spec, session_path

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
    from ...session.sources import parse_baseline

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
    """The sessions of a CSV manifest: columns ``session_id``, ``specs`` (';'-separated), optional
    ``baseline`` and metadata columns.

    A row that cannot be used (wrong cell count, bad spec, repeated id) becomes a session with its
    ``error`` set, so that the other sessions still run and ``errors.csv`` names the line.

    Raises
    ------
    InputError
        If the file as a whole is unusable (not UTF-8, not CSV, empty, bad header).
    """
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
