"""Durable recording of a session into one SQLite file, and reading it back.

Layout (one file per session, WAL journal): ``meta`` (key/value: id, status, origin, config),
``participant``, ``stream``, ``chunk`` (raw samples as little-endian float64 blobs), ``feature``
(one row per participant per second, the columns of :data:`FEATURE_COLUMNS`), ``dyad``,
``event``, ``annotation`` and ``gap``.

Durability: the recorder keeps one write transaction open and commits it at least once per
second of wall time (:attr:`Recorder.commit_interval_s`), so a killed process loses at most the
last second. WAL with ``synchronous=NORMAL`` makes each commit survive a process crash (it is
handed to the OS before ``COMMIT`` returns); only a power cut can lose the last commits.

Privacy: raw audio chunks are dropped unless the session was opened with ``keep_audio=True``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from ...models.base import Event
from ...models.columns import DYAD_COLUMNS, FEATURE_COLUMNS, TEXT_COLUMNS
from ...models.config import PipelineConfig
from ...sensors.chunk import Chunk, StreamInfo, StreamKind
from ...sensors.errors import InputError, MissingInputError, OutputError, RecordingIOError
from .runner import SessionStatus

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


class Recorder(_Annotations):
    """Writes one session as it runs.

    Parameters
    ----------
    path : path-like
        The session file to create (must not exist).
    session_id : str
        Identifier shown in the dashboard and exports.
    streams : list of StreamInfo
        The session's streams.
    config : PipelineConfig
        Saved with the session so that it can be re-analysed identically.
    utc0 : float or None
        Absolute time of session time 0.
    keep_audio : bool
        Store raw audio samples (off by default: only prosody features are kept).
    participants : dict, optional
        Role → pseudonymous code (never a name).
    meta : dict, optional
        Extra key/values (sources, command line, site, ...).
    """

    commit_interval_s = 1.0

    def __init__(self, path, session_id: str, streams: list[StreamInfo], config: PipelineConfig,
                 utc0: float | None = None, keep_audio: bool = False,
                 participants: dict[str, str] | None = None, meta: dict[str, Any] | None = None,
                 clock=time.monotonic):
        self.path = Path(path)
        if self.path.exists():
            raise OutputError(f"{self.path}: a session file already exists here; choose another session id or folder")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.con = _connect(self.path)
            self.con.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise OutputError(f"{self.path}: cannot create the session file ({exc})") from None
        self.session_id = session_id
        self.keep_audio = keep_audio
        self._clock = clock
        self._stream_ids: dict[str, int] = {}
        self._gap_rows: dict[str, tuple[int, float]] = {}  # stream key -> (rowid, t_end) of its last gap
        self._last_commit = clock()
        self._last_t = 0.0
        self.closed = False
        roles = sorted({s.participant for s in streams})
        codes = participants or {}
        self.con.execute("BEGIN")
        self._set_meta({
            "format_version": FORMAT_VERSION, "session_id": session_id, "status": SessionStatus.RUNNING,
            "created_utc": time.time(), "utc0": utc0, "config": config.to_json(),
            "keep_audio": int(keep_audio), "heartbeat_utc": time.time(), "last_t": 0.0,
            "writer_pid": os.getpid(), "writer_host": _host_id(),
            **(meta or {}),
        })
        for role in roles:
            self.con.execute("INSERT OR REPLACE INTO participant VALUES (?, ?)", (role, codes.get(role, role)))
        for s in streams:
            self._stream_id(s)
        self.commit()

    # -- low level ----------------------------------------------------------------------------

    def _set_meta(self, kv: dict[str, Any]) -> None:
        for k, v in kv.items():
            self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                             (k, v if isinstance(v, str) or v is None else _dumps(v)))

    def _stream_id(self, s: StreamInfo) -> int:
        sid = self._stream_ids.get(s.key)
        if sid is None:
            cur = self.con.execute(
                "INSERT INTO stream (key, participant, kind, unit, rate, channels, label, utc_start) VALUES (?,?,?,?,?,?,?,?)",
                (s.key, s.participant, s.kind.value, s.unit, s.rate, _dumps(list(s.channels)), s.label, s.utc_start))
            sid = self._stream_ids[s.key] = int(cur.lastrowid)
        return sid

    def _write(self, sql: str, args: tuple) -> sqlite3.Cursor:
        try:
            cur = self.con.execute(sql, args)
        except sqlite3.OperationalError as exc:
            raise RecordingIOError(f"{self.path}: writing the session failed ({exc}); data committed so far is intact") from None
        self.maybe_commit()
        return cur

    def _many(self, sql: str, rows: list[tuple]) -> None:
        if not rows:
            return
        try:
            self.con.executemany(sql, rows)
        except sqlite3.OperationalError as exc:
            raise RecordingIOError(f"{self.path}: writing the session failed ({exc}); data committed so far is intact") from None
        self.maybe_commit()

    def commit(self) -> None:
        """Make everything written so far durable and start the next transaction."""
        if self.closed:
            return
        try:
            self.con.execute("INSERT OR REPLACE INTO meta VALUES ('heartbeat_utc', ?)", (_dumps(time.time()),))
            self.con.execute("INSERT OR REPLACE INTO meta VALUES ('last_t', ?)", (_dumps(self._last_t),))
            if self.con.in_transaction:  # SQLite itself rolls the transaction back on SQLITE_FULL
                self.con.execute("COMMIT")
            self.con.execute("BEGIN")
        except sqlite3.OperationalError as exc:
            raise RecordingIOError(f"{self.path}: committing the session failed ({exc}); data committed so far is intact") from None
        self._last_commit = self._clock()

    def maybe_commit(self) -> None:
        """Commit when the last commit is at least :attr:`commit_interval_s` old."""
        if not self.closed and self._clock() - self._last_commit >= self.commit_interval_s:
            self.commit()

    # -- what the runner hands over -----------------------------------------------------------

    def write_chunk(self, chunk: Chunk) -> bool:
        """Store a raw chunk; returns False for audio that privacy rules keep out of the file."""
        if chunk.kind is StreamKind.AUDIO and not self.keep_audio:
            return False
        sid = self._stream_id(chunk.stream)
        if chunk.kind is StreamKind.MARKER:
            data = _dumps([str(v) for v in chunk.values]).encode()
        else:
            data = np.ascontiguousarray(chunk.values, dtype="<f8").tobytes()
        times = None if chunk.times is None else np.ascontiguousarray(chunk.times, dtype="<f8").tobytes()
        self._last_t = max(self._last_t, float(chunk.t_end))
        self._write(
            "INSERT INTO chunk (stream_id, t_start, t_end, n, t0, times, data, gap_before, meta) VALUES (?,?,?,?,?,?,?,?,?)",
            (sid, chunk.start, float(chunk.t_end), len(chunk), chunk.t0, times, data, int(chunk.gap_before),
             _dumps(dict(chunk.meta)) if chunk.meta else None))
        return True

    def write_gap(self, stream_key: str, t_start: float, t_end: float) -> None:
        """Record a gap; one that continues the stream's previous gap extends it (a live silence
        is marked second by second, :class:`coregulate.sensors.live.SilenceWatch`)."""
        last = self._gap_rows.get(stream_key)
        if last is not None and last[1] == t_start:
            self._write("UPDATE gap SET t_end = ? WHERE rowid = ?", (t_end, last[0]))
            self._gap_rows[stream_key] = (last[0], t_end)
            return
        cur = self._write("INSERT INTO gap VALUES (?,?,?)", (stream_key, t_start, t_end))
        self._gap_rows[stream_key] = (cur.lastrowid, t_end)

    def _write_rows(self, table: str, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
        """Per-second rows: known columns as such, anything else an estimator added in ``extra``."""
        known = set(columns)
        cols = ", ".join(_q(c) for c in columns)
        marks = ", ".join("?" * (len(columns) + 1))
        self._many(
            f"INSERT OR REPLACE INTO {table} ({cols}, extra) VALUES ({marks})",
            [tuple(_clean(r.get(c)) for c in columns)
             + (_dumps({k: _clean(v) for k, v in r.items() if k not in known}) if set(r) - known else None,)
             for r in rows])

    def write_features(self, rows: list[dict[str, Any]]) -> None:
        self._write_rows("feature", FEATURE_COLUMNS, rows)

    def write_dyad(self, rows: list[dict[str, Any]]) -> None:
        self._write_rows("dyad", DYAD_COLUMNS, rows)

    def write_events(self, events: list[Event]) -> list[int]:
        ids = []
        for e in events:
            cur = self._write(
                "INSERT INTO event (kind, t_start, t_end, participant, rule, label, evidence) VALUES (?,?,?,?,?,?,?)",
                (e.kind, _clean(float(e.t_start)), _clean(None if e.t_end is None else float(e.t_end)),
                 e.participant, e.rule, e.label, _dumps(e.evidence)))
            ids.append(int(cur.lastrowid))
        return ids

    def set_meta(self, **kv: Any) -> None:
        self._set_meta(kv)

    def close(self, status: str = SessionStatus.COMPLETE) -> None:
        """Final commit with the session's end status (complete, stopped, failed)."""
        if self.closed:
            return
        try:
            self._set_meta({"status": status, "ended_utc": time.time()})
            self.commit()
            self.con.execute("COMMIT")
            self.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except (sqlite3.Error, RecordingIOError):
            # disk full: drop the unfinished transaction (lost anyway) and try to record at
            # least the end status; never mask the error that stopped the session
            try:
                if self.con.in_transaction:
                    self.con.execute("ROLLBACK")
                self._set_meta({"status": status, "ended_utc": time.time()})
            except sqlite3.Error:
                pass
        finally:
            self.closed = True
            self.con.close()


class SessionStore(_Annotations):
    """Reads a session file, finished or still being written (WAL allows concurrent readers).

    Parameters
    ----------
    path : path-like
        The session file.
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise MissingInputError("no such session file", path=self.path)
        try:
            self.con = _connect(self.path)
            self.meta = dict(self.con.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise InputError(f"not a Coregulate session file ({exc})", path=self.path) from None
        if "session_id" not in self.meta:
            raise InputError("not a Coregulate session file (no session id)", path=self.path)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "SessionStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _write(self, sql: str, args: tuple) -> sqlite3.Cursor:
        return self.con.execute(sql, args)

    def _meta_value(self, key: str, default: Any = None) -> Any:
        v = self.con.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        if v is None or v[0] is None:
            return default
        try:
            return json.loads(v[0])
        except (TypeError, ValueError):
            return v[0]

    # -- session description -----------------------------------------------------------------

    @property
    def session_id(self) -> str:
        return str(self._meta_value("session_id"))

    @property
    def utc0(self) -> float | None:
        return self._meta_value("utc0")

    @property
    def config(self) -> PipelineConfig:
        return PipelineConfig.as_recorded(self.con.execute("SELECT value FROM meta WHERE key='config'").fetchone()[0])

    def status(self) -> str:
        """The status the writer left (:class:`~coregulate.server.runner.SessionStatus`), or
        ``interrupted`` for a ``running`` file whose writer died; another word is returned as stored."""
        stored = str(self._meta_value("status", SessionStatus.UNKNOWN))
        status = SessionStatus(stored) if stored in SessionStatus._value2member_map_ else stored
        if status == SessionStatus.RUNNING:
            if self._writer_is_dead():
                return SessionStatus.INTERRUPTED
            beat = float(self._meta_value("heartbeat_utc", 0) or 0)
            if time.time() - beat > STALE_AFTER_S:
                return SessionStatus.INTERRUPTED
        return status

    def _writer_is_dead(self) -> bool:
        """On the writer's own host, a vanished writer process means the session was cut short."""
        pid, host = self._meta_value("writer_pid"), self._meta_value("writer_host")
        if pid is None or host != _host_id():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, ValueError, OverflowError):
            return False
        return False

    def mark_interrupted(self) -> None:
        """Record that the writer died (called when a stale running session is found)."""
        if self.status() == SessionStatus.INTERRUPTED:
            self.con.execute("INSERT OR REPLACE INTO meta VALUES ('status', ?)", (SessionStatus.INTERRUPTED,))

    def streams(self) -> list[StreamInfo]:
        out = []
        for key, participant, kind, rate, channels, label, utc_start in self.con.execute(
                "SELECT key, participant, kind, rate, channels, label, utc_start FROM stream ORDER BY id"):
            out.append(StreamInfo(participant, StreamKind(kind), rate, tuple(json.loads(channels or "[]")),
                                  label or "", utc_start))
        return out

    def participants(self) -> dict[str, str]:
        return dict(self.con.execute("SELECT role, code FROM participant ORDER BY role").fetchall())

    def stream_spans(self) -> dict[str, tuple[float, float]]:
        """Stream key -> (first chunk start, last chunk end) in session seconds."""
        return {k: (float(a), float(b)) for k, a, b in self.con.execute(
            "SELECT s.key, MIN(c.t_start), MAX(c.t_end) FROM chunk c JOIN stream s ON s.id = c.stream_id "
            "GROUP BY s.key") if a is not None}

    def duration(self) -> float:
        row = self.con.execute("SELECT MAX(t_end) FROM chunk").fetchone()
        t_chunks = row[0] or 0.0
        t_feat = self.con.execute("SELECT MAX(t_s) FROM feature").fetchone()[0] or 0
        return float(max(t_chunks, t_feat, float(self._meta_value("last_t", 0) or 0)))

    def info(self) -> dict[str, Any]:
        return {
            "id": self.session_id,
            "status": self.status(),
            "utc0": self.utc0,
            "created_utc": self._meta_value("created_utc"),
            "ended_utc": self._meta_value("ended_utc"),
            "duration_s": self.duration(),
            "participants": self.participants(),
            "streams": [{"key": s.key, "participant": s.participant, "kind": s.kind.value, "unit": s.unit,
                         "rate": s.rate, "label": s.label} for s in self.streams()],
            "keep_audio": bool(self._meta_value("keep_audio", 0)),
            "config": json.loads(self.config.to_json()),
            "sources": self._sources(),
        }

    def _sources(self) -> dict[str, Any] | None:
        """The ``sources`` metadata in its one schema (:func:`~.sources.source_meta`); files written
        before it kept a plain list of SPECs."""
        v = self._meta_value("sources")
        if isinstance(v, list):
            return {"kind": "files", "specs": v}
        if isinstance(v, str):  # a single SPEC that was not JSON
            return {"kind": "files", "specs": [v]}
        return v if isinstance(v, dict) else None

    # -- per-second tables --------------------------------------------------------------------

    def _rows(self, table: str, columns: tuple[str, ...], where: list[str], args: list[Any], order: str) -> list[dict]:
        # a session written before a column existed (e.g. heart_source) reads it as empty
        have = {r[1] for r in self.con.execute(f"PRAGMA table_info({table})")}
        present = [c for c in columns if c in have]
        sql = f"SELECT {', '.join(_q(c) for c in present)}, extra FROM {table}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        out = []
        for rec in self.con.execute(sql + f" ORDER BY {order}", args):
            row = dict.fromkeys(columns)
            row.update(zip(present, rec[:-1]))
            if rec[-1]:
                row.update(json.loads(rec[-1]))
            out.append(row)
        return out

    @staticmethod
    def _range(t_from, t_to, col="t_s"):
        where, args = [], []
        if t_from is not None:
            where.append(f"{col} >= ?")
            args.append(t_from)
        if t_to is not None:
            where.append(f"{col} <= ?")
            args.append(t_to)
        return where, args

    def features(self, t_from: float | None = None, t_to: float | None = None,
                 participant: str | None = None) -> list[dict[str, Any]]:
        where, args = self._range(t_from, t_to)
        if participant is not None:
            where.append("participant = ?")
            args.append(participant)
        return self._rows("feature", FEATURE_COLUMNS, where, args, "t_s, participant")

    def dyad(self, t_from: float | None = None, t_to: float | None = None) -> list[dict[str, Any]]:
        where, args = self._range(t_from, t_to)
        return self._rows("dyad", DYAD_COLUMNS, where, args, "t_s")

    def events(self, t_from: float | None = None, t_to: float | None = None) -> list[dict[str, Any]]:
        where, args = self._range(t_from, t_to, "t_start")
        sql = "SELECT id, kind, t_start, t_end, participant, rule, label, evidence FROM event"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [{"id": i, "kind": k, "t_start": a, "t_end": b, "participant": p, "rule": r, "label": lab,
                 "evidence": json.loads(ev or "{}")}
                # ties of t_start by person: with --jobs, people's rows (and the events they raise)
                # reach the recorder in whatever order their workers finish
                for i, k, a, b, p, r, lab, ev in self.con.execute(
                    sql + " ORDER BY t_start, COALESCE(participant, ''), id", args)]

    def annotations(self, include_deleted: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT id, t_s, t_end, author, text, source, created_utc, updated_utc, deleted FROM annotation"
        if not include_deleted:
            sql += " WHERE deleted = 0"
        keys = ("id", "t_s", "t_end", "author", "text", "source", "created_utc", "updated_utc", "deleted")
        return [dict(zip(keys, r)) for r in self.con.execute(sql + " ORDER BY t_s, id")]

    def gaps(self) -> list[dict[str, Any]]:
        return [{"stream": k, "t_start": a, "t_end": b} for k, a, b in self.con.execute("SELECT * FROM gap ORDER BY t_start")]

    # -- raw samples ----------------------------------------------------------------------------

    def chunks(self, stream_key: str | None = None, t_from: float | None = None,
               t_to: float | None = None) -> Iterator[Chunk]:
        """Recorded chunks (all streams in time order, or one), rebuilt exactly as recorded."""
        infos = {s.key: s for s in self.streams()}
        ids = dict(self.con.execute("SELECT id, key FROM stream").fetchall())
        where, args = [], []
        if stream_key is not None:
            where.append("stream_id = (SELECT id FROM stream WHERE key = ?)")
            args.append(stream_key)
        if t_from is not None:
            where.append("t_end >= ?")
            args.append(t_from)
        if t_to is not None:
            where.append("t_start <= ?")
            args.append(t_to)
        sql = "SELECT stream_id, t0, times, data, t_end, gap_before, meta FROM chunk"
        if where:
            sql += " WHERE " + " AND ".join(where)
        for sid, t0, times, data, t_end, gap, meta in self.con.execute(sql + " ORDER BY t_start, id", args):
            info = infos[ids[sid]]
            if info.kind is StreamKind.MARKER:
                values = np.array(json.loads(data.decode()), dtype=object)
            else:
                values = np.frombuffer(data, dtype="<f8")
                if info.channels:
                    values = values.reshape(-1, len(info.channels))
            yield Chunk(info, values, t0=t0,
                        times=None if times is None else np.frombuffer(times, dtype="<f8"),
                        t_end=t_end, gap_before=bool(gap), meta=json.loads(meta) if meta else {})

    def waveform(self, stream_key: str, t_from: float, t_to: float, max_points: int = 2000) -> dict[str, Any]:
        """Samples of one stream between two times, decimated by min/max pairs for display."""
        ts, vs = [], []
        for c in self.chunks(stream_key, t_from, t_to):
            st = c.sample_times()
            m = (st >= t_from) & (st <= t_to)
            v = c.values if c.values.ndim == 1 else np.linalg.norm(c.values, axis=1)
            ts.append(st[m])
            vs.append(np.asarray(v, dtype=float)[m])
        t = np.concatenate(ts) if ts else np.empty(0)
        v = np.concatenate(vs) if vs else np.empty(0)
        if len(t) > max_points > 1:
            # keep the min and max of each bin so that R peaks stay visible after decimation
            bins = max_points // 2
            edges = np.linspace(0, len(t), bins + 1).astype(int)
            idx = []
            for a, b in zip(edges[:-1], edges[1:]):
                if b > a:
                    seg = v[a:b]
                    i, j = a + int(np.argmin(seg)), a + int(np.argmax(seg))
                    idx.extend(sorted((i, j)))
            t, v = t[idx], v[idx]
        return {"stream": stream_key, "t": t.tolist(), "v": v.tolist()}
