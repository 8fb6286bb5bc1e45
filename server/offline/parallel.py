"""``analyze --jobs N``: each person's stream estimators in a worker process of their own.

The estimators, their inputs and the per-second merge are exactly those of the one-process
pipeline -- only *where* they run changes. A proxy takes the place of a person's estimators in
the main process: it ships each chunk to the worker without waiting and hands back whatever
seconds the worker has finished. Because the pipeline's rows never depend on when an
estimator's seconds arrive (see :mod:`coregulate.models.pipeline`), the output is identical to
``--jobs 1``; the tests check it byte for byte.

With ``--jobs 2`` or more, reading the input (decoding files, or generating the simulated
session) also moves to a process of its own (:class:`PrefetchSource`), overlapping it with the
estimators. The audio front end (it needs every microphone at once), the row and dyad
estimators and the recorder stay in the main process.
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

from ...models.base import Event, StreamEstimator
from ...models.config import PipelineConfig
from ...models.pipeline import ParticipantPipeline
from ...models.registry import DEFAULT_REGISTRY, Registry
from ...sensors.base import Source
from ...sensors.chunk import Chunk, StreamInfo
from ...sensors.pacing import paced
from .forking import forking_without_garbage

#: Chunks in flight before the main process waits for the worker (bounds memory).
MAX_IN_FLIGHT = 64


def _worker(conn, participant: str, streams: list[StreamInfo], config: PipelineConfig) -> None:
    estimators = DEFAULT_REGISTRY.stream_estimators(participant, streams, config)
    merge = ParticipantPipeline(participant, estimators, [], None)
    while True:
        msg = conn.recv()
        events: list[Event] = []
        try:
            if msg is None:
                rows = merge.finish(events)
                conn.send(("done", _seconds(rows), events))
                return
            rows = merge.update(msg, events)
            conn.send(("rows", _seconds(rows), events))
        except Exception as exc:  # the main process re-raises it with its own message
            conn.send(("error", repr(exc), []))
            return


def _seconds(rows: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    skip = {"t_s", "utc", "participant"}
    return [(r["t_s"], {k: v for k, v in r.items() if k not in skip and v is not None}) for r in rows]


class WorkerEstimators(StreamEstimator):
    """One person's stream estimators, running in a worker process."""

    def __init__(self, participant: str, streams: list[StreamInfo], config: PipelineConfig, ctx=None):
        inner = DEFAULT_REGISTRY.stream_estimators(participant, streams, config)
        self.accepts = frozenset().union(*(e.accepts for e in inner))
        ctx = ctx or mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_worker, args=(child, participant, streams, config), daemon=True,
                                 name=f"coregulate-{participant}")
        with forking_without_garbage():
            self._proc.start()
        child.close()
        self._in_flight = 0
        self._events: list[Event] = []

    def _receive(self, block: bool) -> list[tuple[int, dict[str, Any]]]:
        out = []
        while self._in_flight and (block or self._conn.poll()):
            kind, seconds, events = self._conn.recv()
            if kind == "error":
                raise RuntimeError(f"estimator worker failed: {seconds}")
            self._in_flight -= 1
            out.extend(seconds)
            self._events.extend(events)
            block = block and self._in_flight > MAX_IN_FLIGHT // 2
        return out

    def update(self, chunk: Chunk) -> list[tuple[int, dict[str, Any]]]:
        """Send one chunk to the worker; return the seconds it has finished so far.

        Waits for the worker only when more than ``MAX_IN_FLIGHT`` chunks are unanswered.
        """
        self._conn.send(chunk)
        self._in_flight += 1
        return self._receive(block=self._in_flight > MAX_IN_FLIGHT)

    def finish(self) -> list[tuple[int, dict[str, Any]]]:
        """End of data: wait for every answer, stop the worker and return the last seconds."""
        self._conn.send(None)
        self._in_flight += 1
        out = []
        while self._in_flight:
            out.extend(self._receive(block=True))
        self._proc.join(timeout=30)
        return out

    def events(self) -> list[Event]:
        """Events the worker's estimators raised since the last call."""
        ev, self._events = self._events, []
        return ev


class ParallelRegistry(Registry):
    """The default estimators, with up to ``jobs - 1`` people's stream estimators in workers
    (the main process keeps the rest of the work)."""

    def __init__(self, jobs: int):
        super().__init__()
        self.workers_left = max(0, jobs - 1)

    def stream_estimators(self, participant: str, streams: list[StreamInfo], config: PipelineConfig) -> list[StreamEstimator]:
        """The person's stream estimators, in a worker process while workers are left, else in this
        process (as :meth:`Registry.stream_estimators`).
        """
        if self.workers_left <= 0:
            return DEFAULT_REGISTRY.stream_estimators(participant, streams, config)
        self.workers_left -= 1
        return [WorkerEstimators(participant, streams, config)]


def _fork_context():
    return mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None


def _read(conn, source: Source, batch: int) -> None:
    try:
        buf = []
        for chunk in source.chunks():
            buf.append(chunk)
            if len(buf) >= batch:
                conn.send(buf)
                buf = []
        conn.send(buf)
        conn.send(None)
    except Exception as exc:  # re-raised in the main process, e.g. an InputError mid-file
        conn.send(exc)


class PrefetchSource(Source):
    """A replay/simulated source whose chunks are produced in a forked reader process.

    The source object is inherited by the fork (open files and all), so nothing is pickled but
    the chunks. Errors of the reader (a bad line deep in a file) are re-raised here unchanged.
    """

    def __init__(self, source: Source, batch: int = 16):
        self.inner = source
        self.streams = source.streams
        self.utc0 = source.utc0
        self.duration_s = getattr(source, "duration_s", None)
        self.batch = batch

    @staticmethod
    def possible(source: Source) -> bool:
        """Whether ``source`` can be read in a forked process (a fork is possible and the source is not paced)."""
        return _fork_context() is not None and hasattr(source, "chunks") and getattr(source, "speed", None) is None

    def annotations(self):
        """The inner source's annotations (read in this process)."""
        return self.inner.annotations()

    def _chunks(self):
        ctx = _fork_context()
        conn, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_read, args=(child, self.inner, self.batch), daemon=True, name="coregulate-reader")
        with forking_without_garbage():
            proc.start()
        child.close()
        try:
            while True:
                item = conn.recv()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield from item
        finally:
            proc.kill() if proc.is_alive() else None
            proc.join(timeout=5)

    def __aiter__(self):
        return paced(self._chunks(), None)
