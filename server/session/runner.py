"""The session runner: pulls chunks from a source, feeds the pipeline, and hands every chunk,
feature row, event and annotation to its sinks: first the session file
(:class:`~coregulate.server.session.recorder.RecorderSink`),
then the others (websocket hub, LSL outlet, progress bar), in one loop.

It is the same object for a live session, a replay at any speed and ``analyze`` (speed max, no
hub): one code path, so they cannot disagree. The recorder is the first sink, so a viewer never
sees something that is not yet on its way to disk.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from ...models.config import PipelineConfig
from ...models.pipeline import PipelineOutput, SessionPipeline
from ...models.registry import DEFAULT_REGISTRY, Registry
from ...sensors.base import Source
from ...sensors.chunk import Chunk, StreamKind

if TYPE_CHECKING:  # the recorder reads SessionStatus from here
    from .recorder import Recorder

log = logging.getLogger(__name__)

#: The annotation text of a marker that arrived without a label (a damaged or bare marker stream).
EMPTY_MARKER_TEXT = "(empty marker)"


class SessionStatus(StrEnum):
    """Where a session is in its life; owned here, read by the recorder, the server and the API.

    A :class:`~enum.StrEnum`: each member *is* its string, so the values stored in the session
    file's ``meta`` table and sent as JSON are the same words as before the enum existed.
    """

    CREATED = "created"  # registered by the server, not started
    STARTING = "starting"  # recorder and runner being built
    RUNNING = "running"
    COMPLETE = "complete"  # the source ended
    STOPPED = "stopped"  # asked to stop (Ctrl-C, SIGTERM, the API)
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # a file left "running" by a writer that died
    UNKNOWN = "unknown"  # a file without a status
    UNREADABLE = "unreadable"  # a file that cannot be read

    @staticmethod
    def is_active(status: str) -> bool:
        """Not finished yet: created, starting or running (any other word is finished)."""
        return status in (SessionStatus.CREATED, SessionStatus.STARTING, SessionStatus.RUNNING)


class Sink(Protocol):
    """Receives everything the runner produces. Callbacks must be quick and never block."""

    def on_chunk(self, chunk: Chunk) -> None:
        """A raw chunk, as read from the source."""

    def on_features(self, rows: list[dict[str, Any]]) -> None:
        """Finished per-second rows of the participants."""

    def on_dyad(self, rows: list[dict[str, Any]]) -> None:
        """Finished dyad rows."""

    def on_events(self, events: list[dict[str, Any]]) -> None:
        """Events, as dicts (:meth:`Event.to_dict`)."""

    def on_annotation(self, annotation: dict[str, Any]) -> None:
        """An annotation added, changed or deleted (``op`` and the annotation's fields)."""

    def on_status(self, status: dict[str, Any]) -> None:
        """The session's status and session time ``t`` (s) when it changes (running, stopped, ...)."""

    def on_provisional(self, values: list[dict[str, Any]]) -> None:
        """Provisional values (live only; never stored)."""

    def on_event_updates(self, updates: list[dict[str, Any]]) -> None:
        """Provisional events pushed, confirmed or withdrawn (live only; the withdrawn ones are kept apart)."""


def _call(sinks, name: str, arg) -> None:
    """Hand ``arg`` to every sink's ``name`` callback, in order.

    Failure policy: a sink marked ``fatal`` (the session file) raises, which ends the session,
    because nothing may be lost silently; any other sink's error is logged and skipped, because
    a broken viewer must never stop the recording.
    """
    for s in sinks:
        fn = getattr(s, name, None)
        if fn is None:
            continue
        if getattr(s, "fatal", False):
            fn(arg)
            continue
        try:
            fn(arg)
        except Exception:
            log.exception("sink %r failed in %s", s, name)


class SessionRunner:
    """Runs one session from ``source`` into ``recorder``.

    Parameters
    ----------
    source : Source
        Simulator, replay or live adapters.
    recorder : Recorder
        Where everything is written durably.
    config : PipelineConfig
        Estimator settings (already saved in the recorder).
    sinks : list
        Objects with any of the :class:`Sink` callbacks.
    registry : Registry
        Estimator factories (``analyze --jobs`` runs people's estimators in worker processes).

    Provisional values (issue #15) are computed only when a sink has ``on_provisional`` (a live
    viewer's hub): they go to the sinks, never to the recorder, so ``analyze`` (no such sink)
    does not pay for them and the recorded rows are the same either way. Provisional events'
    updates (``on_event_updates``: pushed, confirmed, withdrawn) go to the sinks after the final
    events; the recorder keeps the withdrawn ones apart, as an audit record.
    """

    def __init__(self, source: Source, recorder: Recorder, config: PipelineConfig | None = None,
                 sinks: list[Any] | None = None, registry: Registry = DEFAULT_REGISTRY):
        self.source = source
        self.recorder = recorder
        self.config = config or PipelineConfig()
        self.sinks = list(sinks or [])
        from .recorder import RecorderSink  # here: the recorder module reads SessionStatus from this one

        self.outputs = [RecorderSink(recorder), *self.sinks]  # the one fan-out, the file first
        wants_provisional = any(hasattr(s, "on_provisional") for s in self.sinks)
        self.pipeline = SessionPipeline(source.streams, self.config, source.utc0, registry,
                                        provisional=wants_provisional)
        self._stop = asyncio.Event()
        self._draining = False
        self.t = 0.0
        self.status = SessionStatus.CREATED
        self.error: BaseException | None = None

    #: Longest wait, after a stop, for a live source to hand over what it already received.
    drain_timeout_s = 1.0

    def stop(self) -> None:
        """Ask the session to end; what the sources already received is still recorded.

        Safe to call from a signal handler or a sink callback (it only sets a flag and asks
        the source to stop acquiring); :meth:`run` then returns :attr:`SessionStatus.STOPPED`.
        """
        if not self._stop.is_set():
            self._stop.set()
            self._draining = bool(self.source.request_stop())

    def add_annotation(self, t_s: float, text: str, author: str = "", t_end: float | None = None,
                       source: str = "user") -> dict[str, Any]:
        """Annotate a live session through its own writer (never a second writer connection)."""
        ann = {"id": None, "t_s": t_s, "t_end": t_end, "author": author, "text": text, "source": source}
        _call(self.outputs, "on_annotation", ann)  # the file sets the id first
        return ann

    async def _commit_periodically(self) -> None:
        # while a live source is silent, the last second must still reach the disk
        while True:
            await asyncio.sleep(self.recorder.commit_interval_s / 2)
            self.recorder.maybe_commit()

    async def run(self) -> SessionStatus:
        """Run to the end of the source (or :meth:`stop`); returns the final status."""
        self.status = SessionStatus.RUNNING
        _call(self.sinks, "on_status", {"status": SessionStatus.RUNNING, "t": 0.0})
        for (a, b, text) in self.source.annotations():
            self.add_annotation(a, text, author="file", t_end=b, source="file")
        committer = asyncio.create_task(self._commit_periodically())
        status = SessionStatus.COMPLETE
        try:
            status = await self._consume()
            # a stopped session's tail is computed too (it is what `analyze` of its file gives);
            # only a failed or cancelled run leaves it to a later analysis
            self.emit(self.pipeline.finish())
        except asyncio.CancelledError:
            status = SessionStatus.STOPPED
            raise
        except BaseException as exc:
            status = SessionStatus.FAILED
            self.error = exc
            raise
        finally:
            committer.cancel()
            self.status = status
            try:
                await self.source.aclose()
            finally:
                self.recorder.close(status)
                _call(self.sinks, "on_status", {"status": status, "t": self.t})
        return status

    async def _handle_all(self) -> None:
        async for chunk in self.source:
            self.handle(chunk)
            if self._stop.is_set() and not self._draining:
                return
            # A paced source that runs behind schedule (or speed max) never sleeps: without this
            # the loop would never run a stop request, the commit timer or a viewer's frames.
            await asyncio.sleep(0)

    async def _consume(self) -> SessionStatus:
        """Handle chunks until the source ends or a stop is asked for.

        A stop does not cancel the reading outright: a live source first gets
        :meth:`Source.request_stop`, and its chunks keep flowing into the recorder until it
        ends (at most :attr:`drain_timeout_s`); only a source that holds nothing worth
        draining (files, simulator) is cut at once. Cancelling the reader instead (what an
        unhandled SIGINT does) drops what sits in the source's queues and device buffers:
        the tail of the recording the user saw arrive.
        """
        reader = asyncio.ensure_future(self._handle_all())
        stop_asked = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({reader, stop_asked}, return_when=asyncio.FIRST_COMPLETED)
            if not reader.done():
                if self._draining:
                    await asyncio.wait({reader}, timeout=self.drain_timeout_s)
                    if not reader.done():
                        log.warning("the source did not end within %.1f s of the stop; closing it", self.drain_timeout_s)
                if not reader.done():
                    reader.cancel()
                    await asyncio.gather(reader, return_exceptions=True)
                    return SessionStatus.STOPPED
            reader.result()  # the source's own error, if any
            return SessionStatus.STOPPED if self._stop.is_set() else SessionStatus.COMPLETE
        finally:
            stop_asked.cancel()
            if not reader.done():  # the runner itself was cancelled
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)

    def handle(self, chunk: Chunk) -> None:
        """One chunk through the sinks and the pipeline (synchronous: no awaits in between)."""
        _call(self.outputs, "on_chunk", chunk)
        if chunk.kind is StreamKind.MARKER:
            for t, label in zip(chunk.sample_times(), chunk.values):
                # an empty marker still marks a moment: kept, with a text that says it was empty
                text = str(label).strip() or EMPTY_MARKER_TEXT
                self.add_annotation(float(t), text, author=chunk.stream.label or "marker", source="stream")
        self.t = max(self.t, float(chunk.t_end))
        self.emit(self.pipeline.update(chunk))

    def emit(self, out: PipelineOutput) -> None:
        """Hand one pipeline output to every sink: features, dyad rows, events, then provisional values."""
        if not out:
            return
        if out.features:
            _call(self.outputs, "on_features", out.features)
        if out.dyad:
            _call(self.outputs, "on_dyad", out.dyad)
        events = [e.to_dict() for e in out.events]
        if events:
            _call(self.outputs, "on_events", events)
        if out.provisional:  # viewers only: the recorder keeps final values (it has no on_provisional)
            _call(self.outputs, "on_provisional", out.provisional)
        if out.event_updates:
            # after on_events, which gave the final events their ids: a confirmation names its final event
            # (always one of this output's: the pipeline settles as soon as a final event is made)
            ids = {id(e): d.get("id") for e, d in zip(out.events, events)}
            _call(self.outputs, "on_event_updates",
                  [u.to_dict(ids.get(id(u.final))) for u in out.event_updates])


def new_session_id(kind: str = "") -> str:
    """The one id scheme of sessions, also their file name: ``[KIND-]YYYYmmdd-HHMMSS-xxxxxx``.

    UTC time of creation and 6 random hex digits (two sessions started in the same second do not
    collide); ``kind`` says where it came from (``live``: ``record``, ``replay``: ``replay
    --headless``; none for the server's own sessions). ``analyze`` names a session after its
    output folder instead.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{kind}-{stamp}-{secrets.token_hex(3)}" if kind else f"{stamp}-{secrets.token_hex(3)}"


def open_session(source: Source, config: PipelineConfig, path, session_id: str, *, keep_audio: bool = False,
                 participants: dict[str, str] | None = None, meta: dict[str, Any] | None = None,
                 sinks: list[Any] | None = None, registry: Registry | None = None,
                 recorder_cls: Any = None, runner_cls: Any = None) -> SessionRunner:
    """The one way to open a session: its file (a :class:`~.recorder.Recorder`) and its runner.

    Used by ``analyze``, ``replay``, ``record`` and the server, so that every session file is made
    the same way. The recorder is the first of the runner's sinks (:class:`~.recorder.RecorderSink`): its
    errors end the session (nothing may be lost silently), while a failing sink after it is
    logged and skipped (:func:`_call`).

    Parameters
    ----------
    source : Source
        Where the chunks come from (its ``streams`` and ``utc0`` go into the file).
    config : PipelineConfig
        Checked settings, saved with the session.
    path : path-like
        The session file to create.
    session_id : str
        See :func:`new_session_id`.
    keep_audio, participants, meta
        Passed to the recorder (raw audio kept or not, role -> pseudonymous code, metadata such
        as ``sources``, see :func:`~.sources.source_meta`).
    sinks : list, optional
        Consumers after the recorder (websocket hub, LSL outlet, progress bar, printer).
    registry : Registry, optional
        Estimator factories (``analyze --jobs``: per-person worker processes).
    recorder_cls, runner_cls : type, optional
        Stand-ins for tests.
    """
    from .recorder import Recorder

    recorder = (recorder_cls or Recorder)(path, session_id, list(source.streams), config,
                                          utc0=getattr(source, "utc0", None), keep_audio=keep_audio,
                                          participants=dict(participants or {}), meta=dict(meta or {}))
    extra = {"registry": registry} if registry is not None else {}
    try:
        return (runner_cls or SessionRunner)(source, recorder, config, sinks=list(sinks or []), **extra)
    except BaseException as exc:  # e.g. streams no estimator accepts: the file says so rather than "interrupted"
        from .signals import Terminated

        stopped = isinstance(exc, (KeyboardInterrupt, Terminated))  # Ctrl-C while the pipeline is built
        recorder.close(SessionStatus.STOPPED if stopped else SessionStatus.FAILED)
        raise
