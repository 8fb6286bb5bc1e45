"""The session file: one SQLite file per session, its schema and connection settings, and the
annotation edits shared by the writer (:class:`~coregulate.server.session.recorder.Recorder`) and
the reader (:class:`~coregulate.server.session.store.SessionStore`).

Layout (one file per session, WAL journal): ``meta`` (key/value: id, status, origin, config),
``participant``, ``stream``, ``chunk`` (raw samples as little-endian float64 blobs), ``feature``
(one row per participant per second, the columns of :data:`FEATURE_COLUMNS`), ``dyad``,
``event``, ``annotation``, ``gap`` and ``withdrawn_event`` (provisional events of a live session that
the final data did not confirm, :mod:`~coregulate.models.provisional_events`: an audit record, never
an event; absent from files written before it existed).
"""

from __future__ import annotations

import hashlib
import json
import math
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ...models.columns import DYAD_COLUMNS, FEATURE_COLUMNS, TEXT_COLUMNS
from ...sensors.errors import InputError

FORMAT_VERSION = "1"
#: A running session whose writer has not committed for this long is reported as interrupted.
STALE_AFTER_S = 5.0


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _cols_sql(columns: Iterable[str], keys: set[str]) -> str:
    out = []
    for c in columns:
        if c in keys:
            continue
        out.append(f"{_q(c)} {'TEXT' if c in TEXT_COLUMNS or c == 'utc' else 'REAL'}")
    return ", ".join(out)


SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS participant (role TEXT PRIMARY KEY, code TEXT);
CREATE TABLE IF NOT EXISTS stream (
    id INTEGER PRIMARY KEY, key TEXT UNIQUE, participant TEXT, kind TEXT, unit TEXT,
    rate REAL, channels TEXT, label TEXT, utc_start REAL);
CREATE TABLE IF NOT EXISTS chunk (
    id INTEGER PRIMARY KEY, stream_id INTEGER, t_start REAL, t_end REAL, n INTEGER,
    t0 REAL, times BLOB, data BLOB, gap_before INTEGER, meta TEXT);
CREATE INDEX IF NOT EXISTS chunk_by_time ON chunk (stream_id, t_start);
CREATE TABLE IF NOT EXISTS feature (
    participant TEXT, t_s INTEGER, {_cols_sql(FEATURE_COLUMNS, {'participant', 't_s'})}, extra TEXT,
    PRIMARY KEY (participant, t_s));
CREATE TABLE IF NOT EXISTS dyad (
    t_s INTEGER PRIMARY KEY, {_cols_sql(DYAD_COLUMNS, {'t_s'})}, extra TEXT);
CREATE TABLE IF NOT EXISTS event (
    id INTEGER PRIMARY KEY, kind TEXT, t_start REAL, t_end REAL, participant TEXT,
    rule TEXT, label TEXT, evidence TEXT);
CREATE TABLE IF NOT EXISTS annotation (
    id INTEGER PRIMARY KEY, t_s REAL, t_end REAL, author TEXT, text TEXT, source TEXT,
    created_utc REAL, updated_utc REAL, deleted INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS gap (stream_key TEXT, t_start REAL, t_end REAL);
CREATE TABLE IF NOT EXISTS withdrawn_event (
    pid INTEGER, kind TEXT, t_start REAL, t_end REAL, participant TEXT, rule TEXT, label TEXT,
    evidence TEXT, final_upto_s REAL);
"""


def _host_id() -> str:
    """The writer's machine, as a digest: enough to tell "same host" for crash detection
    without putting a (often personal) host name into every session file."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:16]


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10.0)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA busy_timeout=10000")
    return con


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, set):
        return sorted(o)
    return str(o)


def _dumps(o: Any) -> str:
    return json.dumps(o, default=_json_default, separators=(",", ":"))


def _clean(v: Any) -> Any:
    """SQLite-safe scalar: NaN/inf become NULL (empty), numpy scalars become Python."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class _Annotations:
    """Annotation editing shared by the live recorder and the store of a finished session."""

    con: sqlite3.Connection

    def _write(self, sql: str, args: tuple) -> sqlite3.Cursor:
        raise NotImplementedError

    def add_annotation(self, t_s: float, text: str, author: str = "", t_end: float | None = None,
                       source: str = "user") -> int:
        if not isinstance(text, str) or not text.strip():
            raise InputError("an annotation needs some text", field="text")
        now = time.time()
        cur = self._write(
            "INSERT INTO annotation (t_s, t_end, author, text, source, created_utc, updated_utc) VALUES (?,?,?,?,?,?,?)",
            (float(t_s), None if t_end is None else float(t_end), author, text, source, now, now))
        return int(cur.lastrowid)

    def update_annotation(self, ann_id: int, *, text: str | None = None, t_s: float | None = None,
                          t_end: float | None = None, author: str | None = None) -> bool:
        sets, args = [], []
        for col, val in (("text", text), ("t_s", t_s), ("t_end", t_end), ("author", author)):
            if val is not None:
                sets.append(f"{col}=?")
                args.append(val)
        sets.append("updated_utc=?")
        args.append(time.time())
        cur = self._write(f"UPDATE annotation SET {', '.join(sets)} WHERE id=? AND deleted=0", (*args, int(ann_id)))
        return cur.rowcount > 0

    def delete_annotation(self, ann_id: int) -> bool:
        cur = self._write("UPDATE annotation SET deleted=1, updated_utc=? WHERE id=? AND deleted=0",
                          (time.time(), int(ann_id)))
        return cur.rowcount > 0
