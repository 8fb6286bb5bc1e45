"""Live sources of one session, from the options of ``coregulate record``.

All live sources of a session share one session clock (``now``) and the BLE adapters share one
connect lock, so two straps connect one after the other.

Option syntax
-------------
``--client-ble ADDRESS``          Polar H10: ECG 130 Hz + RR + HR (``--acc-rate`` adds ACC)
``--client-ble hr:ADDRESS``       any other strap with the standard Heart Rate Service: RR + HR
``--camera DEVICE[?ROLE=x0,y0,x1,y1&...]``  motion energy per person's region (:mod:`.camera`)
``--lsl-in ROLE:key=value,...``   keys ``name``, ``type``, ``source_id`` (which stream), ``kind``,
                                  ``channel``, ``unit`` (how to read it); e.g.
                                  ``client:type=EDA,name=Shimmer3``
``--silence-timeout S``           a stream silent for longer is marked missing (:class:`SilenceWatch`)

Silent streams
--------------
A person's row for second ``t`` is final once every one of their streams has reached ``t``
(:mod:`coregulate.models.pipeline`). Recorded files always reach the end; a live device may
simply stop sending (a wrist device's HR while its PPG goes on, an EDA sensor whose battery
died, a stream that never starts). :class:`SilenceWatch` therefore turns silence into data at
the edge: once a stream has sent nothing for ``silence_timeout_s`` of session time, it gets an
empty chunk whose watermark (``t_end``) is ``now - silence_timeout_s``, marked ``gap_before``
when the stream had sent data before, renewed every second while the silence lasts. Its
estimator then finishes those seconds as missing, and the person's rows flow on
``silence_timeout_s`` + the estimators' own latency behind real time. The chunks are recorded
like any other, so a replay of the session file sees the same gap and computes the same rows.
Samples that arrive after their stretch was declared silent are recorded (nothing is lost) but
marked ``meta["late"]`` and left out of the features (:class:`SessionPipeline` skips them), for
the same reason; the first chunk after a silence is marked ``gap_before``.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import replace
from typing import Any, Callable, Iterable

import numpy as np

from .base import Source
from .chunk import Chunk, StreamInfo, StreamKind
from .errors import DeviceUnavailableError, InputError

ROLES = ("client", "therapist")
#: Seconds a live stream may send nothing before it is marked missing (:class:`SilenceWatch`).
#: Longer than the delivery interval of the devices supported (BLE notifications: < 1 s; LSL
#: chunks: typically < 1 s; Polar PPI: one per beat), short enough that rows keep flowing.
SILENCE_TIMEOUT_S = 5.0
#: Kinds a silence does not concern: markers are sparse by nature and feed no estimator.
_NOT_WATCHED = frozenset({StreamKind.MARKER})
_LSL_KEYS = {"name", "type", "source_id", "kind", "channel", "unit"}


def add_live_options(p) -> None:
    """The live-device options of ``coregulate record`` (argparse only: imports nothing heavy)."""
    for role in ROLES:
        p.add_argument(f"--{role}-ble", metavar="ADDRESS",
                       help=f"the {role}'s strap: Polar H10 address, or hr:ADDRESS for any Heart Rate Service strap")
        p.add_argument(f"--{role}-mic", metavar="DEVICE", help=f"the {role}'s microphone (see: coregulate devices audio)")
    p.add_argument("--lsl-in", action="append", default=[], metavar="ROLE:key=value,...",
                   help="an LSL stream as a participant's source, e.g. client:type=EDA,name=Shimmer (repeatable)")
    p.add_argument("--lsl-out", action="store_true", help="publish features, dyad rows and events to LSL")
    p.add_argument("--acc-rate", type=int, choices=(25, 50, 100, 200), help="also stream Polar H10 accelerometer (Hz)")
    p.add_argument("--camera", metavar="DEVICE[?client=x0,y0,x1,y1&therapist=...]",
                   help="a camera filming both people: motion energy per person's region, no frames kept "
                        "(default regions: client left half, therapist right half)")
    p.add_argument("--silence-timeout", type=_positive_seconds, default=SILENCE_TIMEOUT_S, metavar="S",
                   help="a stream that sends nothing for S seconds is marked missing there, so the person's "
                        f"other signals go on (default {SILENCE_TIMEOUT_S:g})")


def _positive_seconds(text: str) -> float:
    import argparse

    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not 0.5 <= v <= 600:
        raise argparse.ArgumentTypeError(f"{text!r}: expected seconds between 0.5 and 600")
    return v


def parse_lsl_spec(spec: str) -> dict[str, Any]:
    """``"client:type=ECG,name=Foo"`` → ``{"participant": "client", "type": "ECG", "name": "Foo"}``."""
    role, sep, rest = spec.partition(":")
    if not sep or not role or not rest:
        raise InputError(f"{spec!r}", field="--lsl-in", expected="ROLE:key=value[,key=value], e.g. client:type=ECG")
    out: dict[str, Any] = {"participant": role.strip()}
    for part in rest.split(","):
        key, eq, val = part.partition("=")
        key = key.strip()
        if not eq or key not in _LSL_KEYS or not val:
            raise InputError(f"{part!r} in {spec!r}", field="--lsl-in", expected=f"key=value with key in {sorted(_LSL_KEYS)}")
        out[key] = val.strip()
    if not {"name", "type", "source_id"} & out.keys():
        raise InputError(f"{spec!r} does not say which stream", field="--lsl-in", expected="name=, type= or source_id=")
    if "kind" in out:
        try:
            out["kind"] = StreamKind(out["kind"].lower())
        except ValueError:
            raise InputError(f"kind {out['kind']!r}", field="--lsl-in",
                             expected=", ".join(k.value for k in StreamKind)) from None
    if "channel" in out:
        if not out["channel"].isdigit():
            raise InputError(f"channel {out['channel']!r}", field="--lsl-in", expected="a channel index 0, 1, …")
        out["channel"] = int(out["channel"])
    return out


def parse_ble_spec(spec: str) -> tuple[str, str]:
    """``"hr:AA:BB:…"`` → ``("hr", "AA:BB:…")``; a bare address is a Polar H10."""
    kind, address = ("h10", spec)
    low = spec.lower()
    for prefix in ("hr:", "h10:"):
        if low.startswith(prefix):
            kind, address = prefix[:-1], spec[len(prefix):]
    if not address.strip():
        raise InputError(f"{spec!r}", field="--*-ble", expected="a BLE address, e.g. A0:9E:1A:12:34:56")
    return kind, address.strip()


def build_live_sources(
    client_ble: str | None = None,
    therapist_ble: str | None = None,
    client_mic: str | None = None,
    therapist_mic: str | None = None,
    lsl_in: Iterable[str | dict] = (),
    *,
    acc_rate: int | None = None,
    now: Callable[[], float] | None = None,
    client_factory: Callable[..., Any] | None = None,
    mic_factory: Callable[..., Source] | None = None,
    lsl_timeout: float = 5.0,
    connect_timeout: float = 20.0,
    camera: str | None = None,
    camera_opener: Callable[[], Any] | None = None,
) -> list[Source]:
    """Sources for a live session; raise the typed error of the first option that cannot work.

    LSL streams are resolved here (a missing stream fails before the session starts); BLE
    straps connect when the session iterates them (first connect: 3 attempts, then
    :class:`DeviceUnavailableError`; later drops are retried for as long as the session runs).
    """
    from .ble.adapter import HeartRateStrapSource, PolarH10Source, session_clock

    now = now or session_clock()
    utc0 = time.time() - now()
    sources: list[Source] = []
    lock = asyncio.Lock()
    for role, spec in (("client", client_ble), ("therapist", therapist_ble)):
        if not spec:
            continue
        kind, address = parse_ble_spec(spec)
        kw = dict(client_factory=client_factory, connect_lock=lock, now=now, connect_timeout=connect_timeout, utc0=utc0)
        if kind == "hr":
            sources.append(HeartRateStrapSource(address, role, **kw))
        else:
            sources.append(PolarH10Source(address, role, acc_rate=acc_rate, **kw))
    mics = {role: device for role, device in (("client", client_mic), ("therapist", therapist_mic)) if device is not None}
    if mics:
        sources.append(_microphones(mics, now, mic_factory))
    if lsl_in:
        from .lsl import LslInletSource

        for spec in lsl_in:
            opts = dict(spec) if isinstance(spec, dict) else parse_lsl_spec(spec)
            role = opts.pop("participant")
            sources.append(LslInletSource(role, timeout=lsl_timeout, now=now, **opts))
    if camera:
        from .camera import CameraSource, parse_camera_spec

        device, regions = parse_camera_spec(camera)
        sources.append(CameraSource(device, regions, now=now, opener=camera_opener))
    for src in sources:
        src.utc0 = utc0
        src.clock = now
    if not sources:
        raise InputError("no live device given", field="record",
                         expected="--client-ble/--therapist-ble, --client-mic/--therapist-mic, --lsl-in or --camera")
    return sources


def _microphones(mics: dict[str, str], now: Callable[[], float], factory: Callable[..., Source] | None) -> Source:
    """One capture source for all microphones: many hosts cannot open one interface twice, and
    one stream keeps the channels sample-aligned for crosstalk attribution."""
    if factory is not None:
        return factory(mics, now=now)
    try:
        from . import microphone
    except ImportError as exc:
        raise DeviceUnavailableError(f"live microphone capture is not available in this installation ({exc})") from exc
    return microphone.MicrophoneSource(mics, now=now)


class SilenceWatch:
    """Marks live streams that stopped sending as missing (module docstring, "Silent streams").

    Pure bookkeeping over the session clock, so it is tested without devices: note every chunk
    as it arrives from its device (:meth:`arrived`), pass it on through :meth:`passed` when the
    session takes it, and ask :meth:`silences` now and then (at least once a second).

    A stream is silent once it has delivered nothing for ``timeout_s`` seconds *while the event
    loop was running*: the quiet time grows by at most ``step_s`` per call, so a loop blocked
    for a while (a slow first beat block, a busy machine) does not make every device look
    silent when their data merely wait in their buffers; nor is a stream silent while chunks
    of it wait in the merged queue.

    Parameters
    ----------
    streams : list of StreamInfo
        The session's streams (markers are not watched).
    timeout_s : float
        Seconds of silence after which a stream is marked missing.
    now : callable
        The session clock shared by the live sources.
    step_s : float
        A silence's watermark advances in steps of at least this (one chunk per step and stream).
    """

    def __init__(self, streams: list[StreamInfo], timeout_s: float, now: Callable[[], float], step_s: float = 1.0):
        self.timeout_s = float(timeout_s)
        self.now = now
        self.step_s = float(step_s)
        self.streams = {s.key: s for s in streams if s.kind not in _NOT_WATCHED}
        self.complete: dict[str, float] = dict.fromkeys(self.streams, 0.0)  # data or silence up to here
        self.had_data: set[str] = set()
        self.silent: set[str] = set()  # streams inside a declared silence
        self.quiet: dict[str, float] = dict.fromkeys(self.streams, 0.0)  # loop-time since its last delivery
        self.queued: dict[str, float] = dict.fromkeys(self.streams, 0.0)  # watermark of what it delivered
        self.last_check: float | None = None
        self.late_samples = 0

    def arrived(self, chunk: Chunk) -> None:
        """A device delivered ``chunk`` (it may wait in a queue before :meth:`passed`)."""
        key = chunk.stream.key
        if key in self.streams:
            self.quiet[key] = 0.0
            self.queued[key] = max(self.queued[key], float(chunk.t_end))

    def passed(self, chunk: Chunk) -> list[Chunk]:
        """The chunk as it goes on: split where its samples arrived after a declared silence."""
        key = chunk.stream.key
        if key not in self.streams:
            return [chunk]
        edge = self.complete[key]
        pieces = [chunk]
        if key in self.silent and len(chunk) and chunk.start < edge:
            late, rest = chunk.split(edge)
            pieces = []
            if late is not None:
                self.late_samples += len(late)
                pieces.append(replace(late, meta={**late.meta, "late": True}, gap_before=False))
            if rest is not None:
                pieces.append(rest)
            elif chunk.t_end > edge:  # no sample after the edge, but the watermark goes on
                pieces.append(Chunk(chunk.stream, chunk.values[:0], meta=chunk.meta,
                                    **_empty_at(chunk.stream, float(chunk.t_end))))
        out = []
        for c in pieces:
            if not c.meta.get("late"):
                if len(c) and key in self.silent:
                    if key in self.had_data:  # data resume after a silence: a dropout
                        c = replace(c, gap_before=True)
                    self.silent.discard(key)
                if len(c):
                    self.had_data.add(key)
                self.complete[key] = max(self.complete[key], float(c.t_end))
            out.append(c)
        return out

    def silences(self) -> list[Chunk]:
        """An empty chunk for every stream silent for longer than the timeout."""
        now = self.now()
        dt = 0.0 if self.last_check is None else min(max(now - self.last_check, 0.0), self.step_s)
        self.last_check = now
        edge = now - self.timeout_s
        out = []
        for key, info in self.streams.items():
            self.quiet[key] += dt
            if self.quiet[key] < self.timeout_s or self.queued[key] > self.complete[key]:
                continue  # it spoke recently, or what it sent is still on its way
            if edge - self.complete[key] < self.step_s:
                continue
            out.append(Chunk(info, np.empty((0, len(info.channels))) if info.channels else np.empty(0),
                             gap_before=key in self.had_data, meta={"silent": True}, **_empty_at(info, edge)))
            self.silent.add(key)
            self.complete[key] = edge
        return out


def _empty_at(info: StreamInfo, t: float) -> dict[str, Any]:
    """Where an empty chunk of ``info`` sits: its watermark ``t``."""
    if info.rate:
        return {"t0": t, "t_end": t}
    return {"times": np.empty(0), "t_end": t}


class LiveSource(Source):
    """Several live sources as the one source a session runner reads.

    Chunks are passed on in arrival order (each source's own order is kept). A source that
    fails (e.g. a strap that never connects) fails the session with its typed error, after the
    other sources are closed. A stream silent for ``silence_timeout_s`` is marked missing
    (:class:`SilenceWatch`) so that it never holds its person's rows.

    Parameters
    ----------
    sources : list of Source
        The live sources, one or more streams each.
    now : callable, optional
        The session clock; default: the sources' own (``Source.clock``, set by
        :func:`build_live_sources`). Without any, silences are not watched.
    silence_timeout_s : float
        Seconds without data after which a stream is marked missing (``--silence-timeout``).
    """

    def __init__(self, sources: list[Source], *, now: Callable[[], float] | None = None,
                 silence_timeout_s: float = SILENCE_TIMEOUT_S):
        keys = [s.key for src in sources for s in src.streams]
        dup = {k for k in keys if keys.count(k) > 1}
        if dup:
            raise InputError(f"two live sources give the same stream(s) {', '.join(sorted(dup))}", field="record",
                             expected="one source per participant and signal")
        self.sources = list(sources)
        self.streams = [s for src in sources for s in src.streams]
        self.utc0 = next((u for u in (getattr(src, "utc0", None) for src in sources) if u is not None), None)
        self._closed = False
        self._pumps: dict[int, asyncio.Task] = {}
        now = now or next((src.clock for src in sources if getattr(src, "clock", None) is not None), None)
        self.silence = SilenceWatch(self.streams, silence_timeout_s, now) if now is not None else None

    def request_stop(self) -> bool:
        """Sources that can drain hand over what they hold and end; the others are cut now."""
        if not self._pumps:
            return False
        for i, src in enumerate(self.sources):
            if not src.request_stop() and i in self._pumps:
                self._pumps[i].cancel()
        return True

    def status(self) -> list[dict[str, Any]]:
        """The status of each source that reports one (device, connection, battery), in order."""
        return [src.status() for src in self.sources if hasattr(src, "status")]

    async def __aiter__(self):  # type: ignore[override]
        queue: asyncio.Queue = asyncio.Queue()
        done = object()

        async def pump(src: Source) -> None:
            try:
                async for chunk in src:
                    if self.silence is not None:
                        self.silence.arrived(chunk)
                    await queue.put(chunk)
            except BaseException as exc:  # noqa: BLE001 - handed to the reader of the merged source
                await queue.put(exc)
            finally:
                await queue.put(done)

        self._pumps = {i: asyncio.create_task(pump(s)) for i, s in enumerate(self.sources)}
        tasks = list(self._pumps.values())
        running = len(tasks)
        getter: asyncio.Future | None = None
        try:
            while running:
                if self.silence is not None:
                    for chunk in self.silence.silences():
                        yield chunk
                # a pending get is kept across timeouts (cancelling it could lose an item)
                getter = getter or asyncio.ensure_future(queue.get())
                await asyncio.wait({getter}, timeout=None if self.silence is None else self.silence.step_s)
                if not getter.done():
                    continue
                item, getter = getter.result(), None
                if item is done:
                    running -= 1
                elif isinstance(item, BaseException):
                    if isinstance(item, asyncio.CancelledError):
                        continue
                    raise item
                elif self.silence is not None:
                    for chunk in self.silence.passed(item):
                        yield chunk
                else:
                    yield item
        finally:
            if getter is not None:
                getter.cancel()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.aclose()

    async def aclose(self) -> None:
        """Close every source (one that fails to close does not keep the others open); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for src in self.sources:
            try:
                await src.aclose()
            except Exception:  # closing one device must not keep the others open
                pass
