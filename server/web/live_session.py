"""One session of the server as the web layer sees it, and the parts it is built from.

:class:`LiveSession` is what :class:`~coregulate.server.web.sessions.SessionManager` keeps per
session (its hub, runner, thread and status); :class:`Backends` are the factories a session is
built with (tests swap in fakes); :class:`SessionError` carries the HTTP status of a request
that cannot be honoured.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..session.runner import SessionStatus
from .hub import Hub
from .hub_sink import HubSink
from .schemas import SessionCreate, SourceSpec

log = logging.getLogger("coregulate.server")


class SessionError(Exception):
    """A request about a session that cannot be honoured; ``status`` is the HTTP code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SessionEnded(SessionError):
    """The session stopped writing before the request reached it; its file is complete and takes
    writes through a store instead."""

    def __init__(self, session_id: str) -> None:
        super().__init__(409, f"session {session_id} is not running")


@dataclass
class Backends:
    """The pieces a session is built from; tests may swap them for fakes.

    ``warm_up``, when set, starts what must be ready before a session runs (the estimators'
    imports) and returns its future; the server calls it when it starts and waits for it before
    running each session.
    """

    make_source: Callable[[SourceSpec, float | None], Any]
    recorder_cls: Any
    runner_cls: Any
    store_cls: Any
    warm_up: Callable[[], concurrent.futures.Future] | None = None


def default_backends() -> Backends:
    """The real pieces: sources from SPECs or the simulator, the SQLite recorder and store, the runner."""
    from ..session.recorder import Recorder
    from ..session.store import SessionStore
    from ..session.runner import SessionRunner
    from ..session.warm_up import preload_in_background

    def make_source(spec: SourceSpec, speed: float | None) -> Any:
        if spec.kind == "live":
            raise SessionError(422, "live sessions are started on the recording machine with `coregulate record`")
        if spec.kind == "simulator":
            from ...sensors.simulator import Simulator

            return Simulator(seed=spec.seed, duration_s=spec.duration_s, audio=spec.audio, speed=speed)
        if not spec.specs:
            raise SessionError(422, "a 'files' source needs at least one SPEC")
        from ..session.sources import build_source

        return build_source(list(spec.specs), speed)

    return Backends(make_source, Recorder, SessionRunner, SessionStore, warm_up=preload_in_background)


def start_warm_up(backends: Backends) -> concurrent.futures.Future | None:
    """Start the backends' warm-up (the estimators' imports, in a thread) if they have one.

    The server calls it when it starts, so that it is usually over before the first session is
    asked for; :func:`warmed_up` waits for it before each session runs.

    Parameters
    ----------
    backends : Backends
        The server's session pieces.

    Returns
    -------
    concurrent.futures.Future or None
        The warm-up's future (the same for every call), or None without a warm-up.
    """
    warm_up = getattr(backends, "warm_up", None)
    return warm_up() if warm_up is not None else None


async def warmed_up(backends: Backends) -> None:
    """Wait until the backends' warm-up is over (starting it if need be); a failed one is logged.

    A session that met the imports while running would hold the GIL for seconds, stalling itself
    and every other session's thread (``bench/bench_latency.py``: the whole-run p99 lag).

    Parameters
    ----------
    backends : Backends
        The server's session pieces.
    """
    future = start_warm_up(backends)
    if future is None:
        return
    try:
        await asyncio.wrap_future(future)
    except Exception:  # a missing library is reported by the estimator that needs it
        log.warning("preloading the estimators' libraries failed", exc_info=True)


@dataclass
class PreparedSession:
    """A session whose source is built outside the server: live devices (``coregulate record``).

    The devices are opened by the command (so a missing strap fails before the server starts);
    the server then runs, records and shows it like any other session.
    """

    source: Any
    config: Any
    keep_audio: bool = False
    sinks: list = field(default_factory=list)
    label: str = "live"
    participant_codes: dict = field(default_factory=dict)


@dataclass
class LiveSession:
    """A session the server runs (or ran): its request, source, hub, runner, thread and status."""

    id: str
    path: Path
    request: SessionCreate
    source: Any
    config: Any
    hub: Hub
    sink: HubSink
    status: str = SessionStatus.CREATED
    recorder: Any = None
    runner: Any = None
    task: asyncio.Future | None = None  # completion, as seen from the server loop
    cfuture: concurrent.futures.Future | None = None
    loop: asyncio.AbstractEventLoop | None = None  # the session's own loop and thread
    thread: threading.Thread | None = None
    error: str | None = None
    created: float = field(default_factory=time.time)
    stop_requested: bool = False
    ended_at: float | None = None  # time.monotonic() when the run finished
    extra_sinks: list = field(default_factory=list)  # e.g. the LSL outlet of a live session

    @property
    def running(self) -> bool:
        """The session's run has started and not yet ended."""
        return self.task is not None and not self.task.done()

    @property
    def active(self) -> bool:
        """Not finished yet: created, starting or running.

        From the status, which the session's own thread sets once the recorder is closed: the
        server loop's view of the task completes a moment later, and in between a finished
        session must not read as live (its status already says complete).
        """
        return SessionStatus.is_active(self.status) and not (self.task is not None and self.task.done())
