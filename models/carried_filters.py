"""Causal filters that carry their state from one chunk to the next, bit-identical however the
signal is cut into chunks (the streaming detectors of :mod:`.provisional_beats`).

Chunk invariance to the bit needs each output computed by the same operations in the same order
whatever the chunking: an IIR section as ``scipy.signal.sosfilt`` runs it (its compiled loop is
sequential), an FIR as ``scipy.signal.lfilter``'s direct form II transposed sums it (from the oldest
input to the newest). A live session sends ~130 samples per chunk and person, where scipy's public
functions spend most of their time on argument handling: these classes call the same compiled
loops directly (public functions as the fallback) and sum FIRs with few non-zero taps in numpy, in
lfilter's order. ``tests/models/test_carried_filters.py`` checks every path against the public
scipy function, bit for bit, over random chunkings.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter, sosfilt

try:  # the compiled loop of scipy.signal.sosfilt, called without its argument handling (CarriedSos)
    from scipy.signal._sosfilt import _sosfilt as _sosfilt_in_place
except ImportError:  # pragma: no cover - another scipy layout: the public function, same values
    _sosfilt_in_place = None
try:  # the compiled loop of scipy.signal.lfilter (sequential_fir)
    from scipy.signal._sigtools import _linear_filter
except ImportError:  # pragma: no cover - as above
    _linear_filter = None


#: Denominator that sends an FIR filter through lfilter's sequential (direct form II transposed)
#: path: with a one-element denominator scipy convolves each chunk and adds the carried state,
#: which sums the same products in a chunk-dependent order (last-bit differences).
SEQUENTIAL = np.array([1.0, 0.0])

#: An FIR with at most this many non-zero taps is summed with numpy, one vector operation per tap;
#: a longer one goes through lfilter's compiled loop.
NUMPY_TAPS = 3


def sequential_fir(b: np.ndarray, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``lfilter(b, 1, x, zi=zi)``, bit-identical however ``x`` is cut into chunks.

    Parameters
    ----------
    b : numpy.ndarray
        FIR coefficients.
    x : numpy.ndarray
        The next chunk of input (1-D).
    zi : numpy.ndarray
        lfilter's state (``len(b) - 1`` values; zeros at the start).

    Returns
    -------
    tuple of numpy.ndarray
        The filtered chunk and the state to carry to the next one.
    """
    if len(b) == 1:
        return b[0] * x, zi
    if _linear_filter is None:  # another scipy layout (see the import)
        return lfilter(b, SEQUENTIAL, x, zi=zi)
    return _linear_filter(b, SEQUENTIAL, x, -1, zi)


class CarriedFir:
    """An FIR filter whose state is carried between chunks: ``f(x)`` filters the next chunk.

    Every output is the sum of its products taken from the oldest input to the newest, the order
    in which lfilter's direct form II transposed adds them (:func:`sequential_fir`), so the output
    is the same to the bit however the input is cut. A filter with few non-zero taps
    (:data:`NUMPY_TAPS`: a centred difference, a 2-sample moving average, a delay line) is summed
    with numpy over a buffer of the last ``len(b) - 1`` inputs in that same order, skipping the
    zero taps (lfilter adds their products, zeros, which changes no value): a few vector
    operations cost less than one call into lfilter. A longer filter runs lfilter's loop.

    Parameters
    ----------
    b : numpy.ndarray
        FIR coefficients; ``b[k]`` weighs the input ``k`` samples back. At least one is non-zero.
    """

    def __init__(self, b: np.ndarray) -> None:
        self.b = np.asarray(b, dtype=float)
        nonzero = np.flatnonzero(self.b)[::-1]  # tap k weighs the input k samples back: oldest first
        # (index in [last inputs, chunk] of the input the tap weighs for the chunk's first output, coefficient)
        self.taps = [(len(self.b) - 1 - int(k), float(self.b[k])) for k in nonzero]
        self.in_numpy = len(self.b) > 1 and 0 < len(self.taps) <= NUMPY_TAPS
        self.reset()

    def reset(self) -> None:
        """Forget the past (as if every earlier input had been 0)."""
        self.state = np.zeros(len(self.b) - 1)  # numpy: the last inputs; lfilter: its zi

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The next chunk, filtered (as long as ``x``)."""
        if not self.in_numpy:
            y, self.state = sequential_fir(self.b, x, self.state)
            return y
        n = len(x)
        padded = np.concatenate([self.state, x])
        (at, c), *rest = self.taps
        y = c * padded[at : at + n]
        for at, c in rest:
            y += c * padded[at : at + n]
        self.state = padded[n:]
        return y


class CarriedSos:
    """``scipy.signal.sosfilt`` with its state carried between chunks: ``f(x)`` filters the next chunk.

    A segment starts in steady state at its first sample (``zi_unit`` times that sample), so there
    is no step at its start. The chunk goes straight to the compiled loop that ``sosfilt`` runs
    (``scipy.signal._sosfilt._sosfilt``, in place on a copy): on a chunk of 130 samples the public
    function spends most of its time checking and reshaping its arguments (array-API dispatch,
    ``moveaxis``), several times the cost of its 3 x 130 biquad steps. Same loop, same values; the
    public function is used if a scipy release moves the loop.

    Parameters
    ----------
    sos : numpy.ndarray
        Second-order sections (``scipy.signal.butter(..., output="sos")``).
    zi_unit : numpy.ndarray
        ``scipy.signal.sosfilt_zi(sos)``: the steady state for a unit input.
    """

    def __init__(self, sos: np.ndarray, zi_unit: np.ndarray) -> None:
        self.sos = np.ascontiguousarray(sos, dtype=float)
        self.zi_unit = zi_unit
        self.reset()

    def reset(self) -> None:
        """Start a new segment: the next sample sets the steady state."""
        self.zi: np.ndarray | None = None  # shape (1, sections, 2), as the compiled loop takes it

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The next chunk, filtered (as long as ``x``, at least one sample)."""
        if self.zi is None:
            self.zi = np.ascontiguousarray(self.zi_unit * x[0])[np.newaxis]
        if _sosfilt_in_place is None:  # another scipy layout (see the import)
            y, zi = sosfilt(self.sos, x, zi=self.zi[0])
            self.zi = np.ascontiguousarray(zi)[np.newaxis]
            return y
        y = np.array(x, dtype=float, order="C", ndmin=2)  # a copy: filtered in place
        _sosfilt_in_place(self.sos, y, self.zi)
        return y[0]
