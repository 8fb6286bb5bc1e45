"""A live camera as motion energy: frames from an FFmpeg input device (PyAV), MEA per person's
region on the fly (:mod:`coregulate.models.motion_energy`), ``MOTION`` chunks on the session clock.

Frames exist only in memory for one difference: nothing of the picture is stored or sent.

Device and regions, as ``coregulate record --camera DEVICE[?client=x0,y0,x1,y1&therapist=...]``
(default: client left half, therapist right half)::

    --camera /dev/video0                          (Linux, v4l2)
    --camera "0?client=0,0,0.45,1&therapist=0.55,0,1,1"   (macOS avfoundation index / Windows dshow name)

Clock: the first frame is stamped with the session clock (``now()``) when it arrives; later
frames keep the device's own frame times from there (one device = one clock, as for a
microphone), so frame jitter of the delivery does not become motion-energy jitter. Dropped
frames (a hole > 3 frame periods) start a chunk with ``gap_before``.

Tested with a video file played through the same code path (no camera on the development
machines): the values are exactly those of the video reader on that file.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any, AsyncIterator, Callable

from .base import Source
from .chunk import Chunk, StreamInfo, StreamKind
from .errors import DeviceUnavailableError, InputError

#: Frames decoded per hand-over from the capture thread (about a second at 25 fps).
BLOCK_FRAMES = 25


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

        from ..models.motion_energy import DEFAULT_REGIONS, DEFAULT_STEP, DEFAULT_THRESHOLD, MotionEnergy, Region

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
        vs = self._container.streams.video[0]
        self.rate = float(vs.average_rate or vs.guessed_rate or 25)
        self._mea = MotionEnergy(list(parsed.values()), vs.codec_context.width, vs.codec_context.height,
                                 DEFAULT_THRESHOLD if threshold is None else threshold,
                                 DEFAULT_STEP if step is None else step)
        self.streams = [StreamInfo(who, StreamKind.MOTION, self.rate, (),
                                   f"camera {device} motion energy, region {r.as_text()}") for who, r in parsed.items()]
        self._frames = self._container.decode(vs)
        self._t_first: float | None = None
        self._session_first = 0.0
        self._closed = False
        self._lock = threading.Lock()  # the capture thread decodes under it; closing waits for it

    def _block(self) -> list[tuple[float, Any]]:
        """Up to :data:`BLOCK_FRAMES` frames' (session time, energies); [] at the end (blocking)."""
        out: list[tuple[float, Any]] = []
        with self._lock:
            if self._closed:
                return out
            self._decode_into(out)
        return out

    def _decode_into(self, out: list[tuple[float, Any]]) -> None:
        from .readers.video import _grey

        for frame in self._frames:
            if self._t_first is None:
                self._t_first, self._session_first = (frame.time or 0.0), self.now()
            energy = self._mea.update(_grey(frame))
            if energy is not None:
                out.append((self._session_first + (frame.time or 0.0) - self._t_first, energy))
            if len(out) >= BLOCK_FRAMES:
                break

    async def __aiter__(self) -> AsyncIterator[Chunk]:
        import numpy as np

        from .readers._common import RegularEmitter

        emitters = [RegularEmitter(s, f"camera {self.device}", "frame time") for s in self.streams]
        try:
            while not self._closed:
                block = await asyncio.to_thread(self._block)
                if not block:
                    return
                times = [t for t, _ in block]
                values = np.vstack([e for _, e in block])
                chunks = [c for i, em in enumerate(emitters) for c in em.push(times, values[:, i])]
                for c in sorted(chunks, key=lambda c: c.start):
                    yield c
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:  # after the block being decoded, if any
            self._container.close()
