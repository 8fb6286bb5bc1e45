"""Segment-shift surrogate null: false-positive rate near alpha, power for coupled series,
determinism and bounded memory."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from coregulate.models.surrogates import (
    SurrogateParams,
    SurrogateSynchrony,
    _segment_shuffle,
    shuffled_session_null,
)
from coregulate.models.synchrony import SyncParams


def ar1(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    return lfilter([1.0], [1.0, -phi], rng.standard_normal(n))


def run(x, y, sync=None, surr=None):
    est = SurrogateSynchrony(sync, surr)
    return est, [est.update(a, b) for a, b in zip(x, y)]


def test_false_positive_rate_of_independent_series_is_near_alpha():
    rates = []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        x, y = ar1(2400, 0.9, rng), ar1(2400, 0.9, rng)
        _, res = run(x, y)
        flags = [r.significant for r in res if r.significant is not None]
        assert len(flags) > 2000
        rates.append(np.mean(flags))
    rate = float(np.mean(rates))
    print(f"\nfalse-positive rate, independent AR(1) pairs, alpha 0.05: {rate:.3f} (per seed {np.round(rates, 3)})")
    assert 0.025 <= rate <= 0.09


def test_coupled_series_are_significant_with_a_large_effect():
    rng = np.random.default_rng(11)
    x = ar1(1500, 0.9, rng)
    y = np.concatenate([np.zeros(2), x[:-2]]) + 0.7 * ar1(1500, 0.9, rng)
    _, res = run(x, y)
    tested = [r for r in res if r.significant is not None]
    assert np.mean([r.significant for r in tested]) > 0.5
    assert np.mean([r.effect for r in tested]) > 1.5
    assert np.median([r.sync.lag for r in tested]) == 2


def test_offsets_are_seeded_whole_segments_and_memory_is_bounded():
    p = SurrogateParams(seed=3, pool_size=500)
    off = p.offsets()
    assert np.array_equal(off, SurrogateParams(seed=3).offsets())
    assert not np.array_equal(off, SurrogateParams(seed=4).offsets())
    assert np.all(off % p.segment_s == 0) and off.min() >= p.segment_s and off.max() <= p.max_offset_s
    rng = np.random.default_rng(0)
    est, _ = run(ar1(900, 0.8, rng), ar1(900, 0.8, rng), surr=p)
    assert len(est.null()) == 500
    assert est.bank.cap <= p.max_offset_s + 30 + 5 + 1


def test_same_input_same_output():
    rng = np.random.default_rng(5)
    x, y = ar1(700, 0.9, rng), ar1(700, 0.9, rng)
    _, a = run(x, y)
    _, b = run(x, y)
    assert [(r.effect, r.p) for r in a] == [(r.effect, r.p) for r in b]


def test_warm_up_gives_none_until_the_null_is_large_enough():
    rng = np.random.default_rng(6)
    x = ar1(400, 0.8, rng)
    _, res = run(x, x + 0.3 * ar1(400, 0.8, rng))
    first = next(i for i, r in enumerate(res) if r.effect is not None)
    assert all(r.significant is None for r in res[:first])
    assert res[first].n_null >= SurrogateParams().min_null
    assert res[40].sync is not None  # the genuine window itself is available long before


def test_segment_shuffle_moves_every_segment():
    rng = np.random.default_rng(0)
    y = np.arange(300.0)
    s = _segment_shuffle(y, 30, rng)
    assert sorted(s) == sorted(y)
    for k in range(10):
        assert s[30 * k] != y[30 * k]


def test_session_level_shuffle_test_separates_coupled_from_independent():
    rng = np.random.default_rng(8)
    x = ar1(900, 0.9, rng)
    coupled = shuffled_session_null(x, np.roll(x, 1) + 0.8 * ar1(900, 0.9, rng), n_surrogates=30)
    indep = shuffled_session_null(x, ar1(900, 0.9, rng), n_surrogates=30)
    assert coupled["p"] < 0.05 and coupled["effect"] > 3
    assert indep["effect"] < coupled["effect"] - 2


def test_too_short_for_shuffling_is_an_error():
    with pytest.raises(ValueError):
        _segment_shuffle(np.arange(40.0), 30, np.random.default_rng(0))
    with pytest.raises(ValueError):
        SurrogateParams(n_surrogates=100, max_offset_s=300).offsets()
    assert SyncParams().min_pairs == 23


def test_a_level_only_estimator_gives_the_whole_ones_effect_bit_for_bit_and_nothing_else():
    # the throwaway copies of DyadPipeline.rules_copy: same pool, same effect (the level), no p, peak or flag;
    # gaps make the genuine peak not computable in some seconds (effect None in the same ones), and the
    # warm-up (min_null) and the step (step_s = 2) are crossed
    rng = np.random.default_rng(3)
    x, y = ar1(900, 0.8, rng), ar1(900, 0.8, rng)
    x[100:130] = np.nan
    y[400:412] = np.nan
    sync, surr = SyncParams(step_s=2), SurrogateParams(pool_size=500)
    whole, level = SurrogateSynchrony(sync, surr), SurrogateSynchrony(sync, surr)
    level.level_only = True
    effects = 0
    for a, b in zip(x, y):
        w, lv = whole.update(a, b), level.update(a, b)
        assert lv.effect == w.effect and (lv.effect is None) == (w.effect is None)
        assert (lv.sync, lv.p, lv.significant, lv.n_null) == (None, None, None, w.n_null)
        effects += w.effect is not None
    assert np.array_equal(level.null(), whole.null())
    assert 200 < effects < 450  # effects on most reported seconds, None in the gaps and the warm-up


@pytest.mark.parametrize("level_only", [False, True])
def test_a_frozen_null_tests_the_same_genuine_peak_against_the_pool_as_it_was(level_only):
    # the provisional tier's copies (DyadPipeline.rules_copy): from the freeze on, the genuine pairing's
    # peak is the live estimator's, bit for bit, and its effect and p are taken against the pool of the
    # second it was frozen at, which no longer grows
    from coregulate.models.surrogates import mean_and_sd

    rng = np.random.default_rng(5)
    x, y = ar1(700, 0.8, rng), ar1(700, 0.8, rng)
    y[520:530] = np.nan
    sync, surr = SyncParams(step_s=2), SurrogateParams(pool_size=3000)
    live, frozen = SurrogateSynchrony(sync, surr), SurrogateSynchrony(sync, surr)
    for a, b in zip(x[:500], y[:500]):
        live.update(a, b), frozen.update(a, b)
    pool = frozen.null()
    frozen.freeze_null()
    frozen.level_only = level_only
    mean, sd = mean_and_sd(pool)
    assert frozen.bank.n_pairings == 1 and live.bank.n_pairings > 1
    tested = 0
    for a, b in zip(x[500:], y[500:]):
        lv, fz = live.update(a, b), frozen.update(a, b)
        assert fz.n_null == len(pool)
        if lv.sync is None:  # between steps, in the gap: nothing either way
            assert fz.effect is None
            continue
        obs = lv.sync.z if sync.peak == "max" else abs(lv.sync.z)  # the genuine peak statistic
        assert fz.effect == (obs - mean) / sd  # the same genuine peak, the pool as it was
        if not level_only:
            assert fz.sync == lv.sync and fz.p == (1 + np.count_nonzero(pool >= obs)) / (1 + len(pool))
        tested += 1
    assert np.array_equal(frozen.null(), pool) and not np.array_equal(live.null(), pool)
    assert tested > 80


def test_mean_and_sd_equal_numpys_mean_and_std_bit_for_bit():
    from coregulate.models.surrogates import mean_and_sd

    rng = np.random.default_rng(11)
    for n in (1, 7, 8, 9, 127, 128, 129, 1000, 4097, 12000):  # numpy's pairwise sum changes form at 8 and 128
        for scale in (1e-3, 1.0, 1e3):
            values = rng.normal(0.3, 0.2, n) * scale
            kept = values.copy()
            assert mean_and_sd(values) == (float(np.mean(values)), float(np.std(values)))
            assert np.array_equal(values, kept)  # the pool is read, not written


def test_a_deep_copy_shares_only_the_read_only_constants_and_steps_as_a_fresh_estimator_does():
    import copy

    rng = np.random.default_rng(3)
    data = rng.normal(size=(900, 2)) + np.sin(np.arange(900) / 15.0)[:, None]
    est = SurrogateSynchrony(SyncParams(), SurrogateParams(min_null=50))
    for x, y in data[:500]:
        est.update(x, y)
    twin = copy.deepcopy(est)
    shared = {k for k, v in vars(twin.bank).items() if v is getattr(est.bank, k)} | \
        {k for k, v in vars(twin).items() if v is getattr(est, k)}
    # ints, floats and the frozen parameters aside, only the read-only constants are shared
    assert {k for k in shared if isinstance(getattr(est.bank, k, getattr(est, k, None)), np.ndarray)} == \
        {"lags", "_tie_order", "_xoff", "_yoff", "_back", "offsets"}
    with pytest.raises(ValueError):
        twin.bank.lags[0] = 99  # a constant cannot be written through a copy (nor reach the original)
    # the copy steps other data; the original gives what an estimator never copied gives
    plain = SurrogateSynchrony(SyncParams(), SurrogateParams(min_null=50))
    for x, y in data[:500]:
        plain.update(x, y)
    for x, y in data[500:]:
        twin.update(y, -x)
        assert est.update(x, y) == plain.update(x, y)
    assert twin.update(1.0, 2.0) != est.update(1.0, 2.0)


@pytest.mark.parametrize("level_only", [False, True])
def test_updating_several_seconds_at_once_gives_the_results_of_one_at_a_time(level_only):
    rng = np.random.default_rng(4)
    x, y = ar1(1300, 0.7, rng), ar1(1300, 0.7, rng)
    x[400:700] = np.nan  # idle for a while
    one, many = (SurrogateSynchrony(SyncParams(step_s=2), SurrogateParams(min_null=50)) for _ in range(2))
    one.level_only = many.level_only = level_only
    i, got = 0, []
    while i < len(x):
        m = int(rng.integers(1, 30))
        got += many.update_many(list(zip(x[i:i + m], y[i:i + m])))
        i += m
    plain = [one.update(a, b) for a, b in zip(x, y)]
    assert got == plain
    assert sum(r.effect is not None for r in plain) > 300 and np.array_equal(one.null(), many.null())


def test_pooling_writes_the_slots_of_the_rings_modular_index_with_or_without_a_wrap():
    rng = np.random.default_rng(5)
    est = SurrogateSynchrony(surr=SurrogateParams(pool_size=50))
    ring, ring_next, ring_n = np.full(50, np.nan), 0, 0  # the plain ring: every write by the modular index
    for _ in range(40):
        vals = rng.standard_normal(int(rng.integers(0, 23)))
        vals[rng.random(len(vals)) < 0.2] = np.nan
        if np.isfinite(vals).all() and rng.random() < 0.5:
            est._add_null(vals, finite=True)  # update_many's path when every surrogate peak is finite
        else:
            est._add_null(vals)
        kept = vals[np.isfinite(vals)]
        ring[(ring_next + np.arange(len(kept))) % 50] = kept
        ring_next, ring_n = (ring_next + len(kept)) % 50, min(50, ring_n + len(kept))
        assert np.array_equal(est._pool, ring, equal_nan=True)
        assert (est._pool_next, est._pool_n) == (ring_next, ring_n)
