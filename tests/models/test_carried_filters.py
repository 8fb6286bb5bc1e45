import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import butter, lfilter, sosfilt, sosfilt_zi

from coregulate.models.carried_filters import NUMPY_TAPS, SEQUENTIAL, CarriedFir, CarriedSos, sequential_fir

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
    "13-sample boxcar": np.ones(13) / 13,
    "98-sample boxcar": np.ones(98) / 98,
}


def test_the_short_filters_take_the_numpy_path_and_the_long_ones_lfilters():
    paths = {name: CarriedFir(b).in_numpy for name, b in FIRS.items()}
    assert paths == {name: np.count_nonzero(b) <= NUMPY_TAPS for name, b in FIRS.items()}
    assert sum(paths.values()) == 4


@pytest.mark.parametrize("name", FIRS)
@settings(max_examples=20, deadline=None)
@given(cuts=CUTS)
def test_carried_fir_equals_one_lfilter_pass_to_the_bit_for_any_chunking(name, cuts):
    b = FIRS[name]
    reference = lfilter(b, SEQUENTIAL, SIGNAL, zi=np.zeros(len(b) - 1))[0]
    assert np.array_equal(_carried(CarriedFir(b), cuts), reference)


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
