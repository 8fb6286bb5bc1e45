"""Faults at the runner/recorder level: a source that stalls then floods, a source that dies,
one of two straps dropping out for 30 s, and a disk that fills up while recording.

The sources are small :class:`Source` subclasses that replay the simulator's chunks with the
fault written into them, so every case runs through the real pipeline and recorder.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from coregulate.models.config import PipelineConfig
from coregulate.sensors.base import Source
from coregulate.sensors.errors import RecordingIOError
from coregulate.sensors.simulator import Simulator
from coregulate.server.session.recorder import Recorder
from coregulate.server.session.store import SessionStore
from coregulate.server.session.runner import SessionRunner

CONFIG = PipelineConfig()


class SimChunks(Source):
    """The simulator's chunks (no audio) up to ``until_s``, with hooks for faults."""

    def __init__(self, until_s: float, seed: int = 3):
        self.sim = Simulator(seed=seed, duration_s=max(until_s, 301.0), audio=False)
        self.streams = self.sim.streams
        self.utc0 = self.sim.utc0
        self.until_s = until_s
        self.yielded: list = []
        self.closed = False

    def raw(self):
        for c in self.sim.chunks():
            if c.start >= self.until_s:
                return
            yield c

    async def _gen(self):
        for c in self.raw():
            await asyncio.sleep(0)
            self.yielded.append(c)
            yield c

    def __aiter__(self):
        return self._gen()

    async def aclose(self) -> None:
        self.closed = True


class StallThenFlood(SimChunks):
    """Delivers the first ``stall_at`` seconds, goes silent for ``stall_s`` of wall time, then
    delivers everything else at once without yielding to the loop (a backlog released)."""

    def __init__(self, until_s: float, stall_at: float, stall_s: float):
        super().__init__(until_s)
        self.stall_at = stall_at
        self.stall_s = stall_s
        self.stall_started: float | None = None
        self.flood_started: float | None = None

    async def _gen(self):
        stalled = False
        for c in self.raw():
            if not stalled and c.start >= self.stall_at:
                stalled = True
                self.stall_started = time.monotonic()
                await asyncio.sleep(self.stall_s)
                self.flood_started = time.monotonic()
            elif not stalled:
                await asyncio.sleep(0)
            self.yielded.append(c)
            yield c


class DiesAt(SimChunks):
    """A driver that crashes part-way through the session."""

    def __init__(self, until_s: float, dies_at: float):
        super().__init__(until_s)
        self.dies_at = dies_at

    async def _gen(self):
        for c in self.raw():
            if c.start >= self.dies_at:
                raise ConnectionResetError("strap driver crashed")
            await asyncio.sleep(0)
            self.yielded.append(c)
            yield c


class StrapDrops(SimChunks):
    """One person's strap (ECG and RR) drops out for [drop_from, drop_to); the next chunk of
    each of its streams is flagged ``gap_before``, as a reconnecting strap would."""

    def __init__(self, until_s: float, who: str | None, drop_from: float, drop_to: float):
        super().__init__(until_s)
        self.who, self.drop_from, self.drop_to = who, drop_from, drop_to

    async def _gen(self):
        missing: set[str] = set()
        for c in self.raw():
            if c.participant == self.who and self.drop_from <= c.start < self.drop_to:
                missing.add(c.stream.key)
                continue
            if c.stream.key in missing:
                missing.discard(c.stream.key)
                c = dataclasses.replace(c, gap_before=True)
            await asyncio.sleep(0)
            self.yielded.append(c)
            yield c


class StatusSink:
    def __init__(self):
        self.statuses: list[str] = []
        self.feature_rows = 0

    def on_status(self, s):
        self.statuses.append(s["status"])

    def on_features(self, rows):
        self.feature_rows += len(rows)


def _session(tmp_path: Path, source: Source, name: str = "s.sqlite", **kw):
    path = tmp_path / name
    rec = Recorder(path, "s1", source.streams, CONFIG, utc0=source.utc0, **kw)
    sink = StatusSink()
    return path, rec, SessionRunner(source, rec, CONFIG, sinks=[sink]), sink


def _committed_t_end(path: Path) -> float:
    """What another process would see: a fresh read-only connection, committed data only."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return float(con.execute("SELECT COALESCE(MAX(t_end), 0) FROM chunk").fetchone()[0])
    finally:
        con.close()


def _same_chunks(path: Path, expected: list) -> None:
    with SessionStore(path) as st:
        got = list(st.chunks())
    key = lambda c: (c.stream.key, c.start)  # noqa: E731
    got_by, exp_by = {key(c): c for c in got}, {key(c): c for c in expected}
    assert set(got_by) == set(exp_by)
    for k, c in exp_by.items():
        np.testing.assert_array_equal(got_by[k].values, c.values)
        assert got_by[k].t_end == c.t_end


def _consecutive(rows: list[dict]) -> list[int]:
    return [r["t_s"] for r in rows]


# -- stall, then flood ---------------------------------------------------------------------------

async def test_stall_keeps_committing_then_flood_is_processed_completely(tmp_path):
    src = StallThenFlood(until_s=150, stall_at=30, stall_s=4.0)
    path, rec, runner, sink = _session(tmp_path, src)
    task = asyncio.create_task(runner.run())
    while src.stall_started is None:
        await asyncio.sleep(0.01)
        assert not task.done(), task
    # During the silence the runner must still commit what it has: another reader sees the
    # data up to the stall within about a second (one commit interval), not at the flood.
    seen_at = None
    while src.flood_started is None:
        if _committed_t_end(path) >= 30.0:
            seen_at = time.monotonic() - src.stall_started
            break
        await asyncio.sleep(0.05)
    assert seen_at is not None, "nothing committed during a 4-s stall"
    # one commit interval, plus the committer's half-interval tick and scheduling on a busy machine
    assert seen_at <= rec.commit_interval_s + 1.5, f"data up to the stall became visible only after {seen_at:.2f} s"
    assert await task == "complete"
    assert sink.statuses == ["running", "complete"]
    # the flood: every chunk recorded exactly, and the features of every second of both people
    _same_chunks(path, src.yielded)
    with SessionStore(path) as st:
        assert st.status() == "complete"
        for who in ("client", "therapist"):
            assert _consecutive(st.features(participant=who)) == list(range(1, 151))
        assert _consecutive(st.dyad()) == list(range(1, 151))


# -- a source that dies ----------------------------------------------------------------------

async def test_source_that_dies_fails_the_session_and_keeps_the_data(tmp_path):
    src = DiesAt(until_s=200, dies_at=60)
    path, rec, runner, sink = _session(tmp_path, src)
    with pytest.raises(ConnectionResetError, match="strap driver crashed"):
        await runner.run()
    assert runner.status == "failed" and isinstance(runner.error, ConnectionResetError)
    assert sink.statuses == ["running", "failed"]
    assert src.closed, "the source was not released"
    assert rec.closed
    _same_chunks(path, src.yielded)
    with SessionStore(path) as st:
        assert st.status() == "failed"
        assert st.duration() == pytest.approx(60.0)
        feats = st.features(participant="client")
        # every second finished before the crash is there, none is invented after it
        assert _consecutive(feats) == list(range(1, len(feats) + 1))
        assert 50 <= len(feats) <= 60  # the heart estimator finishes a second a few s late
        assert all(r["hr_bpm"] is not None and 50 < r["hr_bpm"] < 120 for r in feats[-10:])
    # and the file replays through the same pipeline
    from coregulate.server.session.sources import build_source

    replay = build_source([str(path)], None)
    n = 0
    async for _ in replay:
        n += 1
    assert n == len(src.yielded)


# -- one of two straps drops out for 30 s ----------------------------------------------------

async def _run_to_rows(tmp_path, src, name):
    path, _, runner, _ = _session(tmp_path, src, name)
    assert await runner.run() == "complete"
    with SessionStore(path) as st:
        return st, {w: {r["t_s"]: r for r in st.features(participant=w)} for w in ("client", "therapist")}, st.gaps()


async def test_one_strap_dropping_for_30_s_is_a_recorded_gap_not_invented_data(tmp_path):
    drop_from, drop_to, until = 200.0, 230.0, 330.0
    _, rows, gaps = await _run_to_rows(tmp_path, StrapDrops(until, "client", drop_from, drop_to), "drop.sqlite")
    _, ref, ref_gaps = await _run_to_rows(tmp_path, StrapDrops(until, None, drop_from, drop_to), "ref.sqlite")
    assert ref_gaps == []
    # the gap is in the file, per stream of the strap that dropped, and nowhere else
    assert {g["stream"] for g in gaps} == {"client/ecg", "client/rr"}
    ecg_gap = next(g for g in gaps if g["stream"] == "client/ecg")
    assert ecg_gap["t_start"] == pytest.approx(drop_from) and ecg_gap["t_end"] == pytest.approx(drop_to)
    rr_gap = next(g for g in gaps if g["stream"] == "client/rr")
    assert rr_gap["t_start"] <= drop_from + 1 and drop_to <= rr_gap["t_end"] < drop_to + 2
    client = rows["client"]
    assert sorted(client) == list(range(1, int(until) + 1)), "seconds must stay consecutive across a gap"
    # while the strap is off nothing new is reported: no 1-s HR, no spectrum, no beat enters the
    # window; the 60-s window indices come from the beats before the drop (issue 13: a gap costs
    # coverage, not the window), with the coverage falling and quality below good
    for t in range(int(drop_from) + 4, int(drop_to) + 1):
        row = client[t]
        assert row["hr_inst_bpm"] is None and row["hf_ms2"] is None, t
        assert row["beats_in_window"] <= client[t - 1]["beats_in_window"], t
        assert row["heart_coverage"] <= 1.0 - (t - drop_from - 3) / 60.0, t
        assert row["hr_bpm"] is None or row["heart_coverage"] >= 0.5, t
        if t >= drop_from + 8:
            assert row["quality"] in ("fair", "poor", "none"), t
    # before the drop the values were there and equal to the undisturbed run
    for t in range(100, int(drop_from)):
        assert client[t]["hr_bpm"] is not None and client[t]["hr_bpm"] == ref["client"][t]["hr_bpm"]
    # HR comes back once the strap is on again
    assert any(client[t]["hr_bpm"] is not None for t in range(int(drop_to) + 1, int(until) + 1))
    # the therapist's features do not notice the client's strap at all
    assert rows["therapist"] == ref["therapist"]


# -- disk full ---------------------------------------------------------------------------------

class FullDiskConnection:
    """A sqlite3 connection whose writes fail with SQLITE_FULL once ``full`` is set."""

    def __init__(self, con: sqlite3.Connection):
        self._con = con
        self.full = False
        self.fail_count = 0

    def _check(self, sql: str) -> None:
        # reads and a rollback need no new space; everything else fails like SQLITE_FULL
        if self.full and not sql.lstrip().upper().startswith(("SELECT", "PRAGMA", "ROLLBACK")):
            self.fail_count += 1
            raise sqlite3.OperationalError("database or disk is full")

    def execute(self, sql, *args):
        self._check(sql)
        return self._con.execute(sql, *args)

    def executemany(self, sql, *args):
        self._check(sql)
        return self._con.executemany(sql, *args)

    def __getattr__(self, name):
        return getattr(self._con, name)


class FillsDiskAt(SimChunks):
    def __init__(self, until_s: float, full_at: float, con_box: list):
        super().__init__(until_s)
        self.full_at = full_at
        self.con_box = con_box

    async def _gen(self):
        for c in self.raw():
            if c.start >= self.full_at:
                self.con_box[0].full = True
            await asyncio.sleep(0)
            self.yielded.append(c)
            yield c


def _check_disk_full_outcome(path: Path, runner, sink, exc_info, last_committed: float) -> None:
    msg = str(exc_info.value)
    assert "disk is full" in msg and str(path) in msg and "intact" in msg
    assert runner.status == "failed"
    assert sink.statuses[-1] == "failed", sink.statuses
    assert runner.recorder.closed
    with SessionStore(path) as st:
        # what was committed before the disk filled is there and readable
        assert st.duration() >= last_committed
        feats = st.features(participant="client")
        assert _consecutive(feats) == list(range(1, len(feats) + 1))
        for c in st.chunks("client/ecg"):
            assert len(c) and np.isfinite(c.values).all()


async def test_disk_full_stops_cleanly_with_a_clear_error(tmp_path):
    box: list = [None]
    src = FillsDiskAt(until_s=200, full_at=80, con_box=box)
    # a wall clock on which the session runs at x10: a commit every 10 session seconds
    clock = lambda: (src.yielded[-1].t_end if src.yielded else 0.0) / 10.0  # noqa: E731
    path, rec, runner, sink = _session(tmp_path, src, clock=clock)
    rec.con = box[0] = FullDiskConnection(rec.con)
    with pytest.raises(RecordingIOError) as exc_info:
        await runner.run()
    assert box[0].fail_count >= 1
    committed = _committed_t_end(path)
    # at most the last commit interval (10 session seconds here) is lost
    assert 80.0 - 10.0 - 1.0 <= committed <= 80.0
    _check_disk_full_outcome(path, runner, sink, exc_info, committed)


@pytest.fixture
def small_fs(tmp_path):
    """A 1-MB tmpfs (root only; skipped where mounting is not permitted)."""
    d = tmp_path / "small"
    d.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(d)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], check=False)


async def test_real_full_filesystem_stops_cleanly_with_a_clear_error(small_fs):
    src = SimChunks(until_s=900)
    clock = lambda: (src.yielded[-1].t_end if src.yielded else 0.0) / 10.0  # noqa: E731
    path, rec, runner, sink = _session(small_fs, src, clock=clock)
    # leave ~300 kB: a few minutes of two ECG straps with their features and WAL
    free = os.statvfs(small_fs).f_bavail * os.statvfs(small_fs).f_frsize
    (small_fs / "filler").write_bytes(b"\0" * max(free - 300_000, 0))
    with pytest.raises(RecordingIOError) as exc_info:
        await runner.run()
    assert src.yielded[-1].start < 899, "the filesystem never filled up"
    committed = _committed_t_end(path)
    assert committed > 10.0
    _check_disk_full_outcome(path, runner, sink, exc_info, committed)
    # SQLite rolls back the transaction that hit the full disk, which frees room in the WAL
    # for the end status: the file says why it ended
    with SessionStore(path) as st:
        assert st.status() == "failed"



# -- a websocket client that reconnects 100 times ----------------------------------------------

@pytest.fixture
def live_server(tmp_path):
    """The real app (real simulator, runner, recorder) under uvicorn in a thread."""
    import socket
    import threading

    import uvicorn

    from coregulate.server.web.app import Settings, create_app

    sup, view = "r" * 20 + "-supervisor", "w" * 20 + "-viewer-token"
    app = create_app(Settings(data_dir=tmp_path / "data", token=sup, viewer_token=view))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert th.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)
    yield port, sup, view, tmp_path / "data"
    srv.should_exit = True
    th.join(20)


async def test_a_viewer_reconnecting_100_times_disturbs_neither_other_viewers_nor_ingestion(live_server):
    import httpx
    import websockets

    port, sup, view, data = live_server
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {sup}"}, timeout=30) as http:
        r = await http.post("/api/sessions", json={"source": {"kind": "simulator", "duration_s": 360, "audio": False,
                                                              "seed": 5}, "speed": 24, "start": False})
        sid = r.json()["id"]
        url = f"ws://127.0.0.1:{port}/api/sessions/{sid}/ws"
        proto = ["coregulate", f"token.{view}"]

        async def steady() -> list[int]:
            seqs = []
            async with websockets.connect(url + "?since=0", subprotocols=proto) as ws:
                async for msg in ws:
                    f = json.loads(msg)
                    if not f.get("lossy"):
                        seqs.append(f["seq"])
                        if f["type"] == "end":
                            break
            return seqs

        async def flapping() -> tuple[list[int], int]:
            seqs, last, n = [], 0, 0
            ended = False
            while not ended:
                n += 1
                async with websockets.connect(f"{url}?since={last}", subprotocols=proto) as ws:
                    # read one or two frames, then drop the connection (or, after 100, read to the end)
                    reads = 0
                    async for msg in ws:
                        f = json.loads(msg)
                        reads += 1
                        if not f.get("lossy") and f["seq"] > last:
                            seqs.append(f["seq"])
                            last = f["seq"]
                            ended = f["type"] == "end"
                        if ended or (n <= 100 and reads >= 1 + n % 2):
                            break
            return seqs, n

        steady_task = asyncio.create_task(steady())
        flap_task = asyncio.create_task(flapping())
        await asyncio.sleep(0.3)
        t0 = time.monotonic()
        (await http.post(f"/api/sessions/{sid}/start")).raise_for_status()
        steady_seqs = await asyncio.wait_for(steady_task, 120)
        flap_seqs, connections = await asyncio.wait_for(flap_task, 120)
        wall = time.monotonic() - t0
        status = (await http.get(f"/api/sessions/{sid}/status")).json()

    assert connections > 100
    # the steady viewer and the flapping one both have every kept frame exactly once
    assert steady_seqs == list(range(1, steady_seqs[-1] + 1))
    assert flap_seqs == steady_seqs
    assert status["status"] == "complete" and status["hub"]["viewers"] == 0
    # ingestion kept its pace (x24: 15 s of wall time) and lost nothing
    assert wall < 15 * 2.5, wall
    with SessionStore(data / "sessions" / f"{sid}.sqlite") as st:
        for who in ("client", "therapist"):
            assert _consecutive(st.features(participant=who)) == list(range(1, 361))
