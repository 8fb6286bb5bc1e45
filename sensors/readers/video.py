"""Session video as a source of motion energy: decoded frame by frame (PyAV), never loaded whole,
never stored; each person's region becomes a ``MOTION`` stream (MEA, :mod:`coregulate.models.motion_energy`).

Two layouts:

* one camera showing both people (the usual set-up): ``video:session.mp4`` (short for
  ``dyad=video:session.mp4``), the client in the left half and the therapist in the right half,
  or regions given per role in relative coordinates ``x0,y0,x1,y1`` (0-1, from the top left)::

      video:session.mp4?client=0,0.1,0.45,1&therapist=0.55,0.1,1,1

* one file per person: ``client=video:client_cam.mp4`` (the whole frame, or ``?roi=x0,y0,x1,y1``).

Options: ``threshold=GREY`` (noise threshold in grey levels, default 15), ``step=N`` (pixel stride,
default 2), ``offset=S`` (the video's first frame is at session second S; frames before 0 are
skipped). Frame ``k``'s motion energy is at the frame's own presentation time (so variable frame
rates and dropped frames keep their times; holes > 3 frame periods are flagged as gaps, and no
difference is taken across them: :class:`FrameMotion`, shared with the live camera).

Privacy: frames live only in memory for one difference. The session keeps a *reference* to the
file (:attr:`VideoReader.video_reference`: path, size, SHA-256, offset, regions), never pixels.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Iterator

import numpy as np

from ..base import Reader
from ..chunk import Chunk, StreamInfo, StreamKind
from ..errors import InputError
from ._common import GAP_PERIODS, RegularEmitter, check_rate, num

#: The role of the roleless ``video:PATH`` SPEC: one camera for the whole dyad.
DYAD_ROLE = "dyad"
#: Options that are not a role's region.
SETTINGS = ("roi", "threshold", "step", "offset")
#: Frames per chunk flush (about a second of video).
BLOCK_FRAMES = 25
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi")
EXPECTED = "a video file FFmpeg can decode (mp4, mov, mkv, webm, avi)"


def looks_like_video(head: bytes) -> bool:
    """ISO-BMFF (mp4/mov), Matroska/WebM or AVI magic bytes."""
    return head[4:8] == b"ftyp" or head[:4] == b"\x1a\x45\xdf\xa3" or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")


def file_sha256(path: str, block: int = 1 << 20) -> str:
    """SHA-256 of the whole file (streamed), so a replay can tell the same video from another."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


class VideoReader(Reader):
    """Motion energy per person from a video file.

    Parameters
    ----------
    path : str or os.PathLike
        The video file.
    role : str
        The person filmed, or :data:`DYAD_ROLE` for a camera showing several people (one region
        per role option; default client = left half, therapist = right half).
    options : Mapping[str, str]
        Regions and :data:`SETTINGS` (see the module docstring).
    """

    def __init__(self, path, role: str, options=None):
        import av

        from ...models.motion_energy import DEFAULT_REGIONS, DEFAULT_STEP, DEFAULT_THRESHOLD, Region

        self.path = os.fspath(path)
        opts = dict(options or {})
        self.threshold = num(opts.get("threshold", str(DEFAULT_THRESHOLD)), self.path, None, "threshold",
                             "a noise threshold in grey levels, 0-254")
        step = num(opts.get("step", str(DEFAULT_STEP)), self.path, None, "step", "a whole pixel stride >= 1")
        if not 0 <= self.threshold < 255:
            raise InputError(f"threshold {self.threshold:g} out of range", path=self.path, field="threshold",
                             expected="grey levels 0-254")
        if step < 1 or step != int(step):
            raise InputError(f"step {step:g} is not a whole number >= 1", path=self.path, field="step",
                             expected="a pixel stride of 1, 2, 3, ...")
        self.step = int(step)
        self.offset_s = num(opts.get("offset", "0"), self.path, None, "offset", "seconds, e.g. offset=-2.5")
        regions = {k: v for k, v in opts.items() if k not in SETTINGS}
        if role == DYAD_ROLE:
            if "roi" in opts:
                raise InputError("roi= is for one person's file", path=self.path, field="roi",
                                 expected="one region per role, e.g. ?client=0,0,0.5,1&therapist=0.5,0,1,1")
            named = regions or {k: r.as_text() for k, r in DEFAULT_REGIONS.items()}
        else:
            if regions:
                raise InputError(f"option(s) {sorted(regions)} do not apply to one person's video", path=self.path,
                                 field="SPEC", expected=f"options for video: {', '.join(SETTINGS)}; regions per role "
                                                        "only in the dyad form video:PATH?client=...&therapist=...")
            named = {role: opts.get("roi", "0,0,1,1")}
        self.regions: dict[str, Any] = {}
        for who, text in named.items():
            try:
                self.regions[who] = Region.parse(text)
            except ValueError as e:
                raise InputError(str(e), path=self.path, field=who if role == DYAD_ROLE else "roi",
                                 expected="x0,y0,x1,y1 in relative coordinates, 0 <= x0 < x1 <= 1, 0 <= y0 < y1 <= 1") from None
        try:
            with av.open(self.path, metadata_errors="replace") as container:
                if not container.streams.video:
                    raise InputError("no video stream", path=self.path, field="video", expected=EXPECTED)
                vs = container.streams.video[0]
                rate = vs.average_rate or vs.guessed_rate
                codec = vs.codec_context  # None when the stream header names no codec FFmpeg knows
                self.width, self.height = (codec.width, codec.height) if codec is not None else (0, 0)
                self.duration_s = float(container.duration / 1e6) if container.duration else None
                self.has_audio = bool(container.streams.audio)
        except av.FFmpegError as e:
            raise InputError(f"cannot read video ({_reason(e)})", path=self.path, field="video", expected=EXPECTED) from None
        if not rate or not self.width or not self.height:
            raise InputError("video stream without frame rate or size", path=self.path, field="video", expected=EXPECTED)
        self.rate = check_rate(float(rate), self.path, "frame rate")
        name = os.path.basename(self.path)
        self.streams = [
            StreamInfo(who, StreamKind.MOTION, self.rate, (),
                       f"{name} motion energy, region {r.as_text()} (share of pixels changed > {self.threshold:g} grey levels)")
            for who, r in self.regions.items()
        ]

    @property
    def video_reference(self) -> dict[str, Any]:
        """What the session keeps about the video (never frames): where it was, how to recognise
        it, how it is aligned, and which region is whose."""
        st = os.stat(self.path)
        return {
            "path": os.path.abspath(self.path), "size": st.st_size, "sha256": file_sha256(self.path),
            "offset_s": self.offset_s, "rate": self.rate, "width": self.width, "height": self.height,
            "duration_s": self.duration_s, "regions": {k: r.as_text() for k, r in self.regions.items()},
        }

    def chunks(self) -> Iterator[Chunk]:
        """The file's chunks, in time order: one ``MOTION`` stream per region, frame differences of the decoded video
        (see :meth:`.Reader.chunks`)."""
        import av

        motion = FrameMotion(list(self.regions.values()), self.width, self.height, self.rate, self.threshold, self.step)
        chunker = MotionChunker(self.streams, self.path)
        k = -1
        try:
            with av.open(self.path, metadata_errors="replace") as container:
                vs = container.streams.video[0]
                vs.thread_type = "AUTO"  # frame + slice threads: decoding is most of the cost
                t_first = None
                for k, frame in enumerate(container.decode(vs)):
                    t = frame.time if frame.time is not None else k / self.rate
                    t_first = t if t_first is None else t_first
                    try:
                        energy = motion.update(frame, t)
                    except FrameSizeChanged as e:
                        raise InputError(str(e), path=self.path, field=f"frame {k}",
                                         expected=f"{self.width}x{self.height} throughout") from None
                    st = t - t_first + self.offset_s
                    if energy is None or st < 0:
                        continue
                    yield from chunker.add(st, energy)
        except av.FFmpegError as e:
            where = f"frame {k + 1}" if k >= 0 else "video"
            raise InputError(f"cannot decode video ({_reason(e)})", path=self.path, field=where, expected=EXPECTED) from None
        if k < 1:
            raise InputError("fewer than 2 decodable frames", path=self.path, field="video", expected=EXPECTED)
        yield from chunker.flush()


class FrameSizeChanged(ValueError):
    """A decoded frame's size differs from the stream's (a camera renegotiated, a spliced file)."""

    def __init__(self, old: tuple[int, int], new: tuple[int, int]) -> None:
        super().__init__(f"frame size changed from {old[0]}x{old[1]} to {new[0]}x{new[1]}")
        self.old, self.new = old, new


class FrameMotion:
    """Decoded frames and their times -> motion energy per region (MEA,
    :class:`~coregulate.models.motion_energy.MotionEnergy`): the one implementation the video
    reader and the live camera share.

    A hole of more than :data:`~._common.GAP_PERIODS` frame periods between frames restarts the
    differencing (the first frame after it has no value): a difference across the hole would count
    all of its movement as one frame's.

    Parameters
    ----------
    regions : sequence of Region
        One per person, relative coordinates.
    width, height : int
        Expected frame size; another size raises :class:`FrameSizeChanged` (see :meth:`restart`).
    rate : float
        Nominal frame rate (for the hole rule).
    threshold, step
        MEA noise threshold and pixel stride.
    """

    def __init__(self, regions, width: int, height: int, rate: float, threshold: float, step: int) -> None:
        self.regions, self.threshold, self.step = list(regions), threshold, step
        self.max_dt = GAP_PERIODS / float(rate)
        self.restart(width, height)

    def restart(self, width: int, height: int) -> None:
        """Start over at another frame size (no difference across the change)."""
        from ...models.motion_energy import MotionEnergy

        self.mea = MotionEnergy(self.regions, width, height, self.threshold, self.step)
        self.last_t: float | None = None

    def reset(self) -> None:
        """Forget the previous frame (after a decoding error: no difference across it)."""
        self.mea.reset()
        self.last_t = None

    def update(self, frame, t: float) -> np.ndarray | None:
        """One frame at time ``t`` (s) -> one share per region, or ``None`` (first frame, after a hole)."""
        grey = frame_grey(frame)
        if grey.shape != (self.mea.height, self.mea.width):
            raise FrameSizeChanged((self.mea.width, self.mea.height), (grey.shape[1], grey.shape[0]))
        if self.last_t is not None and t - self.last_t > self.max_dt:
            self.mea.reset()
        self.last_t = t
        return self.mea.update(grey)


class MotionChunker:
    """Per-frame motion energies -> ``MOTION`` chunks per person, flushed every
    :data:`BLOCK_FRAMES` frames (about a second), on the reader's rules for regular streams
    (:class:`~._common.RegularEmitter`: holes > 3 frame periods start a chunk with ``gap_before``).

    Parameters
    ----------
    streams : list of StreamInfo
        One ``MOTION`` stream per region, in the order of the energies.
    source : str
        Named in errors (the file or device).
    """

    def __init__(self, streams, source: str) -> None:
        self.emitters = [RegularEmitter(s, source, "frame time") for s in streams]
        self.times: list[float] = []
        self.rows: list[np.ndarray] = []

    def add(self, t: float, energy: np.ndarray) -> list[Chunk]:
        """One frame's energies at session time ``t``; chunks once a block is full."""
        self.times.append(t)
        self.rows.append(energy)
        return self.flush() if len(self.times) >= BLOCK_FRAMES else []

    def gap(self) -> list[Chunk]:
        """Frames are missing here: flush what is pending; the next chunks start ``gap_before``."""
        out = self.flush()
        for em in self.emitters:
            em.mark_gap()
        return out

    def flush(self) -> list[Chunk]:
        """Chunks of every pending frame, ordered by start (same start keeps stream order)."""
        if not self.times:
            return []
        values = np.vstack(self.rows)
        out = [c for i, em in enumerate(self.emitters) for c in em.push(self.times, values[:, i])]
        self.times, self.rows = [], []
        return sorted(out, key=lambda c: c.start)  # stable: same start keeps stream order


#: 8-bit pixel formats whose first plane is the luma (grey level) itself.
LUMA_FIRST = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p",
                        "yuv411p", "yuv410p", "nv12", "nv21", "gray"})


def frame_grey(frame) -> np.ndarray:
    """Grey levels of a decoded frame: the luma plane as is for 8-bit YUV/grey formats (no copy,
    no colour conversion), a conversion otherwise (RGB, 10-bit...)."""
    if frame.format.name in LUMA_FIRST:
        plane = frame.planes[0]
        buf = np.frombuffer(plane, np.uint8)
        return buf.reshape(plane.height, plane.line_size)[:, : plane.width]
    return frame.to_ndarray(format="gray")


def _reason(e: Exception) -> str:
    return (getattr(e, "strerror", None) or str(e) or type(e).__name__).strip()


def audio_envelope_db(path, rate: int = 8000) -> np.ndarray | None:
    """Per-second level (dB re full scale, mean square of the mono mix) of the video's soundtrack,
    second ``k`` = samples in ``[k, k + 1)`` from the first audio sample; ``None`` if the file has
    no audio stream. Streamed: one resampled frame in memory at a time."""
    import av

    path = os.fspath(path)
    sums = np.zeros(0)
    counts = np.zeros(0)
    try:
        with av.open(path, metadata_errors="replace") as container:
            if not container.streams.audio:
                return None
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            n = 0
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    x = out.to_ndarray().reshape(-1).astype(np.float64)
                    if not len(x):
                        continue
                    second = (n + np.arange(len(x))) // rate
                    n += len(x)
                    first = int(second[0])
                    s = np.bincount(second - first, weights=x * x)
                    c = np.bincount(second - first)
                    if first + len(s) > len(sums):
                        sums = np.r_[sums, np.zeros(first + len(s) - len(sums))]
                        counts = np.r_[counts, np.zeros(first + len(s) - len(counts))]
                    sums[first: first + len(s)] += s
                    counts[first: first + len(c)] += c
    except av.FFmpegError as e:
        raise InputError(f"cannot decode the video's sound ({_reason(e)})", path=path, field="audio",
                         expected=EXPECTED) from None
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counts > 0, 10.0 * np.log10(np.maximum(sums / np.maximum(counts, 1), 1e-12)), np.nan)
