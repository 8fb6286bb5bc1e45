import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import butter, lfilter, sosfilt, sosfilt_zi

from coregulate.models.carried_filters import (
    NUMPY_TAPS,
    SEQUENTIAL,
    CarriedFir,
    CarriedMeanThreshold,
    CarriedSos,
    sequential_fir,
)

SIGNAL = np.random.default_rng(0).standard_normal(2000) * 1000 + 300
CUTS = st.lists(st.integers(1, len(SIGNAL) - 1), max_size=30)


def _chunks(cuts):
    edges = [0, *sorted(set(cuts)), len(SIGNAL)]
    return [SIGNAL[a:b] for a, b in zip(edges[:-1], edges[1:])]


def _carried(f, cuts):
    return np.concatenate([f(x) for x in _chunks(cuts)])


FIRS = {
    "centred difference": np.array([0.5, 0.0, -0.5]),
    "2-sample average": np.full(2, 0.5),
    "delay line": np.r_[np.zeros(39), 1.0],
    "3 taps among zeros": np.array([0.0, 0.3, 0.0, 0.0, -1.7, 0.0, 0.9]),
    "negated pair": np.array([-0.3, 0.0, -0.3]),
    "newest minus oldest": np.array([0.25, -0.25]),
    "3-sample average": np.ones(3) / 3,
    "newest sample": np.array([1.0, 0.0, 0.0]),
    "one sample back": np.array([0.0, 1.0, 0.0]),
    "delayed and negated": np.array([0.0, 0.0, -1.0]),
    "13-sample boxcar": np.ones(13) / 13,
    "98-sample boxcar": np.ones(98) / 98,
}


def test_the_short_filters_take_the_numpy_path_and_the_long_ones_lfilters():
    paths = {name: CarriedFir(b).in_numpy for name, b in FIRS.items()}
    assert paths == {name: np.count_nonzero(b) <= NUMPY_TAPS for name, b in FIRS.items()}
    assert sum(paths.values()) == 10
    one_product = {name for name, b in FIRS.items() if CarriedFir(b).in_numpy and CarriedFir(b).scale is not None}
    assert one_product == set(FIRS) - {"3 taps among zeros", "13-sample boxcar", "98-sample boxcar"}


@pytest.mark.parametrize("name", FIRS)
@settings(max_examples=20, deadline=None)
@given(cuts=CUTS)
def test_carried_fir_equals_one_lfilter_pass_to_the_bit_for_any_chunking(name, cuts):
    b = FIRS[name]
    reference = lfilter(b, SEQUENTIAL, SIGNAL, zi=np.zeros(len(b) - 1))[0]
    assert np.array_equal(_carried(CarriedFir(b), cuts), reference)


@pytest.mark.parametrize("name", ["delay line", "newest sample", "one sample back"])
def test_writing_into_an_output_leaves_the_carried_inputs_alone(name):
    """A unit tap returns the input itself: the next chunk must not see what the caller did to it."""
    f, reference = CarriedFir(FIRS[name]), CarriedFir(FIRS[name])
    for x in _chunks([5, 7, 60, 61, 200]):
        y = f(x)
        assert np.array_equal(y, reference(x))
        y[:] = np.nan


def test_carried_fir_reset_forgets_the_past():
    f = CarriedFir(FIRS["centred difference"])
    f(SIGNAL[:100])
    f.reset()
    assert np.array_equal(f(SIGNAL[100:200]), CarriedFir(FIRS["centred difference"])(SIGNAL[100:200]))


def test_sequential_fir_carries_its_state_bit_for_bit_across_chunks():
    """scipy's one-coefficient-denominator path convolves per chunk and adds the carried state,
    which differs in the last bits from one pass; this FIR must not."""
    b = np.ones(98) / 98

    def run(cuts):
        zi, out = np.zeros(len(b) - 1), []
        for x in _chunks(cuts):
            y, zi = sequential_fir(b, x, zi)
            out.append(y)
        return np.concatenate(out)

    assert np.array_equal(run([]), run([73, 500, 1001, 1002]))
    assert np.array_equal(run([73, 500]), lfilter(b, SEQUENTIAL, SIGNAL, zi=np.zeros(len(b) - 1))[0])


@pytest.mark.parametrize("design", [(5, 0.5, "highpass", 130.0), (3, [0.5, 8.0], "bandpass", 250.0)])
@settings(max_examples=20, deadline=None)
@given(cuts=CUTS)
def test_carried_sos_equals_one_sosfilt_pass_from_steady_state_to_the_bit(design, cuts):
    order, cut, btype, fs = design
    sos = butter(order, cut, btype=btype, output="sos", fs=fs)
    zi = sosfilt_zi(sos)
    reference = sosfilt(sos, SIGNAL, zi=zi * SIGNAL[0])[0]
    f = CarriedSos(sos, zi)
    assert np.array_equal(_carried(f, cuts), reference)
    f.reset()  # a new segment starts from its own first sample
    assert np.array_equal(f(SIGNAL[500:]), sosfilt(sos, SIGNAL[500:], zi=zi * SIGNAL[500])[0])


def test_the_public_scipy_fallbacks_give_the_same_values(monkeypatch):
    """Without scipy's private compiled loops (another scipy layout) the public functions run."""
    import coregulate.models.carried_filters as cf

    sos = butter(5, 0.5, btype="highpass", output="sos", fs=130.0)
    cuts = [73, 74, 500, 1500]
    fast = (_carried(CarriedSos(sos, sosfilt_zi(sos)), cuts), _carried(CarriedFir(FIRS["98-sample boxcar"]), cuts))
    monkeypatch.setattr(cf, "_sosfilt_in_place", None)
    monkeypatch.setattr(cf, "_linear_filter", None)
    public = (_carried(CarriedSos(sos, sosfilt_zi(sos)), cuts), _carried(CarriedFir(FIRS["98-sample boxcar"]), cuts))
    assert np.array_equal(fast[0], public[0]) and np.array_equal(fast[1], public[1])


BOXCAR = np.ones(98) / 98
RECTIFIED = np.abs(SIGNAL - 300)  # the threshold's input is non-negative (a smoothed absolute gradient)


def _mean_threshold(x, cuts, lag=39, k=1.5):
    f = CarriedMeanThreshold(BOXCAR, k, lag)
    edges = [0, *sorted(set(cuts)), len(x)]
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        out += [f(x[a:b]), f(x[b:b])]  # an empty chunk between any two changes nothing
    return np.concatenate(out)


def _exact(x, lag=39, k=1.5):
    """What the ECG detector compared before: a delay line and the boxcar, both through lfilter."""
    mean = lfilter(BOXCAR, SEQUENTIAL, x, zi=np.zeros(len(BOXCAR) - 1))[0]
    late = np.r_[np.zeros(lag), x[: len(x) - lag]]
    return late > k * mean


@settings(max_examples=20, deadline=None)
@given(cuts=CUTS, lag=st.integers(0, 97))
def test_mean_threshold_decides_as_the_sequential_boxcar_for_any_chunking(cuts, lag):
    expected = _exact(RECTIFIED, lag)
    assert 0.1 < expected.mean() < 0.9
    assert np.array_equal(_mean_threshold(RECTIFIED, cuts, lag), expected)


def _mean(x):
    return lfilter(BOXCAR, SEQUENTIAL, x, zi=np.zeros(len(BOXCAR) - 1))[0]


@functools.cache
def _ties(lag):
    """RECTIFIED with every 9th input from 200 on set so that it equals 1.5 x the sequential mean
    it is compared with, lag samples later (a fixed point: the input is in that mean's window)."""
    x, at = RECTIFIED.copy(), np.arange(200, len(RECTIFIED) - lag, 9)
    for j in at:  # in order: a later input (9 > lag samples on) is in no earlier tie's window
        for _ in range(30):  # a contraction (1.5 / 98): exact after about ten steps
            x[j] = 1.5 * _mean(x[: j + lag + 1])[-1]
    return x, at + lag


@settings(max_examples=10, deadline=None)
@given(cuts=CUTS)
def test_mean_threshold_breaks_exact_ties_as_the_sequential_sum(cuts):
    """Delayed inputs equal to 1.5 x the sequential mean, or one ulp either side: only the
    sequential sum can tell, so these go the slow way (prefix sums alone decide many wrongly)."""
    lag = 7
    x, judged = _ties(lag)
    x = x.copy()
    late = np.r_[np.zeros(lag), x[:-lag]]
    assert np.mean(late[judged] == 1.5 * _mean(x)[judged]) > 0.5  # mostly exact ties
    for nudge in (0.0, np.inf, -np.inf):
        y = x.copy()
        if nudge:
            y[judged - lag] = np.nextafter(x[judged - lag], nudge)
        assert np.array_equal(_mean_threshold(y, cuts, lag), _exact(y, lag))


def test_mean_threshold_the_slow_way_everywhere_and_at_zeros_and_overflow(monkeypatch):
    import coregulate.models.carried_filters as cf

    x = RECTIFIED.copy()
    x[300:600] = 0.0  # a flat stretch: every window of zeros has a zero mean
    expected = _exact(x)
    assert np.array_equal(_mean_threshold(x, [350, 500, 900]), expected)
    monkeypatch.setattr(cf, "MEAN_SLACK", 1e300)  # no sample is sure: each takes the sequential sum
    assert np.array_equal(_mean_threshold(x, [350, 500, 900]), expected)
    monkeypatch.undo()
    huge = x / x.max() * 1.7e308  # each window's mean is finite, the sums over a long chunk are not
    with np.errstate(over="ignore"):
        expected = _exact(huge)
        got = _mean_threshold(huge, [350, 500])
    assert 0.1 < expected.mean() < 0.9
    assert np.array_equal(got, expected)


def test_mean_threshold_takes_only_a_positive_boxcar_and_a_lag_within_it():
    with pytest.raises(ValueError):
        CarriedMeanThreshold(np.array([0.5, 0.25, 0.25]), 1.5, 1)
    with pytest.raises(ValueError):
        CarriedMeanThreshold(BOXCAR, -1.0, 1)
    with pytest.raises(ValueError):
        CarriedMeanThreshold(BOXCAR, 1.5, len(BOXCAR))


SECTION_FIRS = ["2-sample average", "3-sample average", "centred difference", "newest minus oldest", "negated pair",
                "newest sample"]


@pytest.mark.parametrize("name", SECTION_FIRS)
@settings(max_examples=15, deadline=None)
@given(cuts=CUTS)
def test_a_short_fir_as_one_more_section_gives_the_cascade_then_the_fir(name, cuts):
    """The high-pass and an FIR of at most 3 taps in one cascade: CarriedSos, then CarriedFir, the same
    values (``array_equal``: an exact zero's sign may differ) for any chunking and after a reset."""
    from coregulate.models.carried_filters import fir_section

    b = FIRS[name]
    sos = butter(5, 0.5, btype="highpass", output="sos", fs=130.0)
    zi = sosfilt_zi(sos)
    fused = CarriedSos(np.vstack((sos, fir_section(b))), np.vstack((zi, np.zeros(2))))
    hp, fir = CarriedSos(sos, zi), CarriedFir(b)
    apart = np.concatenate([fir(hp(x)) for x in _chunks(cuts)])
    assert np.array_equal(_carried(fused, cuts), apart)
    fused.reset()
    hp.reset()
    fir.reset()
    assert np.array_equal(fused(SIGNAL[700:]), fir(hp(SIGNAL[700:])))


def test_fir_section_takes_one_to_three_taps():
    from coregulate.models.carried_filters import fir_section

    assert fir_section(np.full(2, 0.5)).tolist() == [0.5, 0.5, 0.0, 1.0, 0.0, 0.0]
    for b in (np.zeros(0), np.ones(4) / 4):
        with pytest.raises(ValueError):
            fir_section(b)


def test_linear_filter_is_lfilter_with_its_state(monkeypatch):
    """The PPG detector's running mean through lfilter's compiled loop: lfilter's values and state,
    also through the public function where the loop is not found."""
    import coregulate.models.carried_filters as cf

    b, a = np.array([0.0015]), np.array([1.0, 0.0015 - 1.0])
    zi = np.array([0.3])
    expected = lfilter(b, a, SIGNAL, zi=zi)
    got = cf.linear_filter(b, a, SIGNAL, zi)
    assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    monkeypatch.setattr(cf, "_linear_filter", None)
    public = cf.linear_filter(b, a, SIGNAL, zi)
    assert np.array_equal(public[0], expected[0]) and np.array_equal(public[1], expected[1])
