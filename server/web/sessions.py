"""Sessions of one server: create from a source, run as asyncio tasks, list, annotate.

Live sessions run in the server's event loop (:class:`~coregulate.server.session.runner.SessionRunner`
writing through a :class:`~coregulate.server.session.recorder.Recorder` and pushing to a
:class:`~coregulate.server.web.hub.Hub`). Finished sessions are the files ``DATA/sessions/<id>.sqlite``,
read through :class:`~coregulate.server.session.recorder.SessionStore`.

A session is created in two steps so that the server's loop never waits on a source being built:
:meth:`SessionManager.open_source` (blocking, in a worker thread), then :meth:`SessionManager.register`
(in the loop). Annotation writes on a live session go through its recorder, in the loop, so that the
server never opens a second writer that would wait on the recorder's lock from inside the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable

from ..session.runner import SessionStatus
from .hub import Hub
from .hub_sink import HubSink
from .live_session import (  # noqa: F401  (re-exported: the routers and the CLI import them from here)
    Backends, LiveSession, PreparedSession, SessionEnded, SessionError, default_backends, start_warm_up, warmed_up)
from .schemas import SESSION_ID_PATTERN, SessionCreate, SourceSpec
from .session_descriptions import baseline_segment, describe_file, describe_live

log = logging.getLogger("coregulate.server")

_ID = re.compile(SESSION_ID_PATTERN)


def _speed(v: float | str) -> float | None:
    return None if v == "max" else float(v)


class SessionManager:
    """The sessions of one server: live ones it runs (``backends``: source and runner factories;
    ``hub_options``: their hubs' queue sizes), finished ones in ``data_dir/sessions/``."""

    def __init__(self, data_dir: str | Path, backends: Backends | None = None, *, hub_options: dict | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.sessions_dir = self.data_dir / "sessions"
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        self._backends = backends
        self.hub_options = hub_options or {}
        self.live: dict[str, LiveSession] = {}

    @property
    def backends(self) -> Backends:
        """The factories in use (the default ones, made on first use)."""
        if self._backends is None:
            self._backends = default_backends()
        return self._backends

    # -- paths and lookup -------------------------------------------------------------------
    def path_of(self, session_id: str) -> Path:
        """The file of session ``session_id``; a malformed id is a 404 (no other path can be named)."""
        if not _ID.match(session_id):
            raise SessionError(404, "no such session")
        return self.sessions_dir / f"{session_id}.sqlite"

    def get_live(self, session_id: str) -> LiveSession | None:
        """The live session with this id, ``None`` if it is not running here."""
        return self.live.get(session_id)

    def exists(self, session_id: str) -> bool:
        """Whether the session is live here or its file exists."""
        return session_id in self.live or self.path_of(session_id).exists()

    def store(self, session_id: str) -> Any:
        """A reader on the session file (live or finished); use it as a context manager so its
        connection is closed. Blocking I/O: call from a worker thread."""
        path = self.path_of(session_id)
        if not path.exists():
            s = self.live.get(session_id)
            if s is not None:
                raise SessionError(409, f"session {session_id} has not started recording yet")
            raise SessionError(404, f"no session {session_id}")
        return self.backends.store_cls(path)

    # -- life cycle -------------------------------------------------------------------------
    def new_id(self) -> str:
        """A new session id (:func:`~coregulate.server.session.runner.new_session_id`)."""
        from ..session.runner import new_session_id

        return new_session_id()

    #: A finished session's hub (replay buffer for reconnecting viewers) is kept this long.
    keep_finished_s = 600.0

    def forget_finished(self) -> None:
        """Drop hubs of sessions that ended long ago and have no viewer (bounded memory)."""
        now = time.monotonic()
        for sid, s in list(self.live.items()):
            if s.ended_at is not None and now - s.ended_at > self.keep_finished_s and not s.hub.viewers:
                del self.live[sid]

    def resting_baseline(self, req: SessionCreate) -> dict[str, Any] | None:
        """The baseline of ``req.baseline_from`` (None without one); blocking, like :meth:`open_source`."""
        if not req.baseline_from:
            return None
        from ..offline.baseline import FROM_RECORDING, reference_from

        config = req.config  # its window and options; reference_from sets the baseline itself
        try:
            return reference_from(list(req.baseline_from), config, FROM_RECORDING)
        except Exception as exc:  # InputError and friends carry a clear message for the user
            raise SessionError(422, f"cannot use the resting recording (baseline_from): {exc}") from None

    def open_source(self, req: SessionCreate) -> tuple[Any, Any]:
        """(source, config) of ``req``. Blocking (a Simulator takes 0.3 s to build, a replay opens files,
        a resting recording runs through the pipeline): call it off the loop, then :meth:`register`."""
        ref = self.resting_baseline(req)  # first: its error is the one a request with two gets
        try:
            source = self.backends.make_source(req.source, _speed(req.speed))
        except SessionError:
            raise
        except Exception as exc:  # InputError and friends carry a clear message for the user
            raise SessionError(422, f"cannot open source: {exc}") from None
        config = req.config  # checked when the request was read
        if req.baseline_from:
            from ..offline.baseline import with_reference

            try:
                config = with_reference(ref, config, sorted({s.participant for s in source.streams}))
            except Exception as exc:
                raise SessionError(422, f"cannot use the resting recording (baseline_from): {exc}") from None
        if req.baseline_speed is not None:
            # pacing only: the baseline is delivered faster, its chunks (and so the features) are the same
            from ...sensors.pacing import FastForward

            seg = baseline_segment(config)
            if not hasattr(source, "fast_forward") or seg is None:
                raise SessionError(422, "baseline_speed needs a simulated or replayed source")
            source.fast_forward = FastForward(until_s=seg[1], speed=_speed(req.baseline_speed))
        return source, config

    def create_prepared(self, p: PreparedSession) -> LiveSession:
        """Register a session whose source and config were built by the caller."""
        req = SessionCreate(source=SourceSpec(kind="live"), speed=1.0, keep_audio=p.keep_audio,
                            window_s=p.config.window_s, baseline=p.config.baseline, options=p.config.options,
                            label=p.label, participant_codes=p.participant_codes)
        return self.register(req, p.source, p.config, p.sinks)

    def register(self, req: SessionCreate, source: Any, config: Any, sinks: list | None = None) -> LiveSession:
        """A new session of ``source`` and ``config`` (:meth:`open_source`); call it in the event loop."""
        self.forget_finished()
        sid = self.new_id()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        hub = Hub(sid, loop=loop, **self.hub_options)
        s = LiveSession(sid, self.path_of(sid), req, source, config, hub, HubSink(hub), extra_sinks=list(sinks or []))
        self.live[sid] = s
        return s

    async def start(self, session_id: str) -> LiveSession:
        """Start a created session in its own thread and event loop.

        Each session runs :class:`SessionRunner` (recorder writes included) in a thread of its
        own, so that a slow disk (an fsync at a WAL checkpoint can take a second on a busy
        machine) or a heavy estimator delays that session only, never the pushes to viewers or
        the other sessions. Frames reach the hub through :meth:`Hub.submit`; control calls and
        annotation writes are sent to the session's loop (:meth:`call_in_session`), so the
        recorder only ever has its one writer, used from its one thread.
        """
        s = self.live.get(session_id)
        if s is None:
            raise SessionError(409 if self.exists(session_id) else 404, "only a created, not yet started session can be started")
        if s.status != SessionStatus.CREATED:
            raise SessionError(409, f"session {session_id} is {s.status}")
        b = self.backends
        s.status = SessionStatus.STARTING
        await warmed_up(b)
        from ..session.runner import open_session
        from ..session.sources import source_meta, video_meta

        src = s.request.source.model_dump()
        meta = {"label": s.request.label, "sources": source_meta(src.pop("kind"), src.pop("specs"), **src),
                "speed": s.request.speed, **video_meta(s.source)}
        loop = asyncio.new_event_loop()

        def run_loop() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_forever()
            finally:
                loop.close()

        thread = threading.Thread(target=run_loop, name=f"session-{s.id}", daemon=True)
        thread.start()
        s.loop, s.thread = loop, thread

        def build() -> None:
            s.runner = open_session(s.source, s.config, s.path, s.id, keep_audio=s.request.keep_audio,
                                    participants=s.request.participant_codes, meta=meta,
                                    sinks=[s.sink, *s.extra_sinks], recorder_cls=b.recorder_cls, runner_cls=b.runner_cls)
            s.recorder = s.runner.recorder

        try:
            await self.call_in_session(s, build, timeout=60)
        except Exception as exc:
            s.status, s.error = SessionStatus.FAILED, f"{exc.__class__.__name__}: {exc}"
            s.ended_at = time.monotonic()
            if s.recorder is not None:
                await self.call_in_session(s, lambda: s.recorder.close(SessionStatus.FAILED))
            loop.call_soon_threadsafe(loop.stop)
            s.hub.publish("end", {"status": s.status, "error": s.error})
            raise SessionError(422, f"cannot start session: {exc}") from None
        s.status = SessionStatus.RUNNING
        s.cfuture = asyncio.run_coroutine_threadsafe(self._run(s), loop)
        s.task = asyncio.wrap_future(s.cfuture)
        s.task.add_done_callback(lambda _: loop.call_soon_threadsafe(loop.stop))
        return s

    async def call_in_session(self, s: LiveSession, fn: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Run ``fn()`` in the session's thread (between two chunks) and return its result."""
        if s.loop is None or s.loop.is_closed():
            raise SessionEnded(s.id)
        cf: concurrent.futures.Future = concurrent.futures.Future()

        def call() -> None:
            if not cf.set_running_or_notify_cancel():
                return
            if s.runner is not None and s.runner.recorder.closed:  # ended between the request and this call
                cf.set_exception(SessionEnded(s.id))
                return
            try:
                cf.set_result(fn())
            except BaseException as exc:  # handed back to the caller
                cf.set_exception(exc)

        s.loop.call_soon_threadsafe(call)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(cf), timeout)
        except asyncio.TimeoutError:
            raise SessionError(503, f"session {s.id} did not answer in {timeout:g} s") from None

    async def _run(self, s: LiveSession) -> None:
        # runs in the session's own loop
        try:
            result = await s.runner.run()
            s.status = result if isinstance(result, str) else (
                SessionStatus.STOPPED if s.stop_requested else SessionStatus.COMPLETE)
        except asyncio.CancelledError:
            s.status = SessionStatus.STOPPED
            raise
        except Exception as exc:
            log.exception("session %s failed", s.id)
            s.status, s.error = SessionStatus.FAILED, f"{exc.__class__.__name__}: {exc}"
        finally:
            s.ended_at = time.monotonic()
            s.hub.submit("end", {"status": s.status, "error": s.error})

    async def stop(self, session_id: str, timeout: float = 10.0) -> LiveSession:
        """Stop a live session, waiting up to ``timeout`` s for it to end (404: none such, 409: not running)."""
        s = self.live.get(session_id)
        if s is None or s.status == SessionStatus.CREATED:
            if s is not None:
                del self.live[session_id]
                s.status = SessionStatus.STOPPED
                s.hub.publish("end", {"status": SessionStatus.STOPPED, "error": None})
                return s
            raise SessionError(409 if self.exists(session_id) else 404, "session is not running")
        if not s.running:
            raise SessionError(409, f"session {session_id} is already {s.status}")
        s.stop_requested = True
        s.loop.call_soon_threadsafe(s.runner.stop)
        try:
            await asyncio.wait_for(asyncio.shield(s.task), timeout)
        except asyncio.TimeoutError:
            s.cfuture.cancel()
        except Exception:  # the outcome is in s.status
            pass
        # let the hand-over of the last frames ("end") reach the hub before answering
        await asyncio.sleep(0)
        return s

    async def shutdown(self) -> None:
        """Stop every running session (server shutdown), waiting up to 10 s for them to finish."""
        for s in list(self.live.values()):
            if s.running:
                s.stop_requested = True
                s.loop.call_soon_threadsafe(s.runner.stop)
        tasks = [s.task for s in self.live.values() if s.task is not None and not s.task.done()]
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=10)
            for s in self.live.values():
                if s.task in pending:
                    s.cfuture.cancel()
        for s in self.live.values():
            if s.thread is not None:
                s.thread.join(timeout=5)
            s.hub.close()

    # -- descriptions -----------------------------------------------------------------------
    def describe_live(self, s: LiveSession) -> dict[str, Any]:
        """See :func:`~coregulate.server.web.session_descriptions.describe_live`."""
        return describe_live(s)

    def describe_file(self, session_id: str) -> dict[str, Any]:
        """See :func:`~coregulate.server.web.session_descriptions.describe_file`."""
        return describe_file(session_id, self.store(session_id))

    def describe(self, session_id: str) -> dict[str, Any]:
        """The session's description: from its file once it is written, else from the live session."""
        s = self.live.get(session_id)
        if s is not None:
            d = self.describe_live(s)
            if not d["live"] and s.path.exists():
                try:
                    fd = self.describe_file(session_id)
                    fd["seq"] = s.hub.seq
                    return fd
                except Exception:  # the live description is still right
                    log.warning("session %s: cannot read its file", session_id)
            return d
        return self.describe_file(session_id)

    def list(self) -> list[dict[str, Any]]:
        """Every session, live and on file, newest id first (an unreadable file is listed as such)."""
        out = {sid: self.describe_live(s) for sid, s in self.live.items() if s.active}
        for p in sorted(self.sessions_dir.glob("*.sqlite"), reverse=True):
            sid = p.stem
            if sid in out or not _ID.match(sid):
                continue
            try:
                out[sid] = self.describe(sid)
            except Exception as exc:
                out[sid] = {"id": sid, "status": SessionStatus.UNREADABLE, "live": False, "error": str(exc)}
        return sorted(out.values(), key=lambda d: d["id"], reverse=True)

    # -- annotations ------------------------------------------------------------------------
    def running_session(self, session_id: str) -> LiveSession | None:
        """The live session, when annotations must go through its runner's recorder (one writer)."""
        s = self.live.get(session_id)
        return s if s is not None and s.running and s.runner is not None else None

    def publish_annotation(self, session_id: str, op: str, ann: dict[str, Any]) -> None:
        """Tell a live session's viewers that an annotation was added, changed or deleted (``op``)."""
        s = self.live.get(session_id)
        if s is not None:
            s.sink.on_annotation({"op": op, **ann})
