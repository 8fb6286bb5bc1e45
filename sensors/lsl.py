"""Lab Streaming Layer in (pylsl / liblsl, Kothe et al., 2024, Imaging Neuroscience).

:class:`LslInletSource` makes any LSL stream of type ECG, HR, RR, EDA, Audio or Markers one
participant's source: LSL timestamps (local_clock of the sender) plus the inlet's
``time_correction()`` give the time on this host's LSL clock, which is ``time.monotonic`` on
Linux/macOS; the session's origin on that clock turns it into session time.

The way out, the session's features published to LSL, is a session sink
(:class:`~coregulate.server.session.lsl_outlet.LslPublisher`): it needs the feature columns of
``models/``, which sensors/ sits below.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
from typing import Any, AsyncIterator, Callable

import numpy as np

from .base import Source
from .chunk import Chunk, StreamInfo, StreamKind
from .errors import DeviceUnavailableError, InputError

log = logging.getLogger("coregulate.sensors.lsl")

#: Samples per pull: a pull that returns fewer has emptied the inlet's buffer.
_PULL_MAX = 4096

#: LSL ``type`` (lower case) → stream kind. XDF meta-data recommendations use "EDA"/"GSR".
LSL_TYPES: dict[str, StreamKind] = {
    "ecg": StreamKind.ECG, "hr": StreamKind.HR, "heartrate": StreamKind.HR, "rr": StreamKind.RR,
    "ibi": StreamKind.RR, "eda": StreamKind.EDA, "gsr": StreamKind.EDA, "audio": StreamKind.AUDIO,
    "markers": StreamKind.MARKER, "marker": StreamKind.MARKER,
}

#: Unit strings seen in LSL channel meta-data → factor to the canonical unit of the kind.
UNIT_FACTORS: dict[StreamKind, dict[str, float]] = {
    StreamKind.ECG: {"uv": 1.0, "µv": 1.0, "microvolts": 1.0, "mv": 1e3, "millivolts": 1e3, "v": 1e6, "volts": 1e6},
    StreamKind.EDA: {"us": 1.0, "µs": 1.0, "microsiemens": 1.0, "ns": 1e-3, "s": 1e6, "siemens": 1e6},
    StreamKind.RR: {"ms": 1.0, "milliseconds": 1.0, "s": 1e3, "seconds": 1e3},
    StreamKind.HR: {"bpm": 1.0, "1/min": 1.0, "beats/min": 1.0},
    StreamKind.AUDIO: {"": 1.0},
}


#: Where liblsl looks for its configuration (LSL documentation, "Configuration File").
_LSL_CONFIG_FILES = ("lsl_api.cfg", "~/lsl_api/lsl_api.cfg", "/etc/lsl_api/lsl_api.cfg")


def _quiet_liblsl(pylsl) -> None:
    """Keep liblsl's own INFO lines ("Loaded default config", its git hash) off stderr.

    Only when the lab has no LSL configuration file of its own (which may hold network
    settings that must not be overridden) and the user did not ask for ``--verbose``.
    """
    if log.isEnabledFor(logging.INFO) or os.environ.get("LSLAPICFG"):
        return
    if any(os.path.isfile(os.path.expanduser(p)) for p in _LSL_CONFIG_FILES):
        return
    try:
        pylsl.set_config_content("[log]\nlevel = -2\n")  # errors only
    except (NotImplementedError, AttributeError):  # liblsl < 1.17.7: it stays chatty
        pass


def _lsl():
    try:
        import pylsl
    except Exception as exc:  # liblsl missing or broken
        raise DeviceUnavailableError(f"Lab Streaming Layer is not available: {exc}") from exc
    global _liblsl_configured
    if not _liblsl_configured:
        _liblsl_configured = True
        _quiet_liblsl(pylsl)
    return pylsl


_liblsl_configured = False


def load_pylsl():
    """pylsl, with liblsl's start-up chatter kept off the terminal; DeviceUnavailableError if absent."""
    return _lsl()


def _predicate(name: str | None, type_: str | None, source_id: str | None) -> str:
    parts = []
    for key, val in (("name", name), ("type", type_), ("source_id", source_id)):
        if val is not None:
            if "'" in val:
                raise InputError("quotes are not allowed", field=f"LSL {key}", expected="a plain stream name/type/id")
            parts.append(f"{key}='{val}'")
    if not parts:
        raise InputError("no stream chosen", field="--lsl-in", expected="name=, type= or source_id=")
    return " and ".join(parts)


class LslInletSource(Source):
    """One LSL stream as one participant's source.

    Parameters
    ----------
    participant : str
        Role the stream belongs to.
    name, type, source_id : str, optional
        Which stream (at least one); all given must match.
    kind : StreamKind, optional
        Overrides the kind derived from the LSL ``type``.
    channel : int
        Channel used for one-channel kinds (ECG, EDA, HR, RR, Audio).
    unit : str, optional
        Overrides the unit found in the stream's channel meta-data.
    timeout : float
        Seconds to wait for the stream to appear; then :class:`DeviceUnavailableError`.
    now : callable, optional
        Session seconds (shared by the session's live sources); default: zero at construction.
    """

    def __init__(self, participant: str, *, name: str | None = None, type: str | None = None,  # noqa: A002
                 source_id: str | None = None, kind: StreamKind | None = None, channel: int = 0,
                 unit: str | None = None, timeout: float = 5.0, now: Callable[[], float] | None = None,
                 correction_every_s: float = 5.0):
        pylsl = _lsl()
        pred = _predicate(name, type, source_id)
        found = pylsl.resolve_bypred(pred, 1, timeout)
        if not found:
            raise DeviceUnavailableError(f"no LSL stream matching {pred} within {timeout:g} s")
        self._pylsl = pylsl
        self._inlet = pylsl.StreamInlet(found[0], max_buflen=60, recover=True)
        info = self._inlet.info(timeout)
        self.lsl_name, self.lsl_type, self.lsl_source_id = info.name(), info.type(), info.source_id()
        kind = kind or LSL_TYPES.get(self.lsl_type.lower())
        if kind is None:
            raise InputError(f"LSL stream {self.lsl_name!r} has type {self.lsl_type!r}", field="--lsl-in",
                             expected="ECG, HR, RR, EDA, Audio or Markers (or give kind=)")
        if not 0 <= channel < info.channel_count():
            raise InputError(f"stream {self.lsl_name!r} has {info.channel_count()} channel(s)", field="channel",
                             expected=f"0..{info.channel_count() - 1}")
        self.kind, self.channel = kind, channel
        self._is_string = info.channel_format() == pylsl.cf_string
        self._scale = 1.0
        if kind is StreamKind.AUDIO and info.channel_format() == pylsl.cf_int16:
            self._scale = 1.0 / 32768.0
        elif kind is not StreamKind.MARKER:
            self._scale = self._unit_factor(kind, unit if unit is not None else _channel_unit(info, channel))
        rate = info.nominal_srate()
        regular = rate > 0 and kind not in (StreamKind.MARKER, StreamKind.RR)
        self.stream = StreamInfo(participant, kind, float(rate) if regular else None, (),
                                 f"LSL {self.lsl_name} ({self.lsl_type})")
        self.streams = [self.stream]
        self._now = now or _zero_now()
        # LSL time of session t = 0, fixed once: local_clock() and time.monotonic() share a base
        self._origin = pylsl.local_clock() - self._now()
        self._timeout = timeout
        self._correction_every = correction_every_s
        self._prev_end: float | None = None
        self._last_time = -math.inf
        self._closed = False
        self._stopping = False
        self._stream_closed = False
        self._inlet_lock = threading.Lock()
        self.time_correction: float | None = None

    def _unit_factor(self, kind: StreamKind, unit: str) -> float:
        key = (unit or "").strip().lower().replace("μ", "µ")
        table = UNIT_FACTORS.get(kind, {})
        if not key:
            if kind is not StreamKind.AUDIO:
                log.warning("LSL %s: no unit in the channel meta-data; taking %s", self.lsl_name, StreamInfo("", kind).unit)
            return 1.0
        if key not in table:
            raise InputError(f"unit {unit!r} of LSL stream {self.lsl_name!r}", field="unit",
                             expected=" or ".join(sorted(k for k in table if k)) or "no unit")
        return table[key]

    async def __aiter__(self) -> AsyncIterator[Chunk]:  # type: ignore[override]
        try:
            await asyncio.to_thread(self._in_inlet, self._inlet.open_stream, self._timeout)
            next_tc = -math.inf
            while not self._closed:
                draining = self._stopping
                if not draining and time.monotonic() >= next_tc:
                    self.time_correction = await asyncio.to_thread(self._in_inlet, self._inlet.time_correction,
                                                                   self._timeout)
                    next_tc = time.monotonic() + self._correction_every
                # once stopping, take only what liblsl already holds (timeout 0) until it is empty
                samples, stamps = await asyncio.to_thread(self._in_inlet, self._inlet.pull_chunk,
                                                          0.0 if draining else 0.1, _PULL_MAX) or ([], [])
                if stamps:
                    chunk = self._chunk(samples, np.asarray(stamps, dtype=np.float64))
                    if chunk is not None:
                        yield chunk
                if draining and len(stamps) < _PULL_MAX:
                    return
        except Exception as exc:
            if self._closed:
                return
            raise DeviceUnavailableError(f"LSL stream {self.lsl_name!r} failed: {exc}") from exc

    def _in_inlet(self, call: Callable, *args: Any) -> Any:
        """One liblsl call on the inlet, never concurrent with closing it (called in a worker thread).

        A pull cannot be abandoned: a cancelled ``to_thread`` keeps running. Closing the stream
        from another thread while it runs is what liblsl must never see, hence the lock.
        """
        with self._inlet_lock:
            if self._stream_closed:
                return None
            return call(*args)

    def request_stop(self) -> bool:
        """Stop pulling after handing over every sample already in the inlet's buffer."""
        self._stopping = True
        return True

    def _chunk(self, samples: list, stamps: np.ndarray) -> Chunk | None:
        times = stamps + (self.time_correction or 0.0) - self._origin
        if self._is_string:
            values = np.array([str(s[self.channel]) for s in samples], dtype=object)
        else:
            values = np.asarray(samples, dtype=np.float64)[:, self.channel] * self._scale
        if self.stream.rate is None:
            keep = np.empty(len(times), dtype=bool)
            last = self._last_time
            for i, t in enumerate(times):  # LSL may repeat a timestamp; the contract needs increase
                keep[i] = t > last
                last = max(last, t)
            if not keep.any():
                return None
            self._last_time = float(last)
            return Chunk(self.stream, values[keep], times=times[keep])
        return self._regular(values, float(times[0]))

    def _regular(self, values: np.ndarray, first: float) -> Chunk:
        """Contiguous chunks, slewed towards the LSL timestamps, with a marked gap on a jump."""
        rate = float(self.stream.rate)  # type: ignore[arg-type]
        n = len(values)
        gap = False
        if self._prev_end is None:
            t0 = first
        else:
            d = first - self._prev_end
            if d > max(0.25, 10.0 / rate):
                t0, gap = first, True
            else:
                slew = 0.01 * n / rate + 0.1 / rate
                t0 = self._prev_end + min(max(d, -slew), slew)
        self._prev_end = t0 + n / rate
        return Chunk(self.stream, values, t0=t0, gap_before=gap)

    async def aclose(self) -> None:
        """Stop pulling from the LSL inlet and release it; safe to call more than once."""
        self._closed = True
        await asyncio.to_thread(self._close_stream)

    def _close_stream(self) -> None:
        with self._inlet_lock:  # waits for a pull in flight (at most its 0.1 s timeout)
            if self._stream_closed:
                return
            self._stream_closed = True
            try:
                self._inlet.close_stream()
            except Exception:  # closing is best effort: the session is over either way
                pass


def _channel_unit(info: Any, channel: int) -> str:
    ch = info.desc().child("channels").child("channel")
    for _ in range(channel):
        ch = ch.next_sibling()
    return ch.child_value("unit") if not ch.empty() else ""


def _zero_now() -> Callable[[], float]:
    origin = time.monotonic()
    return lambda: time.monotonic() - origin
