"""Causal filters that carry their state from one chunk to the next, bit-identical however the
signal is cut into chunks (the streaming detectors of :mod:`.provisional_beats`).

Chunk invariance to the bit needs each output computed by the same operations in the same order
whatever the chunking: an IIR section as ``scipy.signal.sosfilt`` runs it (its compiled loop is
sequential), an FIR as ``scipy.signal.lfilter``'s direct form II transposed sums it (from the oldest
input to the newest). A live session sends ~130 samples per chunk and person, where scipy's public
functions spend most of their time on argument handling: these classes call the same compiled
loops directly (public functions as the fallback) and sum FIRs with few non-zero taps in numpy, in
lfilter's order. A comparison with a long boxcar mean (:class:`CarriedMeanThreshold`) is decided
from prefix sums where a rounding bound shows it cannot differ from lfilter's, and from lfilter's
sum elsewhere. ``tests/models/test_carried_filters.py`` checks every path against the public
scipy function, bit for bit, over random chunkings.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy.signal import lfilter, sosfilt

try:  # the compiled loop of scipy.signal.sosfilt, called without its argument handling (CarriedSos)
    from scipy.signal._sosfilt import _sosfilt as _sosfilt_in_place
except ImportError:  # pragma: no cover - another scipy layout: the public function, same values
    _sosfilt_in_place = None
try:  # the compiled loop of scipy.signal.lfilter (linear_filter)
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
    return linear_filter(b, SEQUENTIAL, x, zi)


def linear_filter(b: np.ndarray, a: np.ndarray, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.signal.lfilter(b, a, x, zi=zi)`` along the last axis, ``b`` and ``a`` float64 arrays
    (``len(a) > 1``): the compiled loop lfilter calls, without its argument handling; the same values."""
    if _linear_filter is None:  # another scipy layout (see the import)
        return lfilter(b, a, x, zi=zi)
    return _linear_filter(b, a, x, -1, zi)


class CarriedFir:
    """An FIR filter whose state is carried between chunks: ``f(x)`` filters the next chunk.

    Every output is the sum of its products taken from the oldest input to the newest, the order
    in which lfilter's direct form II transposed adds them (:func:`sequential_fir`), so the output
    is the same to the bit however the input is cut. A filter with few non-zero taps
    (:data:`NUMPY_TAPS`: a centred difference, a 2-sample moving average, a delay line) is summed
    with numpy over a buffer of the last ``len(b) - 1`` inputs in that same order, skipping the
    zero taps (lfilter adds their products, zeros, which changes no value): a few vector
    operations cost less than one call into lfilter. A longer filter runs lfilter's loop.

    Where every non-zero tap has the same magnitude ``c`` (a moving average, a centred
    difference, a delay line) the buffer is multiplied once: IEEE rounding is symmetric, so
    ``(-c) * v == -(c * v)``, and adding that product is subtracting ``c * v``; the first two
    terms may swap (``(-p) + q == q - p``: IEEE addition commutes); a tap of 1 takes the input
    itself (``1.0 * v == v``). The same values as lfilter's, with fewer vector operations.

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
        magnitudes = {abs(c) for _, c in self.taps}
        #: the one magnitude of every non-zero tap (None: several), and per tap (index, subtracted)
        self.scale = magnitudes.pop() if len(magnitudes) == 1 else None
        self.signed = [(at, c < 0) for at, c in self.taps]
        if len(self.signed) > 1 and self.signed[0][1] and not self.signed[1][1]:
            self.signed[:2] = self.signed[1::-1]  # (-p) + q as q - p
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
        padded = np.concatenate((self.state, x))
        self.state = padded[n:]
        if self.scale is None:
            (at, c), *rest = self.taps
            y = c * padded[at : at + n]
            for at, c in rest:
                y += c * padded[at : at + n]
            return y
        p = padded if self.scale == 1.0 else self.scale * padded
        (at, negated), *rest = self.signed
        y = p[at : at + n]
        if negated:
            y = -y
        # a unit tap's y is a view of the input buffer; the inputs the next chunk reads from the state
        # (padded[n + at:]) lie past it, so writing into y changes no later output
        for at, subtract in rest:
            y = y - p[at : at + n] if subtract else y + p[at : at + n]
        return y


def fir_section(b: np.ndarray) -> np.ndarray:
    """An FIR of at most three taps as one second-order section, ``[b0, b1, b2, 1, 0, 0]``.

    Appended to a cascade (:class:`CarriedSos`, with a zero state row), it filters the cascade's
    output as :class:`CarriedFir` (lfilter) would, in the same compiled loop as the cascade: one call
    instead of a few vector operations per chunk. The values are the same: for the input ``x_k`` the
    section gives ``b0 x_k + ((b1 x_{k-1} - 0 y_{k-1}) + (b2 x_{k-2} - 0 y_{k-2}))`` (its recursion,
    :func:`scipy.signal.sosfilt`'s loop), lfilter ``(b2 x_{k-2} + b1 x_{k-1}) + b0 x_k``: subtracting a
    zero leaves a non-zero value as it is and IEEE addition commutes, so only the sign of an exact
    zero may differ (and a non-finite value, ``0 * inf``, becomes NaN: the inputs are finite and stay
    far below overflow). A consumer that cannot tell ``-0.0`` from ``0.0`` sees the same outputs.

    Parameters
    ----------
    b : numpy.ndarray
        FIR coefficients, one to three; ``b[k]`` weighs the input ``k`` samples back.
    """
    b = np.asarray(b, dtype=float)
    if not 1 <= len(b) <= 3:
        raise ValueError("a section holds an FIR of one to three taps")
    section = np.zeros(6)
    section[: len(b)] = b
    section[3] = 1.0
    return section


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
        y = np.array(x, dtype=float, order="C", ndmin=2)  # a copy: filtered in place
        self.in_place(y)
        return y[0]

    def in_place(self, y: np.ndarray) -> None:
        """Filter the next chunk where it is: ``y`` of shape ``(1, n)``, C-contiguous float64 (a
        slice of a caller's buffer: no copy), ``n >= 1``."""
        if self.zi is None:
            self.zi = np.ascontiguousarray(self.zi_unit * y[0, 0])[np.newaxis]
        if _sosfilt_in_place is None:  # another scipy layout (see the import)
            y[0], zi = sosfilt(self.sos, y[0], zi=self.zi[0])
            self.zi = np.ascontiguousarray(zi)[np.newaxis]
            return
        _sosfilt_in_place(self.sos, y, self.zi)


EPS = float(np.finfo(float).eps)
_ZERO = np.array(0.0)

#: How far (in units of the machine epsilon, times the number of inputs summed and their total)
#: a running-sum mean may lie from the sequential one (:class:`CarriedMeanThreshold`): about a
#: third more than the bound derived there.
MEAN_SLACK = 2.0


class CarriedMeanThreshold:
    """Whether each input, ``lag`` samples late, exceeds ``k`` times the boxcar mean of the inputs
    (``x >= 0``): ``CarriedFir(delay)(x) > k * CarriedFir(b)(x)``, the same booleans to the bit,
    without lfilter's loop over every tap of every sample.

    The boxcar's exact output, the sequential sum :class:`CarriedFir` computes (the products
    ``b[0] * x`` added from the oldest to the newest), costs ``len(b)`` additions per sample:
    for the 98-sample threshold average of the ECG detector, most of its filtering. Only the
    comparison is used, and it is rarely close. Each window's sum is therefore taken from prefix
    sums of the inputs (a few vector operations for the chunk, over one buffer of the last
    ``len(b)`` inputs that also gives the delayed ones), and the sequential sum of the products
    is computed only for samples where the two could decide differently.

    The bound (Higham 2002, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., §4.2: a
    recursive sum of ``r`` non-negative terms errs by at most ``γ_{r-1}`` times their sum,
    ``γ_r = r u / (1 - r u)``, ``u = eps / 2``): with ``L`` inputs in the buffer (the last
    ``n = len(b)`` carried and the chunk's) and ``T`` the sum of all of them times ``b[0]``, the
    sequential mean lies within ``(n + 1) u T`` of ``b[0]`` times the exact window sum (products
    rounded, then ``n - 1`` additions), the prefix-sum window within ``(2 L + 1) u T`` of it,
    the factor ``k b[0]`` and its product with the window add ``2 u k T`` and ``k`` times the
    sequential mean rounds by ``u k T``: the two thresholds differ by at most ``(3 L + 5) u k T``
    (to first order; ``n <= L``), and the subtraction from the delayed input keeps its sign.
    Where ``|delayed - k b[0] a| > MEAN_SLACK (L + 2) eps k T`` (``eps = 2 u``: ``(4 L + 8) u k T``)
    the fast decision is the exact one; elsewhere the sequential sum decides. A tiny absolute
    term covers a product that underflows. Inputs that are all zero have a zero mean (nothing
    exceeds it); where ``k T`` may overflow, every sample takes the sequential sum.
    ``tests/models/test_carried_filters.py`` compares it with lfilter over random chunkings, on
    exact ties and their neighbours, and with every sample sent the slow way.

    Parameters
    ----------
    b : numpy.ndarray
        A boxcar (all coefficients equal and positive), e.g. ``np.ones(n) / n``.
    k : float
        The positive factor on the mean.
    lag : int
        How late the compared input is (``0 <= lag < len(b)``).
    """

    def __init__(self, b: np.ndarray, k: float, lag: int) -> None:
        b = np.asarray(b, dtype=float)
        if not (np.all(b == b[0]) and b[0] > 0 and k > 0 and 0 <= lag < len(b)):
            raise ValueError("a boxcar with positive coefficients, a positive factor and a lag within it")
        self.n, self.lag = len(b), int(lag)
        self.c = float(b[0])  # the product lfilter forms, x * b[i], is the same for every tap
        self.k = float(k)
        self.kc = self.k * self.c
        # numpy operands as 0-d arrays: the same float64 operation as with a Python float, without
        # converting the scalar at each call
        self.kc_array = np.array(self.kc)
        self.reset()

    def reset(self) -> None:
        """Forget the past (as if every earlier input had been 0)."""
        # the last n inputs: the newest n - 1 are in the next window, the oldest starts the prefix sums
        self.tail = np.zeros(self.n)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """For the next chunk ``x`` (``x >= 0``): input ``lag`` samples back > ``k`` times the mean."""
        m, n = len(x), self.n
        if not m:
            return np.zeros(0, dtype=bool)
        buf = np.concatenate((self.tail, x))
        self.tail = buf[m:]
        late = buf[n - self.lag : n - self.lag + m]
        sums = np.add.accumulate(buf)
        total = float(sums[-1])
        if total == 0.0:  # every input is zero: so is every mean, and no delayed input exceeds it
            return np.zeros(m, dtype=bool)
        unsure: Iterable[int]
        if self.kc * total < 1e308:
            d = late - self.kc_array * (sums[n:] - sums[:-n])
            bound = MEAN_SLACK * (m + n + 2) * EPS * self.kc * total + 1e-310
            if np.minimum.reduce(np.abs(d)) > bound:
                return d > _ZERO  # every |d| exceeds the bound: d > bound where d > 0
            above = d > bound
            unsure = np.flatnonzero(np.abs(d) <= bound).tolist()
        else:  # k times a sum may overflow: no bound holds
            above, unsure = np.zeros(m, dtype=bool), range(m)
        for j in unsure:
            products = (buf[j + 1 : j + 1 + n] * self.c).tolist()
            mean = products[0]
            for v in products[1:]:  # lfilter's order: from the oldest product to the newest
                mean += v
            above[j] = late[j] > self.k * mean
        return above
