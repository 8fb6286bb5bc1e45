"""Durable recording of a session as it runs, into the session file described in
:mod:`~coregulate.server.session.session_file`; :mod:`~coregulate.server.session.store` reads it back.

Durability: the recorder keeps one write transaction open and commits it at least once per
second of wall time (:attr:`Recorder.commit_interval_s`), so a killed process loses at most the
last second. WAL with ``synchronous=NORMAL`` makes each commit survive a process crash (it is
handed to the OS before ``COMMIT`` returns); only a power cut can lose the last commits.

Privacy: raw audio chunks are dropped unless the session was opened with ``keep_audio=True``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np

from ...models.base import Event
from ...models.columns import DYAD_COLUMNS, FEATURE_COLUMNS
from ...models.config import PipelineConfig
from ...sensors.chunk import Chunk, StreamInfo, StreamKind
from ...sensors.errors import OutputError, RecordingIOError
from .runner import SessionStatus
from .session_file import FORMAT_VERSION, SCHEMA, _Annotations, _clean, _connect, _dumps, _host_id, _q


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
        """Store finished per-second rows (the ``FEATURE_COLUMNS``)."""
        self._write_rows("feature", FEATURE_COLUMNS, rows)

    def write_dyad(self, rows: list[dict[str, Any]]) -> None:
        """Store finished dyad rows (the ``DYAD_COLUMNS``)."""
        self._write_rows("dyad", DYAD_COLUMNS, rows)

    def write_events(self, events: list[Event]) -> list[int]:
        """Store events; returns their ids in the ``event`` table, in order."""
        ids = []
        for e in events:
            cur = self._write(
                "INSERT INTO event (kind, t_start, t_end, participant, rule, label, evidence) VALUES (?,?,?,?,?,?,?)",
                (e.kind, _clean(float(e.t_start)), _clean(None if e.t_end is None else float(e.t_end)),
                 e.participant, e.rule, e.label, _dumps(e.evidence)))
            ids.append(int(cur.lastrowid))
        return ids

    def write_withdrawn_event(self, update: dict[str, Any]) -> None:
        """Keep a withdrawn provisional event (an update of :mod:`~coregulate.models.provisional_events`)."""
        e = update["event"]
        self._write(
            "INSERT INTO withdrawn_event (pid, kind, t_start, t_end, participant, rule, label, evidence, final_upto_s)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (update["pid"], e["kind"], _clean(float(e["t_start"])), _clean(None if e["t_end"] is None else float(e["t_end"])),
             e["participant"], e["rule"], e["label"], _dumps(e["evidence"]), update.get("final_upto_s")))

    def set_meta(self, **kv: Any) -> None:
        """Store metadata entries in the ``meta`` table (strings as they are, other values as JSON)."""
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


class RecorderSink:
    """The session file as the first of the runner's sinks.

    Its errors end the session (``fatal``; see :func:`~coregulate.server.session.runner._call`). Being first, it also gives each
    event and annotation its id in the file before the other sinks see it, and it records a
    stream's gap from the end of that stream's previous chunk.
    """

    fatal = True

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self._last_end: dict[str, float] = {}

    def on_chunk(self, chunk: Chunk) -> None:
        """Write the chunk, after the gap before it if it has one."""
        key = chunk.stream.key
        if chunk.gap_before and key in self._last_end:
            self.recorder.write_gap(key, self._last_end[key], chunk.start)
        self._last_end[key] = max(float(chunk.t_end), self._last_end.get(key, float("-inf")))  # late chunks: no step back
        self.recorder.write_chunk(chunk)

    def on_features(self, rows: list[dict[str, Any]]) -> None:
        """Write final feature rows."""
        self.recorder.write_features(rows)

    def on_dyad(self, rows: list[dict[str, Any]]) -> None:
        """Write final dyad rows."""
        self.recorder.write_dyad(rows)

    def on_events(self, events: list[dict[str, Any]]) -> None:
        """Write events and set each one's ``id`` in the file."""
        ids = self.recorder.write_events([Event(**{k: v for k, v in e.items() if k != "id"}) for e in events])
        for e, i in zip(events, ids):
            e["id"] = i

    def on_event_updates(self, updates: list[dict[str, Any]]) -> None:
        """Keep the withdrawn provisional events (the confirmed ones are final events already)."""
        for u in updates:
            if u["state"] == "withdrawn":
                self.recorder.write_withdrawn_event(u)

    def on_annotation(self, annotation: dict[str, Any]) -> None:
        """Write an annotation and set its ``id`` in the file."""
        a = annotation
        a["id"] = self.recorder.add_annotation(a["t_s"], a["text"], a["author"], a["t_end"], a["source"])
