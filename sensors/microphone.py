"""Live microphones (PortAudio via ``sounddevice``): one mono 16-kHz AUDIO stream per person.

Each person is a (device, channel) pair: one USB/lapel microphone per person, or one channel
each of a stereo/multichannel interface. One PortAudio input stream is opened per device. Its
callback runs on PortAudio's real-time thread and does nothing but copy the block into a
preallocated ring buffer (no locks, no allocation of sample memory, no Python objects kept), so
it never blocks the audio driver. The asyncio side drains the rings every ``poll_s`` and yields
chunks on the session clock, which counts the device's own samples from the moment the source
starts (one device = one sample clock; several devices are assumed not to drift apart during a
session, which holds to ~0.01 % for USB audio and is small against the 1-s feature step).

A stop (:meth:`MicrophoneSource.request_stop`) stops the streams first, then hands over what
the rings hold: every sample the driver delivered reaches the session.

Losses are counted, never hidden:

* ring overflow (the consumer fell behind by more than ``ring_s``): the newest block is dropped,
  the next chunk starts after the hole with ``gap_before=True``;
* PortAudio ``input_overflow`` (the driver lost samples) and ``input_underflow`` flags;

both reported in every chunk's ``meta`` (``overflows``, ``underflows``, ``dropped_samples``) and
in :attr:`MicrophoneSource.quality`.

Privacy: the samples exist only in this process's memory; the pipeline turns them into prosody
frames, and the recorder drops AUDIO chunks unless the user opted in with ``--keep-audio``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Mapping, Sequence

import numpy as np

from .base import Source
from .chunk import Chunk, StreamInfo, StreamKind
from .errors import DeviceUnavailableError, InputError

RATE = 16000


def _sounddevice():
    try:
        import sounddevice as sd  # PortAudio binding; loads libportaudio at import
    except OSError as e:  # pragma: no cover - depends on the host
        raise DeviceUnavailableError(f"PortAudio is not available ({e}); install libportaudio2") from e
    return sd


def list_audio_devices() -> list[dict[str, Any]]:
    """Input-capable audio devices: ``index, name, hostapi, max_input_channels, default_samplerate``.

    Raises :class:`DeviceUnavailableError` when PortAudio cannot enumerate devices.
    """
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
    except Exception as e:  # PortAudioError and friends
        raise DeviceUnavailableError(f"cannot list audio devices: {e}") from e
    out = []
    for d in devices:
        if int(d.get("max_input_channels", 0)) <= 0:
            continue
        api = apis[d["hostapi"]]["name"] if 0 <= d.get("hostapi", -1) < len(apis) else ""
        out.append({"index": int(d["index"]), "name": str(d["name"]), "hostapi": api,
                    "max_input_channels": int(d["max_input_channels"]),
                    "default_samplerate": float(d["default_samplerate"])})
    return out


#: Name used by ``coregulate devices audio``.
list_devices = list_audio_devices


def parse_mic_spec(spec: str) -> tuple[int | str | None, int]:
    """``"2"`` -> device 2, channel 0; ``"2:1"`` -> channel 1; ``"USB Audio:1"`` -> by name;
    ``"default"`` -> the host's default input."""
    text = str(spec).strip()
    if not text:
        raise InputError("empty microphone", field="--*-mic", expected="DEVICE or DEVICE:CHANNEL (coregulate devices audio)")
    head, sep, tail = text.rpartition(":")
    channel = 0
    if sep and tail.strip().isdigit():
        text, channel = head.strip(), int(tail)
    if text.lower() == "default":
        return None, channel
    return (int(text) if text.isdigit() else text), channel


def format_devices(devices: list[dict[str, Any]]) -> str:
    """Table for ``coregulate devices audio``."""
    if not devices:
        return "no audio input devices found"
    lines = ["index  inputs  default_Hz  name (host API)"]
    for d in devices:
        lines.append(f"{d['index']:>5}  {d['max_input_channels']:>6}  {d['default_samplerate']:>10.0f}  "
                     f"{d['name']} ({d['hostapi']})")
    return "\n".join(lines)


@dataclass(frozen=True)
class MicChannel:
    """One person's microphone: a PortAudio device (index or name; None = default) and a
    0-based input channel on it."""

    participant: str
    device: int | str | None = None
    channel: int = 0


class RingBuffer:
    """Single-producer/single-consumer ring of float32 frames, preallocated.

    The producer (audio callback) only slices and copies; counters are plain ints whose
    assignment is atomic under the GIL, and each side writes only its own counter.
    """

    def __init__(self, capacity: int, channels: int, max_gaps: int = 1024) -> None:
        self.data = np.zeros((capacity, channels), dtype=np.float32)
        self.capacity = capacity
        self.written = 0  # frames ever written (producer)
        self.read = 0  # frames ever read (consumer)
        self.dropped = 0  # frames dropped because the ring was full (producer)
        # gap records: (ring position "written" at the drop, frames lost), preallocated
        self.gap_pos = np.zeros(max_gaps, dtype=np.int64)
        self.gap_len = np.zeros(max_gaps, dtype=np.int64)
        self.n_gaps = 0
        self.gaps_read = 0

    def write(self, block: np.ndarray) -> None:
        """Append one block (producer side, the audio callback: no allocation).

        A block that does not fit is dropped whole and recorded as a gap (merged with the gap just
        before it), so the consumer marks the hole instead of seeing shifted samples.

        Parameters
        ----------
        block : ndarray
            ``(frames, channels)`` samples.
        """
        n = len(block)
        free = self.capacity - (self.written - self.read)
        if n > free:
            # Drop the whole block: keeping its head would only move the hole.
            k = self.n_gaps
            if k > self.gaps_read and self.gap_pos[k - 1] == self.written:
                self.gap_len[k - 1] += n
            elif k < len(self.gap_pos):
                self.gap_pos[k] = self.written
                self.gap_len[k] = n
                self.n_gaps = k + 1
            self.dropped += n
            return
        a = self.written % self.capacity
        first = min(n, self.capacity - a)
        self.data[a : a + first] = block[:first]
        if first < n:
            self.data[: n - first] = block[first:]
        self.written += n

    def take(self, upto: int) -> np.ndarray:
        """Copy frames ``read .. upto`` out (consumer side) and advance ``read``."""
        n = upto - self.read
        a = self.read % self.capacity
        idx = (a + np.arange(n)) % self.capacity
        out = self.data[idx].astype(np.float64)
        self.read = upto
        return out


class _DeviceCapture:
    """One PortAudio input stream and its ring."""

    def __init__(self, device: int | str | None, n_channels: int, rate: int, block: int, ring_frames: int,
                 stream_factory: Callable[..., Any]) -> None:
        self.device = device
        self.ring = RingBuffer(ring_frames, n_channels)
        self.overflows = 0
        self.underflows = 0
        self.flagged = False  # a driver overflow since the last chunk
        self.pending_gap = False  # a ring overflow hole precedes the next chunk
        self.position = 0  # device samples delivered to the session so far (incl. holes)
        try:
            self.stream = stream_factory(samplerate=rate, blocksize=block, device=device, channels=n_channels,
                                         dtype="float32", callback=self._callback)
        except DeviceUnavailableError:
            raise
        except Exception as e:  # sd.PortAudioError, ValueError for unknown devices
            raise DeviceUnavailableError(
                f"cannot open audio input {'default' if device is None else repr(device)} ({n_channels} ch, {rate} Hz): {e}; "
                "run `coregulate devices audio` to list inputs") from e

    def _callback(self, indata, frames, time_info, status) -> None:  # PortAudio thread
        if status:
            if status.input_overflow:
                self.overflows += 1
                self.flagged = True
            if status.input_underflow:
                self.underflows += 1
        self.ring.write(indata)


def _default_stream_factory(**kw):
    sd = _sounddevice()
    return sd.InputStream(**kw)


class MicrophoneSource(Source):
    """Live capture, one AUDIO stream per person.

    Parameters
    ----------
    channels : sequence of MicChannel, or mapping participant -> (device, channel) or "DEVICE[:CH]"
        Every person captured by this source. Put all persons of one multichannel interface in
        ONE source: many hosts cannot open the same device twice.
    device, participant : str, optional
        Shorthand for one person (``MicrophoneSource(device="2:1", participant="client")``).
    now : callable, optional
        The session clock shared with the other live sources; chunk times are ``now()`` at
        stream start plus the device's sample count. Default: the source's own start is t = 0.
    rate : int
        Capture rate (16 kHz: what the voice front end expects; PortAudio resamples if the host
        API supports it, else opening fails with :class:`DeviceUnavailableError`).
    block_s : float
        PortAudio block length (20 ms keeps latency low at a modest callback rate).
    ring_s : float
        Ring capacity; the consumer may fall behind this long before samples are dropped.
    poll_s : float
        How often the asyncio side drains the rings (adds at most this much latency).
    duration_s : float, optional
        Stop after this much audio (tests, timed recordings).
    stream_factory : callable, optional
        Builds the stream (``sounddevice.InputStream`` signature); tests pass a fake.
    """

    def __init__(self, channels: Sequence[MicChannel] | Mapping[str, Any] | None = None, *,
                 device: str | int | None = None, participant: str | None = None,
                 now: Callable[[], float] | None = None,
                 rate: int = RATE, block_s: float = 0.02, ring_s: float = 10.0, poll_s: float = 0.02,
                 duration_s: float | None = None, stream_factory: Callable[..., Any] | None = None) -> None:
        if channels is None:
            if participant is None:
                raise InputError("no microphone assigned", field="audio", expected="channels or device= and participant=")
            channels = {participant: "default" if device is None else str(device)}
        if isinstance(channels, Mapping):
            pairs = {p: parse_mic_spec(v) if isinstance(v, (str, int)) else tuple(v) for p, v in channels.items()}
            channels = [MicChannel(p, dev, ch) for p, (dev, ch) in pairs.items()]
        self.channels = list(channels)
        if not self.channels:
            raise InputError("no microphone assigned", field="audio", expected="one (device, channel) per person")
        names = [c.participant for c in self.channels]
        if len(set(names)) != len(names):
            raise InputError(f"a person has two microphones: {names}", field="audio",
                             expected="one (device, channel) per person")
        for c in self.channels:
            if c.channel < 0:
                raise InputError(f"negative channel {c.channel} for {c.participant}", field="audio.channel",
                                 expected="a 0-based input channel")
        self.rate = int(rate)
        self.block = max(1, int(round(block_s * self.rate)))
        self.ring_frames = max(self.block * 4, int(round(ring_s * self.rate)))
        self.poll_s = poll_s
        self.duration_s = duration_s
        self._factory = stream_factory or _default_stream_factory
        if stream_factory is None:
            self._check_devices()
        self.streams = [StreamInfo(c.participant, StreamKind.AUDIO, float(self.rate),
                                   label=f"microphone {c.device if c.device is not None else 'default'}:{c.channel}")
                        for c in self.channels]
        self._captures: dict[Any, _DeviceCapture] = {}
        self._closed = False
        self._stopping = False
        self._now = now
        self.t_open = 0.0  # session time of the first captured sample
        self.utc0 = None

    def status(self) -> dict[str, Any]:
        """For the live status line: which microphones, and the loss counters."""
        return {"source": "microphone", "streams": [s.key for s in self.streams], "open": bool(self._captures),
                **self.quality}

    def _check_devices(self) -> None:
        """Fail before the session starts when an assigned input cannot exist."""
        devices = list_audio_devices()
        if not devices:
            raise DeviceUnavailableError("no audio input device found (no sound card, or PortAudio sees none); "
                                         "run `coregulate devices audio` to list inputs")
        by_index = {d["index"]: d for d in devices}
        for c in self.channels:
            if isinstance(c.device, int):
                d = by_index.get(c.device)
                if d is None:
                    raise DeviceUnavailableError(f"audio input {c.device} (for {c.participant}) does not exist; "
                                                 "run `coregulate devices audio` to list inputs")
                if c.channel >= d["max_input_channels"]:
                    raise DeviceUnavailableError(
                        f"audio input {c.device} ({d['name']}) has {d['max_input_channels']} channel(s); "
                        f"channel {c.channel} for {c.participant} does not exist (channels count from 0)")

    @property
    def quality(self) -> dict[str, int]:
        """Loss counters summed over devices."""
        caps = list(self._captures.values())
        return {"overflows": sum(c.overflows for c in caps), "underflows": sum(c.underflows for c in caps),
                "dropped_samples": sum(c.ring.dropped for c in caps)}

    def open(self) -> None:
        """Open and start every device's stream (idempotent); the first sample is at ``now()``
        (or t = 0 without a shared clock)."""
        if self._captures:
            return
        by_dev: dict[Any, int] = {}
        for c in self.channels:
            by_dev[c.device] = max(by_dev.get(c.device, 0), c.channel + 1)
        try:
            for dev, n in by_dev.items():
                self._captures[dev] = _DeviceCapture(dev, n, self.rate, self.block, self.ring_frames, self._factory)
            if self._now is not None:
                self.t_open = float(self._now())
            elif self.utc0 is None:
                self.utc0 = time.time()
            for cap in self._captures.values():
                cap.stream.start()
        except DeviceUnavailableError:
            self._stop()
            raise
        except Exception as e:
            self._stop()
            raise DeviceUnavailableError(f"cannot start audio input: {e}") from e

    def _drain(self, cap: _DeviceCapture, dev: Any) -> list[Chunk]:
        """Chunks of everything in the ring up to the next hole (and the hole itself)."""
        ring = cap.ring
        out: list[Chunk] = []
        while True:
            written = ring.written
            gap = None
            if ring.gaps_read < ring.n_gaps:
                gpos = int(ring.gap_pos[ring.gaps_read])
                if gpos <= written:
                    gap = (gpos, int(ring.gap_len[ring.gaps_read]))
                    written = gpos
            n = written - ring.read
            if self.duration_s is not None:  # duration counts device samples, not session time
                n = min(n, max(0, int(round(self.duration_s * self.rate)) - cap.position))
            if n > 0:
                block = ring.take(ring.read + n)
                t0 = self.t_open + cap.position / self.rate
                gap_before = cap.flagged
                cap.flagged = False
                q = self.quality
                for c, info in zip(self.channels, self.streams):
                    if c.device == dev:
                        out.append(Chunk(info, block[:, c.channel].copy(), t0=t0,
                                         gap_before=gap_before or cap.pending_gap, meta=dict(q)))
                cap.pending_gap = False
                cap.position += n
            if gap is not None and ring.read == gap[0]:
                ring.gaps_read += 1
                cap.position += gap[1]
                cap.pending_gap = True
                continue
            return out

    def poll(self) -> list[Chunk]:
        """Everything captured since the last call, as chunks (synchronous use and tests)."""
        out: list[Chunk] = []
        for dev, cap in self._captures.items():
            out += self._drain(cap, dev)
        return out

    def request_stop(self) -> bool:
        """Stop capturing; what the devices already delivered is still handed over.

        The iteration stops the PortAudio streams (``stop()`` returns once the buffers the
        driver still held have passed the callback into the rings), yields what the rings
        hold, and ends: at most ``poll_s`` plus the driver's latency after the request.
        """
        if not self._captures or self._closed:
            return False  # not capturing: nothing received, nothing to hand over
        self._stopping = True
        return True

    async def __aiter__(self) -> AsyncIterator[Chunk]:  # type: ignore[override]
        self.open()
        try:
            while not self._closed:
                if self._stopping:
                    self._stop()  # no callback writes into the rings after this
                    for ch in self.poll():
                        yield ch
                    return
                for ch in self.poll():
                    yield ch
                done = True
                for cap in self._captures.values():
                    limit = self.duration_s is not None and cap.position >= self.duration_s * self.rate
                    active = bool(getattr(cap.stream, "active", True))
                    if not limit and (active or cap.ring.written > cap.ring.read):
                        done = False
                if done:
                    return
                await asyncio.sleep(self.poll_s)
        finally:
            self._stop()

    def _stop(self) -> None:
        for cap in self._captures.values():
            try:
                cap.stream.stop()
                cap.stream.close()
            except Exception:  # noqa: BLE001 - closing a dead device must not mask the cause
                pass

    async def aclose(self) -> None:
        """Stop the capture stream and release it; safe to call more than once."""
        self._closed = True
        self._stop()

