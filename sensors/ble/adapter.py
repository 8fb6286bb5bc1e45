"""Live heart-rate straps over Bluetooth LE as :class:`~coregulate.sensors.base.Source`.

:class:`HeartRateStrapSource` reads any strap with the standard Heart Rate Service (HR + RR);
:class:`PolarH10Source` adds raw ECG (130 Hz) and optionally ACC through Polar Measurement Data.
Both take an injectable ``client_factory`` (default: :class:`bleak.BleakClient`) so tests drive
the real adapter with a fake client, and a ``now`` callable giving session seconds.

Times: RR beats are placed on the strap's own clock (the running sum of its RR intervals) and
PMD samples on the PMD timestamps; :class:`~coregulate.sensors.clock.SensorClock` maps both to
the session clock. A dropped link is retried with backoff; each reconnect (and each sensor
clock reset or stall) opens a new clock segment and the next chunk of every stream carries
``gap_before=True``. Bad notifications are counted in :attr:`stats` and skipped.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Sequence

import numpy as np

from ..base import Source
from ..chunk import Chunk, StreamInfo, StreamKind
from ..clock import ClockConfig, SensorClock
from ..errors import DeviceUnavailableError
from . import pmd
from .heart_rate import BATTERY_LEVEL, HEART_RATE_MEASUREMENT, MalformedPayloadError, parse_battery, parse_heart_rate

log = logging.getLogger("coregulate.sensors.ble")

ClientFactory = Callable[..., Any]

#: Errors that mean "the link or the strap failed, try again later" (bleak raises BleakError,
#: an Exception subclass, and OSError/TimeoutError from the OS stack).
_RETRYABLE = (Exception,)


def bleak_client_factory(address: str, disconnected_callback: Callable[[Any], None]) -> Any:
    """A bleak client for the strap at ``address`` (the default factory; tests pass a fake).

    Parameters
    ----------
    address : str
        The strap's Bluetooth address (or platform identifier).
    disconnected_callback : callable
        Called by bleak with the client when the link drops.
    """
    from bleak import BleakClient

    return BleakClient(address, disconnected_callback=disconnected_callback)


def session_clock() -> Callable[[], float]:
    """A ``now()`` whose zero is the moment of the call (monotonic, immune to NTP steps)."""
    origin = time.monotonic()
    return lambda: time.monotonic() - origin


@dataclass
class AdapterStats:
    """What the dashboard and the session log show about one strap."""

    connected: bool = False
    connects: int = 0
    reconnects: int = 0
    failed_attempts: int = 0
    malformed: int = 0
    last_error: str | None = None
    battery: int | None = None
    contact: bool | None = None
    clock_segments: dict = field(default_factory=dict)


class _Regular:
    """Places frames of a regular stream on the session clock, contiguous within a segment.

    Within a segment a chunk starts where the previous one ended, moved by at most ``slew``
    towards the clock fit, so a fit that improves never makes samples overlap or leave holes;
    samples lost on the strap (sensor time jumps) or a new segment start a fresh, marked chunk.
    """

    def __init__(self, rate: float):
        self.rate = rate
        self.slew = 0.1 / rate
        self.prev_end: float | None = None
        self.prev_last_sensor: float | None = None
        self.segment = -1

    def place(self, first_sensor: float, last_sensor: float, n: int, clock: SensorClock) -> tuple[float, bool]:
        mapped = float(clock.to_session(first_sensor))
        gap = False
        if self.prev_end is None:
            t0 = mapped
        elif clock.segment != self.segment:
            t0, gap = max(mapped, self.prev_end), True
        else:
            missing = (first_sensor - self.prev_last_sensor) * self.rate - 1.0  # type: ignore[operator]
            if missing > 1.5:
                t0, gap = max(mapped, self.prev_end), True
            else:
                t0 = self.prev_end + min(max(mapped - self.prev_end, -self.slew), self.slew)
        self.segment = clock.segment
        self.prev_end = t0 + n / self.rate
        self.prev_last_sensor = last_sensor
        return t0, gap


class HeartRateStrapSource(Source):
    """One participant's standard BLE heart-rate strap: RR (ms) and HR (bpm) streams.

    Parameters
    ----------
    address : str
        BLE address (or platform UUID on macOS) of the strap.
    participant : str
        Role, e.g. ``"client"``.
    client_factory : callable, optional
        ``factory(address, disconnected_callback) -> client`` with bleak's ``connect``,
        ``start_notify``, ``write_gatt_char``, ``read_gatt_char``, ``disconnect``.
    connect_lock : asyncio.Lock, optional
        Shared by the adapters of one session so that connects happen one at a time (BlueZ
        handles concurrent connects badly).
    now : callable, optional
        Session seconds; share one among all live sources of a session.
    backoff : sequence of float
        Seconds to wait before retry 1, 2, …; the last value repeats.
    first_connect_attempts : int
        Attempts before the first successful connect fails the session start with
        :class:`DeviceUnavailableError`; after a first success the adapter retries forever.
    """

    kinds: tuple[StreamKind, ...] = (StreamKind.RR, StreamKind.HR)

    def __init__(
        self,
        address: str,
        participant: str,
        *,
        label: str | None = None,
        client_factory: ClientFactory | None = None,
        connect_lock: asyncio.Lock | None = None,
        now: Callable[[], float] | None = None,
        backoff: Sequence[float] = (1.0, 2.0, 5.0, 10.0, 30.0),
        connect_timeout: float = 20.0,
        first_connect_attempts: int = 3,
        rr_clock: ClockConfig | None = None,
        utc0: float | None = None,
    ):
        self.address = address
        self.participant = participant
        self.label = label or f"BLE {address}"
        self._factory = client_factory or bleak_client_factory
        self._lock = connect_lock
        self._now = now or session_clock()
        self._backoff = tuple(backoff) or (1.0,)
        self._connect_timeout = connect_timeout
        self._first_attempts = first_connect_attempts
        self.utc0 = utc0
        self.stats = AdapterStats()
        self._info = {k: StreamInfo(participant, k, self._rate(k), self._channels(k), self.label) for k in self.kinds}
        self.streams = list(self._info.values())
        self._rr_clock = SensorClock(rr_clock or ClockConfig(max_latency_s=2.0))
        self._rr_cum = 0
        self._rr_segment = -1
        self._last_t: dict[StreamKind, float] = {}
        self._gap: set[StreamKind] = set()
        self._queue: asyncio.Queue = asyncio.Queue()
        self._client: Any = None
        self._dropped = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task | None = None
        self._ending: asyncio.Task | None = None

    # -- stream shapes -------------------------------------------------------------------
    def _rate(self, kind: StreamKind) -> float | None:
        return None

    def _channels(self, kind: StreamKind) -> tuple[str, ...]:
        return ()

    # -- Source --------------------------------------------------------------------------
    async def __aiter__(self) -> AsyncIterator[Chunk]:  # type: ignore[override]
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"ble-{self.participant}")
        try:
            while True:
                item = await self._queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            await self.aclose()

    #: Longest wait, after a stop, for the strap to confirm that its notifications stopped.
    stop_timeout_s = 0.5

    def request_stop(self) -> bool:
        """Stop acquiring; the chunks of every notification received so far are still handed over.

        The link is no longer supervised (no reconnect) and the notifications are unsubscribed;
        the iteration then ends after the last chunk already queued. Unsubscribing first matters:
        BlueZ delivers the notifications it had forwarded before it answers ``StopNotify`` (one
        D-Bus connection keeps its messages in order), so awaiting the answer hands over what
        was in flight between the strap and this process too. Bounded by :attr:`stop_timeout_s`.
        """
        if self._task is None or self._closed:
            return False  # not iterating: nothing received, nothing to hand over
        if self._ending is None:
            self._ending = asyncio.ensure_future(self._end_after_unsubscribing())
        return True

    def _subscribed_data(self) -> tuple[str, ...]:
        """Characteristics whose notifications carry samples."""
        return (HEART_RATE_MEASUREMENT,)

    async def _end_after_unsubscribing(self) -> None:
        task = self._task
        if task is not None:  # no reconnect, no set-up half done after the stop
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        client = self._client
        if client is not None and self.stats.connected:
            try:
                await asyncio.wait_for(self._unsubscribe(client), self.stop_timeout_s)
            except (asyncio.TimeoutError, Exception) as exc:  # a link that went away: nothing more is coming
                log.info("%s: stopping notifications: %s", self.participant, str(exc) or type(exc).__name__)
        self._queue.put_nowait(None)  # after every chunk already queued

    async def _unsubscribe(self, client: Any) -> None:
        for uuid in self._subscribed_data():
            await client.stop_notify(uuid)

    async def aclose(self) -> None:
        """Stop the strap's tasks, disconnect and release it; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        for task in (self._ending, self._task):
            if task is not None and not task.done() and task is not asyncio.current_task():
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        client, self._client = self._client, None
        if client is not None:
            await self._shutdown(client)
        self.stats.connected = False
        self._queue.put_nowait(None)

    def status(self) -> dict[str, Any]:
        """Link state for the dashboard: connected, battery, contact, counts, last error."""
        s = self.stats
        return {
            "participant": self.participant, "address": self.address, "label": self.label,
            "connected": s.connected, "battery": s.battery, "contact": s.contact,
            "reconnects": s.reconnects, "malformed": s.malformed, "last_error": s.last_error,
        }

    # -- link supervision ----------------------------------------------------------------
    async def _supervise(self) -> None:
        failures = 0
        try:
            while not self._closed:
                try:
                    await self._connect_once()
                    failures = 0
                    await self._dropped.wait()
                    if self._closed:
                        return
                    log.warning("%s (%s): link lost, reconnecting", self.participant, self.address)
                    self._link_lost()
                except asyncio.CancelledError:
                    raise
                except _RETRYABLE as exc:
                    failures += 1
                    self.stats.failed_attempts += 1
                    self.stats.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("%s (%s): %s", self.participant, self.address, self.stats.last_error)
                    await self._discard_client()
                    if self.stats.connects == 0 and failures >= self._first_attempts:
                        raise DeviceUnavailableError(
                            f"cannot connect to the {self.participant}'s strap {self.address} after "
                            f"{failures} attempt(s): {self.stats.last_error}"
                        ) from exc
                    await asyncio.sleep(self._backoff[min(failures - 1, len(self._backoff) - 1)])
                    continue
                # a drop right after a good connect: first retry without waiting
        except asyncio.CancelledError:
            return
        except BaseException as exc:  # handed to the consumer, which raises it
            self._queue.put_nowait(exc)

    async def _connect_once(self) -> None:
        self._dropped = asyncio.Event()
        lock = self._lock or _NullLock()
        async with lock:
            client = self._factory(self.address, self._on_disconnect)
            self._client = client
            await asyncio.wait_for(client.connect(), self._connect_timeout)
            await self._setup(client)
        self.stats.connects += 1
        self.stats.connected = True
        log.info("%s: connected to %s", self.participant, self.address)

    def _on_disconnect(self, _client: Any = None) -> None:
        self.stats.connected = False
        self._dropped.set()

    def _link_lost(self) -> None:
        self.stats.reconnects += 1
        self.stats.contact = None  # unknown until the strap says again
        self._client = None
        self._rr_clock.new_segment()
        self._rr_cum = 0
        self._gap.update(self.kinds)

    async def _discard_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.disconnect()
            except Exception:  # already gone: nothing to release
                pass

    async def _setup(self, client: Any) -> None:
        try:
            self._battery(await client.read_gatt_char(BATTERY_LEVEL))
            await client.start_notify(BATTERY_LEVEL, lambda _s, d: self._battery(d))
        except Exception as exc:  # battery is optional on many straps
            log.info("%s: no battery level (%s)", self.participant, exc)
        await client.start_notify(HEART_RATE_MEASUREMENT, self._on_hr)

    async def _shutdown(self, client: Any) -> None:
        try:
            await client.disconnect()
        except Exception:
            pass

    # -- notifications -------------------------------------------------------------------
    def _bad(self, exc: MalformedPayloadError) -> None:
        self.stats.malformed += 1
        self.stats.last_error = str(exc)
        log.warning("%s: %s", self.participant, exc)

    def _battery(self, data: bytes) -> None:
        try:
            self.stats.battery = parse_battery(data, source=self.label)
        except MalformedPayloadError as exc:
            self._bad(exc)

    def _meta(self) -> dict[str, Any]:
        return {} if self.stats.contact is None else {"contact": self.stats.contact}

    def _emit(self, chunk: Chunk) -> None:
        if chunk.kind in self._gap:
            self._gap.discard(chunk.kind)
            chunk = Chunk(chunk.stream, chunk.values, t0=chunk.t0, times=chunk.times, t_end=chunk.t_end,
                          gap_before=True, meta=chunk.meta)
        self._last_t[chunk.kind] = float(chunk.t_end)  # type: ignore[arg-type]
        self._queue.put_nowait(chunk)

    def _on_hr(self, _sender: Any, data: bytes) -> None:
        arrival = self._now()
        try:
            m = parse_heart_rate(data, source=self.label)
        except MalformedPayloadError as exc:
            self._bad(exc)
            return
        self.stats.contact = m.contact
        meta = self._meta()
        if m.rr_ticks:
            ticks = self._rr_cum + np.cumsum(np.asarray(m.rr_ticks, dtype=np.int64))
            self._rr_cum = int(ticks[-1])
            self._rr_clock.observe(self._rr_cum / 1024.0, arrival)
            if self._rr_clock.segment != self._rr_segment:
                if self._rr_segment >= 0:
                    self._gap.add(StreamKind.RR)
                self._rr_segment = self._rr_clock.segment
            times = np.asarray(self._rr_clock.to_session(ticks / 1024.0), dtype=np.float64).reshape(-1)
            # a refit can only move beats by far less than one RR interval; a beat that would
            # not come after the last one sent is a re-sent beat, not a new one
            last = self._last_t.get(StreamKind.RR, -math.inf)
            keep = times > last
            rr_ms = np.asarray(m.rr_ms, dtype=np.float64)
            if keep.any():
                self._emit(Chunk(self._info[StreamKind.RR], rr_ms[keep], times=times[keep], meta=meta))
        t_hr = max(arrival, np.nextafter(self._last_t.get(StreamKind.HR, -math.inf), math.inf))
        hr_meta = dict(meta)
        if self.stats.battery is not None:
            hr_meta["battery"] = self.stats.battery
        hr = float(m.hr_bpm) if m.hr_bpm > 0 else math.nan  # straps send 0 for "no reading"
        self._emit(Chunk(self._info[StreamKind.HR], np.array([hr]), times=np.array([t_hr]), meta=hr_meta))


class PolarH10Source(HeartRateStrapSource):
    """A Polar H10: RR and HR as any strap, plus raw ECG (µV, 130 Hz) and optional ACC (mg).

    PMD set-up follows Polar's SDK: subscribe to the control point and the data characteristic
    *before* writing the start command, then wait for the control point's answer, whose error
    is raised by name (:class:`~coregulate.sensors.ble.pmd.PmdControlError`).
    """

    def __init__(self, address: str, participant: str, *, acc_rate: int | None = None, acc_range_g: int = 8,
                 pmd_clock: ClockConfig | None = None, response_timeout: float = 5.0, **kw: Any):
        if acc_rate is not None:
            pmd.acc_start(acc_rate, acc_range_g)  # validates before any connect
        self.acc_rate = acc_rate
        self.acc_range_g = acc_range_g
        self.kinds = (StreamKind.ECG, StreamKind.RR, StreamKind.HR) + ((StreamKind.ACC,) if acc_rate else ())
        kw.setdefault("label", f"Polar H10 {address}")
        super().__init__(address, participant, **kw)
        self._pmd_clock = SensorClock(pmd_clock or ClockConfig(max_latency_s=1.0))
        self._regular = {StreamKind.ECG: _Regular(pmd.ECG_RATE_HZ)}
        if acc_rate:
            self._regular[StreamKind.ACC] = _Regular(float(acc_rate))
        self._last_ns: dict[int, int] = {}
        self._cp_waiter: asyncio.Future | None = None
        self._response_timeout = response_timeout

    def _rate(self, kind: StreamKind) -> float | None:
        if kind is StreamKind.ECG:
            return pmd.ECG_RATE_HZ
        if kind is StreamKind.ACC:
            return float(self.acc_rate)  # type: ignore[arg-type]
        return None

    def _channels(self, kind: StreamKind) -> tuple[str, ...]:
        return ("x", "y", "z") if kind is StreamKind.ACC else ()

    def _subscribed_data(self) -> tuple[str, ...]:
        return (pmd.PMD_DATA, HEART_RATE_MEASUREMENT)

    def _link_lost(self) -> None:
        super()._link_lost()
        self._pmd_clock.new_segment()
        self._last_ns.clear()

    async def _setup(self, client: Any) -> None:
        await super()._setup(client)
        await client.start_notify(pmd.PMD_CONTROL, self._on_control)
        await client.start_notify(pmd.PMD_DATA, self._on_data)
        await self._command(client, pmd.ECG_START)
        if self.acc_rate:
            await self._command(client, pmd.acc_start(self.acc_rate, self.acc_range_g))

    async def _command(self, client: Any, command: bytes) -> pmd.PmdResponse:
        loop = asyncio.get_running_loop()
        self._cp_waiter = loop.create_future()
        await client.write_gatt_char(pmd.PMD_CONTROL, command, response=True)
        try:
            resp: pmd.PmdResponse = await asyncio.wait_for(self._cp_waiter, self._response_timeout)
        except asyncio.TimeoutError:
            raise DeviceUnavailableError(
                f"Polar PMD: no control-point answer to {command.hex(' ')} within {self._response_timeout} s"
            ) from None
        finally:
            self._cp_waiter = None
        if resp.op != command[0] or resp.measurement != command[1]:
            raise DeviceUnavailableError(
                f"Polar PMD: answer for op {resp.op}/type {resp.measurement} to request {command.hex(' ')}"
            )
        return resp.raise_for_status()

    async def _shutdown(self, client: Any) -> None:
        for m in ((pmd.MEAS_ACC,) if self.acc_rate else ()) + (pmd.MEAS_ECG,):
            try:
                await client.write_gatt_char(pmd.PMD_CONTROL, pmd.stop(m), response=True)
            except Exception:
                break
        await super()._shutdown(client)

    def _on_control(self, _sender: Any, data: bytes) -> None:
        try:
            resp = pmd.parse_control_response(data, source=self.label)
        except MalformedPayloadError as exc:
            self._bad(exc)
            return
        if self._cp_waiter is not None and not self._cp_waiter.done():
            self._cp_waiter.set_result(resp)

    def _on_data(self, _sender: Any, data: bytes) -> None:
        arrival = self._now()
        try:
            frame = pmd.parse_pmd_frame(data, source=self.label)
        except MalformedPayloadError as exc:
            self._bad(exc)
            return
        kind = StreamKind.ECG if frame.measurement == pmd.MEAS_ECG else StreamKind.ACC
        if kind not in self._regular:
            return  # ACC frames of a stream we did not ask for
        prev = self._last_ns.get(frame.measurement)
        if prev is not None and frame.sensor_ns <= prev:
            self._pmd_clock.new_segment()  # sensor clock went back: reset
            self.stats.last_error = f"{kind.value} sensor clock reset ({prev} -> {frame.sensor_ns} ns)"
            log.warning("%s: %s", self.participant, self.stats.last_error)
        self._last_ns[frame.measurement] = frame.sensor_ns
        reg = self._regular[kind]
        n = len(frame.values)
        last_s = frame.sensor_s
        first_s = last_s - (n - 1) / reg.rate
        self._pmd_clock.observe(last_s, arrival)
        self.stats.clock_segments["pmd"] = self._pmd_clock.segment
        t0, gap = reg.place(first_s, last_s, n, self._pmd_clock)
        if gap:
            self._gap.add(kind)
        self._emit(Chunk(self._info[kind], frame.values, t0=t0, meta=self._meta()))


class _NullLock:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: Any) -> None:
        return None
