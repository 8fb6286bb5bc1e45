"""A live camera as motion energy: frames from an FFmpeg input device (PyAV), MEA per person's
region on the fly (:mod:`coregulate.models.motion_energy`), ``MOTION`` chunks on the session clock.

Frames exist only in memory for one difference: nothing of the picture is stored or sent.

Device and regions, as ``coregulate record --camera DEVICE[?client=x0,y0,x1,y1&therapist=...]``
(default: client left half, therapist right half)::

    --camera /dev/video0                          (Linux, v4l2)
    --camera "0?client=0,0,0.45,1&therapist=0.55,0,1,1"   (macOS avfoundation index / Windows dshow name)

Clock: the first frame is stamped with the session clock (``now()``) when it arrives; later
frames keep the device's own frame times from there (one device = one clock, as for a
microphone), so frame jitter of the delivery does not become motion-energy jitter. A frame
without a time, or whose time goes back (the device restarted its clock), is stamped with the
session clock and the device clock is re-anchored there.

Trouble mid-capture is one warning line (logger ``coregulate.sensors.camera``) and a gap, never a
traceback: dropped frames (a hole > 3 frame periods) and a decoding error restart the differencing
and start the next chunk with ``gap_before``; a frame-size change restarts MEA at the new size
(regions are relative); after :data:`MAX_DECODE_ERRORS` decoding errors in a row (a camera
unplugged) the capture stops cleanly and the session goes on without it.

Tested with a video file played through the same code path (no camera on the development
machines): the values are exactly those of the video reader on that file; the failures with fake
devices (``tests/sensors/test_camera.py``).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from typing import Any, AsyncIterator, Callable

from .base import Source
from .chunk import Chunk, StreamInfo, StreamKind
from .errors import DeviceUnavailableError, InputError
from .readers.video import FrameSizeChanged

log = logging.getLogger("coregulate.sensors.camera")

#: Decoding errors in a row after which the camera is taken as gone and the capture stops.
MAX_DECODE_ERRORS = 3


def default_input_format() -> str:
    """FFmpeg's camera input format of this operating system."""
    return {"darwin": "avfoundation", "win32": "dshow"}.get(sys.platform, "v4l2")


def parse_camera_spec(text: str) -> tuple[str, dict[str, str]]:
    """``"/dev/video0?client=0,0,0.5,1&therapist=0.5,0,1,1"`` -> (device, {role: region text})."""
    device, _, query = str(text).partition("?")
    if not device.strip():
        raise InputError("empty camera device", field="--camera", expected="DEVICE[?client=x0,y0,x1,y1&therapist=...]")
    regions: dict[str, str] = {}
    for item in filter(None, query.split("&")):
        role, eq, value = item.partition("=")
        if not eq or not role.strip() or not value.strip():
            raise InputError(f"{item!r} in {text!r}", field="--camera", expected="ROLE=x0,y0,x1,y1")
        regions[role.strip()] = value.strip()
    return device.strip(), regions


class CameraSource(Source):
    """Motion energy of each person's region of a live camera.

    Parameters
    ----------
    device : str
        FFmpeg device name (``/dev/video0``, ``0``, ``video=Integrated Camera``).
    regions : dict of str to str, optional
        Role -> ``x0,y0,x1,y1`` (relative); default client left half, therapist right half.
    now : callable
        The session clock (seconds).
    input_format : str, optional
        FFmpeg input format (default :func:`default_input_format`).
    opener : callable, optional
        Returns an opened PyAV input container (tests play a file through it).
    threshold, step : optional
        MEA noise threshold and pixel stride (:class:`~coregulate.models.motion_energy.MotionEnergy`).
    """

    def __init__(self, device: str, regions: dict[str, str] | None = None, *, now: Callable[[], float],
                 input_format: str | None = None, opener: Callable[[], Any] | None = None,
                 threshold: float | None = None, step: int | None = None) -> None:
        import av

        from ..models.motion_energy import DEFAULT_REGIONS, DEFAULT_STEP, DEFAULT_THRESHOLD, Region
        from .readers.video import FrameMotion, MotionChunker

        self.device = device
        self.now = now
        try:
            parsed = {k: Region.parse(v) for k, v in regions.items()} if regions else dict(DEFAULT_REGIONS)
        except ValueError as e:
            raise InputError(str(e), field="--camera", expected="ROLE=x0,y0,x1,y1 in relative coordinates") from None
        try:
            self._container = opener() if opener else av.open(device, format=input_format or default_input_format())
        except (av.FFmpegError, OSError) as e:
            raise DeviceUnavailableError(f"camera {device!r} cannot be opened ({e})") from None
        if not self._container.streams.video:
            raise DeviceUnavailableError(f"camera {device!r} gives no video")
        self._video = self._container.streams.video[0]
        self.rate = float(self._video.average_rate or self._video.guessed_rate or 25)
        self._motion = FrameMotion(list(parsed.values()), self._video.codec_context.width,
                                   self._video.codec_context.height, self.rate,
                                   DEFAULT_THRESHOLD if threshold is None else threshold,
                                   DEFAULT_STEP if step is None else step)
        self.streams = [StreamInfo(who, StreamKind.MOTION, self.rate, (),
                                   f"camera {device} motion energy, region {r.as_text()}") for who, r in parsed.items()]
        self._chunker = MotionChunker(self.streams, f"camera {device}")
        self._frames = self._container.decode(self._video)
        self._anchor: tuple[float, float] | None = None  # (device time, session time) of the clock anchor
        self._last_t: float | None = None
        self._errors = 0  # decoding errors in a row
        self._ended = False  # the device gave its last frame (or is gone)
        self._closed = False
        self._lock = threading.Lock()  # the capture thread decodes under it; closing waits for it

    def _block(self) -> list[Chunk]:
        """The next chunks (about a second of frames); [] at the end (blocking)."""
        with self._lock:
            out: list[Chunk] = []
            while not out and not self._closed and not self._ended:
                out = self._next_frame()
            if (self._ended or self._closed) and not out:
                out = self._chunker.flush()
            return out

    def _next_frame(self) -> list[Chunk]:
        """Decode one frame and add its motion energy; the chunks that became complete."""
        import av

        try:
            frame = next(self._frames)
        except StopIteration:
            self._ended = True
            return []
        except (av.FFmpegError, OSError) as e:
            self._errors += 1
            if self._errors >= MAX_DECODE_ERRORS:
                log.warning("camera %s: capture stopped after %d decoding errors in a row (%s); the session goes on "
                            "without its motion energy", self.device, self._errors, e)
                self._ended = True
                return []
            log.warning("camera %s: a frame could not be decoded (%s); motion energy resumes after a gap", self.device, e)
            self._motion.reset()
            self._frames = self._container.decode(self._video)  # the demuxer goes on from the next packet
            return self._chunker.gap()
        self._errors = 0
        t = self._session_time(frame.time)
        if t is None:
            return []
        try:
            energy = self._motion.update(frame, t)
        except FrameSizeChanged as e:
            log.warning("camera %s: %s; motion energy restarts at the new size after a gap", self.device, e)
            self._motion.restart(*e.new)
            out = self._chunker.gap()
            self._motion.update(frame, t)  # the first frame at the new size: no difference yet
            return out
        return self._chunker.add(t, energy) if energy is not None else []

    def _session_time(self, device_t: float | None) -> float | None:
        """Session time of a frame: the device's clock from its anchor; the session clock for a frame
        without time or one that goes back (re-anchored there); ``None`` to drop a frame that would
        not be later than the last (several frames within one tick of the session clock)."""
        if device_t is not None and self._anchor is not None:
            t = self._anchor[1] + device_t - self._anchor[0]
            if self._last_t is None or t > self._last_t:
                self._last_t = t
                return t
        now = float(self.now())
        self._anchor = (device_t, now) if device_t is not None else None
        if self._last_t is not None and now <= self._last_t:
            return None
        self._last_t = now
        return now

    async def __aiter__(self) -> AsyncIterator[Chunk]:
        try:
            while not self._closed:
                chunks = await asyncio.to_thread(self._block)
                if not chunks:
                    return
                for c in chunks:
                    yield c
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Stop the capture and release it; safe to call more than once."""
        if not self._closed:
            self._closed = True
            await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:  # after the block being decoded, if any
            self._container.close()
