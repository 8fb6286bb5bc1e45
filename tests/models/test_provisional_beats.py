import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coregulate.models.beats import BeatDetector
from coregulate.models.provisional_beats import StreamingEcgDetector, StreamingPpgDetector

from physio_helpers import polar_ecg


def _ecg(duration=60, fs=130.0, hr=72, seed=1):
    import neurokit2 as nk

    x = nk.ecg_simulate(duration=duration, sampling_rate=fs, heart_rate=hr, method="simple", random_state=seed) * 1000
    return np.arange(len(x)) / fs, x


def _ppg(duration=60, fs=64.0, hr=70, seed=5):
    import neurokit2 as nk

    x = nk.ppg_simulate(duration=duration, sampling_rate=fs, heart_rate=hr, random_state=seed)
    return np.arange(len(x)) / fs, x


def _feed(det, t, x, cuts):
    """Beats and confirmation delays with chunk boundaries at the sample indices ``cuts``."""
    beats, delays = [], []
    edges = [0, *sorted(c for c in set(cuts) if 0 < c < len(x)), len(x)]
    for a, b in zip(edges[:-1], edges[1:]):
        new = det.push(x[a:b], t[a:b])
        beats += new
        delays += [det.confirmed_at.pop(k) - k for k in new]
    return np.array(beats + det.end_segment()), np.array(delays)


def _final(t, x, fs, kind):
    det, beats = BeatDetector(fs, kind), []
    for i in range(0, len(x), int(fs)):
        beats += det.push(x[i : i + int(fs)], t[i : i + int(fs)])
    return np.array(beats + det.end_segment())


def _nearest(ref, b):
    j = np.searchsorted(ref, b).clip(1, len(ref) - 1)
    return np.minimum(np.abs(ref[j] - b), np.abs(ref[j - 1] - b))


ECG_T, ECG_X = _ecg()
ECG_REFERENCE = _feed(StreamingEcgDetector(130.0), ECG_T, ECG_X, range(0, len(ECG_X), 73))[0]


def test_ecg_beats_agree_with_the_final_detector():
    fin = _final(ECG_T, ECG_X, 130.0, "ecg")
    prov = ECG_REFERENCE
    # every final beat after the 1-s warm-up is found, none is doubled or made up
    assert np.all(_nearest(prov, fin[fin > 1.2]) < 0.015) and len(prov) <= len(fin)
    # the forward-only high-pass advances this simulator's broad, smooth QRS by about one sample
    # (7.7 ms; real R waves are sharper: see the Polar test), the same for every beat, so the
    # intervals agree far better than the times
    assert np.all(_nearest(fin, prov) < 1.5 / 130.0)
    assert np.median(np.abs(np.diff(prov) - np.diff(fin[-len(prov):]))) < 0.001


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, len(ECG_X)), max_size=40))
def test_ecg_beats_are_identical_for_any_chunking(cuts):
    beats, _ = _feed(StreamingEcgDetector(130.0), ECG_T, ECG_X, cuts)
    assert np.array_equal(beats, ECG_REFERENCE)


def test_ecg_one_sample_chunks_give_the_same_beats_and_bounded_delay():
    beats, delays = _feed(StreamingEcgDetector(130.0), ECG_T, ECG_X, range(len(ECG_X)))
    assert np.array_equal(beats, ECG_REFERENCE)
    # confirmed when the complex closes: the cap (0.3 s), the threshold's look-ahead (0.3 s) and
    # the gradient's smoothing (0.06 s) bound it
    assert delays.min() > 0.3 and delays.max() < 0.3 + 0.3 + 0.06 + 0.02


def test_ecg_gap_restarts_the_segment_without_a_beat_across_it():
    det = StreamingEcgDetector(130.0)
    n = len(ECG_X)
    a = det.push(ECG_X[: n // 2], ECG_T[: n // 2])
    assert det.end_segment() == []
    resume = n // 2 + 5 * 130  # 5 s missing
    b = det.push(ECG_X[resume:], ECG_T[resume:])
    assert np.array_equal(a, ECG_REFERENCE[ECG_REFERENCE < ECG_T[n // 2 - 1] - 0.4])
    # after the gap the filters start afresh and warm up (1 s, of which the threshold's 0.3-s
    # look-ahead), then the same beats as without the gap are found
    b = np.array(b)
    after = ECG_REFERENCE[ECG_REFERENCE > ECG_T[resume] + 1.3]
    late = b[b > ECG_T[resume] + 1.3]
    assert len(late) == len(after) and np.all(np.abs(late - after) < 1e-3)
    assert b.min() > ECG_T[resume] + 1.0 - 0.3


def test_ppg_beats_agree_with_the_final_detector_and_are_chunk_invariant():
    t, x = _ppg()
    runs = [_feed(StreamingPpgDetector(64.0), t, x, range(0, len(x), step))[0] for step in (1, 37, 64, 1000)]
    for r in runs[1:]:
        assert np.array_equal(r, runs[0])
    fin = _final(t, x, 64.0, "ppg")
    prov = runs[0]
    found = _nearest(prov, fin[fin > 2.5]) < 0.15
    assert found.mean() >= 0.98
    # the forward-only band-pass delays the pulse: a steady offset, so intervals agree
    d = _nearest(fin, prov)
    assert np.median(d) < 0.06
    assert np.median(np.abs(np.diff(prov) - np.diff(fin[np.searchsorted(fin, prov - 0.15)])[: len(prov) - 1])) < 0.02


@pytest.mark.realdata
def test_polar_h10_ecg_provisional_beats_match_the_final_ones(shared_data):
    t, ecg, _ = polar_ecg(shared_data)
    fin = _final(t, ecg, 130.0, "ecg")
    prov, delays = _feed(StreamingEcgDetector(130.0), t, ecg, range(0, len(ecg), 73))
    assert np.mean(_nearest(prov, fin[fin > 1.5]) < 0.15) >= 0.99  # sensitivity vs the final beats
    assert np.mean(_nearest(fin, prov) < 0.15) >= 0.99  # no extra beats
    ok = _nearest(fin, prov) < 0.15
    assert np.median(_nearest(fin, prov)[ok]) < 0.003
    assert np.percentile(delays, 99) < 0.3 + 0.3 + 0.56 + 0.1  # the look-ahead bounds plus one device packet


@pytest.mark.realdata
def test_mitbih_100_provisional_beats_against_the_labels(shared_data):
    wfdb = pytest.importorskip("wfdb")
    from wfdb.processing import compare_annotations

    path = str(shared_data / "ecg_annotated_wfdb" / "100")
    rec, ann = wfdb.rdrecord(path), wfdb.rdann(path, "atr")
    fs = float(rec.fs)
    x = rec.p_signal[:, 0]
    t = np.arange(len(x)) / fs
    ref = np.array([s for s, sym in zip(ann.sample, ann.symbol) if sym in set("NLRBAaJSVrFejnE/fQ?")])
    prov, _ = _feed(StreamingEcgDetector(fs), t, x, range(0, len(x), 180))
    c = compare_annotations(ref, np.round(prov * fs).astype(int), int(0.15 * fs))
    assert c.sensitivity >= 0.995 and c.positive_predictivity >= 0.995


def test_confirmation_times_are_bounded_when_nobody_pops_them(monkeypatch):
    import coregulate.models.provisional_beats as pb

    monkeypatch.setattr(pb, "CONFIRMED_MEMORY", 10)
    det = StreamingEcgDetector(130.0)
    beats = det.push(ECG_X, ECG_T)
    assert len(beats) > 60 and list(det.confirmed_at) == beats[-10:]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-2, 2), max_size=40), st.integers(0, 2))
def test_most_prominent_peak_is_the_one_find_peaks_ranks_first(ints, shape):
    """Plateaus and ties (small integers) as well as smooth waves: the same index, or None."""
    from scipy.signal import find_peaks

    from coregulate.models.provisional_beats import _most_prominent_peak

    x = np.array(ints, dtype=float)
    if shape == 1:
        x = np.cumsum(x) + 0.25 * np.sin(np.arange(len(x)))
    elif shape == 2:
        x = -np.abs(x)
    locmax, props = find_peaks(x, prominence=(None, None))
    expected = int(locmax[np.argmax(props["prominences"])]) if len(locmax) else None
    assert _most_prominent_peak(x.tolist()) == expected


@pytest.mark.parametrize("fs", [64.0, 130.0, 160.0])
def test_ecg_moving_average_in_the_high_pass_cascade_gives_the_same_beats(fs, monkeypatch):
    """Below 200 Hz the cleaning's moving average runs as one more section of the high-pass; the
    beats and confirmation times are those of the average run after it (CarriedFir), to the bit."""
    import neurokit2 as nk

    import coregulate.models.provisional_beats as pb

    x = nk.ecg_simulate(duration=60, sampling_rate=fs, heart_rate=75, method="simple", random_state=2) * 1000
    x[int(30 * fs):int(32 * fs)] = 0.0  # a flat stretch: exact zeros through the filters
    t = np.arange(len(x)) / fs + 0.1234567
    fused = pb.StreamingEcgDetector(fs)
    assert fused.f_ma is None
    filters = pb._ecg_filters
    monkeypatch.setattr(pb, "_ecg_filters", lambda f: filters(f)[:3] + (None,))  # no cascade
    apart = pb.StreamingEcgDetector(fs)
    assert apart.f_ma is not None
    for cuts in (range(0, len(x), 73), range(0, len(x), 1)):
        a, da = _feed(fused, t, x, cuts)
        b, db = _feed(apart, t, x, cuts)
        assert len(a) > 50 and a.tolist() == b.tolist() and da.tolist() == db.tolist()


def test_round_us_is_numpys_round_to_6_decimals():
    from coregulate.models.provisional_beats import _round_us

    rng = np.random.default_rng(3)
    x = np.concatenate([rng.standard_normal(20000) * s for s in (1e-6, 1e-3, 1.0, 1e3, 1e6, 1e12)]
                       + [(np.arange(-2000, 2000) + 0.5) / 1e6, np.arange(3000) / 130.0 + 1000.0,
                          [0.0, -0.0, 5e-7, -5e-7, 4.9e-7, -4.9e-7, 2.5e-6, 1e300]])
    got = np.array([_round_us(v) for v in x.tolist()])
    assert np.array_equal(got.view(np.int64), x.round(6).view(np.int64))  # the same bits, a zero's sign too


def test_regular_time_is_chunk_sample_times_to_the_bit():
    """The detector computes a regular chunk's times where a beat reads them, as Chunk.sample_times does."""
    from coregulate.models.provisional_beats import regular_time
    from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind

    rng = np.random.default_rng(4)
    for rate in (130.0, 55.0, 64.0, 256.0, 1000.0 / 7):
        info = StreamInfo("client", StreamKind.ECG, rate=rate)
        for t0 in (0.0, -0.0, 3, np.float64(1234.5678), *(rng.random(20) * 10 ** rng.integers(0, 7, 20))):
            c = Chunk(info, np.zeros(int(rate) + 3), t0=t0)
            expected = c.sample_times()
            got = np.array([regular_time(float(t0), float(rate), i) for i in range(len(expected))])
            assert np.array_equal(got.view(np.int64), expected.view(np.int64))


@pytest.mark.parametrize("buffer", [0, 4096])
def test_push_regular_and_a_compacted_buffer_give_the_same_beats(buffer, monkeypatch):
    """Regular chunks without a times array, and a buffer compacted every few chunks (or grown for a
    long chunk), give the beats and confirmation times of push() with the chunks' sample times."""
    import coregulate.models.provisional_beats as pb

    monkeypatch.setattr(pb, "BUFFER", buffer)  # 0: the smallest buffer, 2 x what is kept
    reference = pb.StreamingEcgDetector(130.0)
    regular = pb.StreamingEcgDetector(130.0)
    t0 = 1000.0 + 1 / 3
    for a, b in [(0, 73), (73, 3000), (3000, 3001), *((i, i + 130) for i in range(3001, len(ECG_X), 130))]:
        x = ECG_X[a:b]
        start = t0 + a / 130.0
        expected = reference.push(x, start + np.arange(len(x)) / 130.0)
        got = regular.push_regular(x, start, 130.0)
        assert got == expected
        assert [regular.confirmed_at.pop(k) for k in got] == [reference.confirmed_at.pop(k) for k in expected]
        if a == 3000:
            assert regular.end_segment() == reference.end_segment() == []
    assert len(reference.clean) == len(regular.clean) and np.array_equal(reference.clean, regular.clean)
