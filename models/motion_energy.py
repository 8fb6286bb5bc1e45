"""Motion energy analysis (MEA) of video frames, one value per region of interest and frame.

The method as published (Ramseyer & Tschacher 2011, J Consult Clin Psychol 79(3):284-295;
Ramseyer 2020, "Motion energy analysis (MEA): a primer on the assessment of motion from video",
J Couns Psychol 67(4):536-549; the R package rMEA, Kleinbub & Ramseyer 2020, Psychother Res,
doi:10.1080/10503307.2020.1844334, analyses its output):

1. each frame is taken as grey levels (0-255; for the usual YUV video that is the luma plane,
   no colour conversion needed);
2. frame differencing: ``d = |g_k - g_{k-1}|`` per pixel;
3. a noise threshold: a pixel *changed* when ``d > threshold`` (camera and compression noise
   change grey levels by a few units on a still scene; real movement by tens);
4. motion energy = the number of changed pixels inside each person's region, **standardised by
   the region's size**: the share of changed pixels, in [0, 1], so that a person filmed larger
   (or a region drawn larger) does not get more "energy" for the same movement.

Not claimed: MEA software's optional median/moving-average smoothing of the time series and its
outlier trimming are left out (the per-second mean of :mod:`.movement` is the only smoothing);
``step`` > 1 differences every ``step``-th pixel in each direction (a regular subsample of the
region: the expected share of changed pixels is the same, its sampling error grows with
``step``). Pure and incremental: frames in, values out, no I/O and no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Default noise threshold in grey levels (0-255). The difference of two frames of a still
#: scene with sensor noise of SD 3 grey levels has SD 4.2, so 15 is ~3.5 SD (~0.05 % false
#: changes); MEA leaves the threshold to the user, and so does ``?threshold=``.
DEFAULT_THRESHOLD = 15
#: Default pixel step: 720p is differenced on a 640x360 grid (the cost is ~1/step^2).
DEFAULT_STEP = 2


@dataclass(frozen=True)
class Region:
    """A region of interest in relative frame coordinates: ``0 <= x0 < x1 <= 1`` (left to right),
    ``0 <= y0 < y1 <= 1`` (top to bottom)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def __post_init__(self) -> None:
        if not (0 <= self.x0 < self.x1 <= 1 and 0 <= self.y0 < self.y1 <= 1):
            raise ValueError(f"region {self.as_text()} is not 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1")

    @classmethod
    def parse(cls, text: str) -> "Region":
        """``"x0,y0,x1,y1"`` (relative coordinates) -> Region; ValueError if malformed."""
        parts = text.split(",")
        if len(parts) != 4:
            raise ValueError(f"region {text!r} is not x0,y0,x1,y1")
        return cls(*(float(p) for p in parts))

    def as_text(self) -> str:
        """The region as ``x0,y0,x1,y1``, the form the command line and the stored metadata use."""
        return f"{self.x0:g},{self.y0:g},{self.x1:g},{self.y1:g}"

    def pixels(self, width: int, height: int) -> tuple[slice, slice]:
        """(rows, cols) slices of a ``height`` x ``width`` frame; at least one pixel each way."""
        c0, c1 = int(round(self.x0 * width)), int(round(self.x1 * width))
        r0, r1 = int(round(self.y0 * height)), int(round(self.y1 * height))
        return slice(r0, max(r1, r0 + 1)), slice(c0, max(c1, c0 + 1))


#: The usual one-camera set-up: the client on the left half, the therapist on the right.
DEFAULT_REGIONS = {"client": Region(0.0, 0.0, 0.5, 1.0), "therapist": Region(0.5, 0.0, 1.0, 1.0)}


class MotionEnergy:
    """Per-frame motion energy (share of changed pixels) in each region.

    Parameters
    ----------
    regions : sequence of Region
        The regions, in the order of the returned values.
    width, height : int
        Frame size in pixels (every frame must have it).
    threshold : float
        Noise threshold in grey levels: a pixel changed when ``|difference| > threshold``.
    step : int
        Pixel stride of the differencing grid (1 = every pixel).

    Examples
    --------
    >>> me = MotionEnergy([Region(0, 0, 1, 1)], width=4, height=2, step=1)
    >>> me.update(np.zeros((2, 4), np.uint8)) is None  # the first frame has no predecessor
    True
    >>> me.update(np.array([[0, 0, 0, 0], [0, 0, 200, 200]], np.uint8)).tolist()
    [0.25]
    """

    def __init__(self, regions, width: int, height: int, threshold: float = DEFAULT_THRESHOLD,
                 step: int = DEFAULT_STEP) -> None:
        if step < 1:
            raise ValueError(f"step must be >= 1, got {step}")
        if not 0 <= threshold < 255:
            raise ValueError(f"threshold must be in [0, 255), got {threshold}")
        self.width, self.height, self.step = int(width), int(height), int(step)
        self.threshold = float(threshold)
        self.regions = list(regions)
        gh, gw = len(range(0, self.height, step)), len(range(0, self.width, step))
        # each region on the subsampled grid, with its own pixel count (the standardisation)
        self._cells = [r.pixels(gw, gh) for r in self.regions]
        self._sizes = np.array([(s[0].stop - s[0].start) * (s[1].stop - s[1].start) for s in self._cells], float)
        self._prev: np.ndarray | None = None
        self._diff = np.empty((gh, gw), np.int16)

    def update(self, grey: np.ndarray) -> np.ndarray | None:
        """Feed one frame (``height`` x ``width`` grey levels); return one share per region, or
        ``None`` for the first frame (and after :meth:`reset`)."""
        if grey.shape != (self.height, self.width):
            raise ValueError(f"frame is {grey.shape[1]}x{grey.shape[0]}, expected {self.width}x{self.height}")
        g = grey[:: self.step, :: self.step].astype(np.int16)
        prev, self._prev = self._prev, g
        if prev is None:
            return None
        np.subtract(g, prev, out=self._diff)
        np.abs(self._diff, out=self._diff)
        changed = self._diff > self.threshold
        counts = np.array([np.count_nonzero(changed[rows, cols]) for rows, cols in self._cells], float)
        return counts / self._sizes

    def reset(self) -> None:
        """Forget the previous frame (after a gap in the video: no difference across it)."""
        self._prev = None
