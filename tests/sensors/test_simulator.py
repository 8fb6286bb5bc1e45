import numpy as np
import pytest

from coregulate.sensors.chunk import StreamKind
from coregulate.sensors.simulator import Simulator, _interp_per_second


def _concat(sim):
    out = {}
    for c in sim.chunks():
        out.setdefault(c.stream.key, []).append(c)
    return {
        k: (np.concatenate([c.sample_times() for c in cs]), np.concatenate([c.values for c in cs]))
        for k, cs in out.items()
    }


def test_same_seed_same_samples_whatever_the_chunking():
    a = _concat(Simulator(seed=3, duration_s=320, chunk_s=1.0))
    b = _concat(Simulator(seed=3, duration_s=320, chunk_s=0.37))
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k][0], b[k][0], atol=1e-9)
        np.testing.assert_array_equal(a[k][1], b[k][1])


def test_different_seed_differs():
    a = _concat(Simulator(seed=1, duration_s=310, audio=False))
    b = _concat(Simulator(seed=2, duration_s=310, audio=False))
    assert not np.array_equal(a["client/ecg"][1], b["client/ecg"][1])


def test_script_ground_truth_is_in_the_beats():
    sim = Simulator(seed=0, duration_s=1200, audio=False)
    bt, rr = sim.truth.beat_times["client"], sim.truth.rr_ms["client"]

    def hr(name):
        p = sim.truth.phase(name)
        m = (bt >= p.start + 30) & (bt < p.end)
        return 60000 / rr[m].mean(), np.sqrt(np.mean(np.diff(rr[m]) ** 2))

    hr_base, rmssd_base = hr("baseline")
    hr_hyper, rmssd_hyper = hr("hyper")
    hr_hypo, _ = hr("withdrawal")
    assert hr_hyper > hr_base + 20 and rmssd_hyper < rmssd_base / 1.8
    assert hr_hypo < hr_base - 5
    # the RR stream is the beat series at the strap's 1/1024 s resolution
    assert np.allclose(np.round(rr / 1000 * 1024), rr / 1000 * 1024)
    assert np.allclose(np.diff(bt), rr[1:] / 1000)


def test_streams_are_those_of_a_real_setup():
    sim = Simulator(seed=0, duration_s=400)
    kinds = {(s.participant, s.kind) for s in sim.streams}
    assert ("client", StreamKind.ECG) in kinds and ("therapist", StreamKind.AUDIO) in kinds
    ecg = next(s for s in sim.streams if s.kind is StreamKind.ECG)
    assert ecg.rate == 130.0 and ecg.unit == "uV" and ecg.utc_start == sim.utc0


def test_stretched_script_keeps_baseline_and_order():
    sim = Simulator(seed=0, duration_s=3000, audio=False)
    names = [p.name for p in sim.truth.phases]
    assert names == ["baseline", "hyper", "coregulate", "calm", "withdrawal", "repair"]
    assert sim.truth.phases[0].end == 300 and sim.truth.phases[-1].end == pytest.approx(3000)


def test_withdrawal_is_quiet_with_long_pauses():
    sim = Simulator(seed=0, duration_s=1200)
    utt = sim.truth.utterances["client"]

    def talk_share(name):
        p = sim.truth.phase(name)
        m = (utt[:, 0] >= p.start) & (utt[:, 0] < p.end)
        return (utt[m, 1] - utt[m, 0]).sum() / (p.end - p.start)

    assert talk_share("withdrawal") < 0.5 * talk_share("hyper")


async def test_async_iteration_matches_sync_chunks():
    sim = Simulator(seed=5, duration_s=305, audio=False)
    got = [c async for c in sim]
    ref = list(Simulator(seed=5, duration_s=305, audio=False).chunks())
    assert len(got) == len(ref)
    assert all(np.array_equal(a.values, b.values) for a, b in zip(got, ref))


def test_per_second_interpolation_is_numpys_to_the_bit():
    # the beat loop uses it instead of np.interp (which lets go of the GIL on every call): the
    # beats, and so every sample and final row, must not change by a single bit
    rng = np.random.default_rng(7)
    wave = rng.standard_normal(40) * 1e3
    grid = np.arange(40.0)
    ts = np.concatenate([rng.uniform(-3.0, 43.0, 5000), np.arange(-1.0, 41.0, 0.125), [0.0, 38.999999999, 39.0]])
    ours = np.array([_interp_per_second(wave.tolist(), float(t)) for t in ts])
    assert np.array_equal(ours, np.interp(ts, grid, wave))
