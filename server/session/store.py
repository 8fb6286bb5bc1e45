"""Reading a session file back, finished or still being written: the replay view, ``export``,
the summary and the report read sessions through :class:`SessionStore`."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ...models.columns import DYAD_COLUMNS, FEATURE_COLUMNS
from ...models.config import PipelineConfig
from ...sensors.chunk import Chunk, StreamInfo, StreamKind
from ...sensors.errors import InputError, MissingInputError
from .runner import SessionStatus
from .session_file import STALE_AFTER_S, _Annotations, _connect, _host_id, _q


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
        """Close the database connection."""
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
        """The session's id (metadata ``session_id``)."""
        return str(self._meta_value("session_id"))

    @property
    def utc0(self) -> float | None:
        """Absolute (Unix) time of session time 0, ``None`` if unknown."""
        return self._meta_value("utc0")

    @property
    def config(self) -> PipelineConfig:
        """The pipeline configuration the session was run with, as recorded."""
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
        """The session's streams, in the order they were registered."""
        out = []
        for key, participant, kind, rate, channels, label, utc_start in self.con.execute(
                "SELECT key, participant, kind, rate, channels, label, utc_start FROM stream ORDER BY id"):
            out.append(StreamInfo(participant, StreamKind(kind), rate, tuple(json.loads(channels or "[]")),
                                  label or "", utc_start))
        return out

    def participants(self) -> dict[str, str]:
        """Each role's participant code (role to code)."""
        return dict(self.con.execute("SELECT role, code FROM participant ORDER BY role").fetchall())

    def stream_spans(self) -> dict[str, tuple[float, float]]:
        """Stream key -> (first chunk start, last chunk end) in session seconds."""
        return {k: (float(a), float(b)) for k, a, b in self.con.execute(
            "SELECT s.key, MIN(c.t_start), MAX(c.t_end) FROM chunk c JOIN stream s ON s.id = c.stream_id "
            "GROUP BY s.key") if a is not None}

    def duration(self) -> float:
        """The session's length (s): the latest chunk end, per-second row or recorded last time."""
        row = self.con.execute("SELECT MAX(t_end) FROM chunk").fetchone()
        t_chunks = row[0] or 0.0
        t_feat = self.con.execute("SELECT MAX(t_s) FROM feature").fetchone()[0] or 0
        return float(max(t_chunks, t_feat, float(self._meta_value("last_t", 0) or 0)))

    def info(self) -> dict[str, Any]:
        """The session's description: id, status, times, participants, streams, config and sources."""
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
        """Per-second rows, ordered by time and participant.

        Parameters
        ----------
        t_from, t_to : float, optional
            Session time range (s); open where ``None``.
        participant : str, optional
            Only this role's rows.
        """
        where, args = self._range(t_from, t_to)
        if participant is not None:
            where.append("participant = ?")
            args.append(participant)
        return self._rows("feature", FEATURE_COLUMNS, where, args, "t_s, participant")

    def dyad(self, t_from: float | None = None, t_to: float | None = None) -> list[dict[str, Any]]:
        """Dyad rows in the time range (s; open where ``None``), ordered by time."""
        where, args = self._range(t_from, t_to)
        return self._rows("dyad", DYAD_COLUMNS, where, args, "t_s")

    def events(self, t_from: float | None = None, t_to: float | None = None) -> list[dict[str, Any]]:
        """Events starting in the time range (s; open where ``None``), with their evidence decoded."""
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
        """The annotations, ordered by time (deleted ones only if ``include_deleted``)."""
        sql = "SELECT id, t_s, t_end, author, text, source, created_utc, updated_utc, deleted FROM annotation"
        if not include_deleted:
            sql += " WHERE deleted = 0"
        keys = ("id", "t_s", "t_end", "author", "text", "source", "created_utc", "updated_utc", "deleted")
        return [dict(zip(keys, r)) for r in self.con.execute(sql + " ORDER BY t_s, id")]

    def withdrawn_events(self) -> list[dict[str, Any]]:
        """Provisional events of the live session that the final data withdrew (an audit record,
        :mod:`~coregulate.models.provisional_events`; none in files older than the table)."""
        if not self.con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='withdrawn_event'").fetchone():
            return []
        sql = ("SELECT pid, kind, t_start, t_end, participant, rule, label, evidence, final_upto_s FROM withdrawn_event"
               " ORDER BY t_start, COALESCE(participant, ''), pid")
        return [{"pid": i, "kind": k, "t_start": a, "t_end": b, "participant": p, "rule": r, "label": lab,
                 "evidence": json.loads(ev or "{}"), "final_upto_s": up}
                for i, k, a, b, p, r, lab, ev, up in self.con.execute(sql)]

    def gaps(self) -> list[dict[str, Any]]:
        """The marked gaps: stream key, start and end (s), ordered by start."""
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
