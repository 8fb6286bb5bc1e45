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
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Iterable

from .base import Source
from .chunk import StreamKind
from .errors import DeviceUnavailableError, InputError

ROLES = ("client", "therapist")
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


class LiveSource(Source):
    """Several live sources as the one source a session runner reads.

    Chunks are passed on in arrival order (each source's own order is kept). A source that
    fails (e.g. a strap that never connects) fails the session with its typed error, after the
    other sources are closed.
    """

    def __init__(self, sources: list[Source]):
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

    def request_stop(self) -> bool:
        """Sources that can drain hand over what they hold and end; the others are cut now."""
        if not self._pumps:
            return False
        for i, src in enumerate(self.sources):
            if not src.request_stop() and i in self._pumps:
                self._pumps[i].cancel()
        return True

    def status(self) -> list[dict[str, Any]]:
        return [src.status() for src in self.sources if hasattr(src, "status")]

    async def __aiter__(self):  # type: ignore[override]
        queue: asyncio.Queue = asyncio.Queue()
        done = object()

        async def pump(src: Source) -> None:
            try:
                async for chunk in src:
                    await queue.put(chunk)
            except BaseException as exc:  # noqa: BLE001 - handed to the reader of the merged source
                await queue.put(exc)
            finally:
                await queue.put(done)

        self._pumps = {i: asyncio.create_task(pump(s)) for i, s in enumerate(self.sources)}
        tasks = list(self._pumps.values())
        running = len(tasks)
        try:
            while running:
                item = await queue.get()
                if item is done:
                    running -= 1
                elif isinstance(item, BaseException):
                    if isinstance(item, asyncio.CancelledError):
                        continue
                    raise item
                else:
                    yield item
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.aclose()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for src in self.sources:
            try:
                await src.aclose()
            except Exception:  # closing one device must not keep the others open
                pass
