"""Windowed cross-lagged correlation: exactness of the running sums, lag sign, missing data, and
genuine vs pseudo pairs on real psychotherapy motion-energy dyads."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from coregulate.models.synchrony import (
    LaggedCorrelationBank,
    SyncParams,
    WindowedCrossCorrelation,
    lag_leader,
    peak_statistic,
    wclc_offline,
    wclc_reference,
    wclc_series,
)


def ar1(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    return lfilter([1.0], [1.0, -phi], rng.standard_normal(n))


def follower(leader: np.ndarray, delay: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """``leader`` delayed by ``delay`` seconds plus noise (the first samples are fresh noise)."""
    out = rng.standard_normal(len(leader)) * noise
    out[delay:] += leader[: len(leader) - delay]
    return out


@pytest.mark.parametrize("detrend", [False, True])
def test_running_sums_match_direct_correlation_with_missing_data(detrend):
    rng = np.random.default_rng(1)
    n = 300
    x = 70 + np.cumsum(rng.normal(size=n)) * 0.3  # large offset: cancellation would show
    y = np.roll(x, 3) + rng.normal(size=n) * 0.5
    x[50:60] = np.nan
    y[rng.integers(0, n, 25)] = np.nan
    p = SyncParams(detrend=detrend)
    bank = LaggedCorrelationBank(p)
    for t in range(n):
        bank.push(x[t], y[t])
        r = np.tanh(bank.z_matrix()[0])
        ref = wclc_reference(x, y, t, p)
        assert np.array_equal(np.isfinite(r), np.isfinite(ref)), t
        both = np.isfinite(r)
        np.testing.assert_allclose(r[both], ref[both], atol=1e-9)


@pytest.mark.parametrize("detrend", [False, True])
def test_no_drift_over_a_long_session(detrend):
    rng = np.random.default_rng(2)
    n = 5000
    x = 1000 + ar1(n, 0.9, rng)
    y = 1000 + ar1(n, 0.9, rng)
    p = SyncParams(detrend=detrend)
    bank = LaggedCorrelationBank(p)
    for a, b in zip(x, y):
        bank.push(a, b)
    np.testing.assert_allclose(np.tanh(bank.z_matrix()[0]), wclc_reference(x, y, n - 1, p), atol=1e-9)


@pytest.mark.parametrize("detrend", [False, True])
def test_offline_equals_live(detrend):
    rng = np.random.default_rng(3)
    n = 400
    x = ar1(n, 0.8, rng)
    y = follower(x, 2, 0.7, rng)
    x[rng.integers(0, n, 40)] = np.nan
    y[100:130] = np.nan
    p = SyncParams(detrend=detrend)
    live = []
    bank = LaggedCorrelationBank(p)
    for a, b in zip(x, y):
        bank.push(a, b)
        live.append(bank.z_matrix()[0])
    live = np.array(live)
    off = wclc_offline(x, y, p)
    assert np.array_equal(np.isfinite(live), np.isfinite(off))
    np.testing.assert_allclose(live[np.isfinite(live)], off[np.isfinite(off)], atol=1e-9)


@pytest.mark.parametrize("delay, who_leads", [(3, "client"), (-2, "therapist"), (0, "simultaneous")])
def test_known_lag_sign_and_leader(delay, who_leads):
    rng = np.random.default_rng(10 + delay)
    n = 600
    lead = ar1(n, 0.8, rng)
    if delay >= 0:  # therapist follows the client by `delay` s: positive lag = client leads
        x, y = lead, follower(lead, delay, 0.6, rng)
    else:
        y, x = lead, follower(lead, -delay, 0.6, rng)
    res = [r for r in wclc_series(x, y) if r is not None]
    lags = np.array([r.lag for r in res])
    assert abs(np.median(lags) - delay) <= 1
    assert np.mean(np.abs(lags - delay) <= 1) > 0.9
    assert lag_leader(int(np.median(lags))) == who_leads
    assert np.mean([r.z for r in res]) > 0.8


def test_coupled_phase_has_higher_synchrony_than_uncoupled_phase():
    rng = np.random.default_rng(4)
    n = 600
    x = ar1(n, 0.8, rng)
    y = np.concatenate([follower(x, 2, 0.8, rng)[:300], ar1(300, 0.8, rng)])
    z = np.array([np.nan if r is None else r.z for r in wclc_series(x, y)])
    assert np.nanmean(z[40:300]) > np.nanmean(z[340:]) + 0.4


def test_too_many_missing_seconds_give_none_not_values():
    rng = np.random.default_rng(5)
    x = ar1(200, 0.8, rng)
    y = follower(x, 1, 0.5, rng)
    x_gap = x.astype(object)
    x_gap[100:110] = None  # 10 of 30 missing in windows covering the gap: > 25 %
    out = wclc_series(list(x_gap), list(y))
    # Windows ending at 107..136 lose >= 8 of their 30 pairs at some lag (x reaches up to 5 s
    # back): not computable. Ends at 112..131 lose them at every lag.
    assert all(out[t] is None for t in range(107, 137))
    assert out[106] is not None and out[137] is not None  # 6-7 missing of 30: still computable
    assert out[90] is not None and out[150] is not None
    # warm-up: a window needs min_pairs (23) valid pairs at every lag, i.e. 23 + 5 seconds
    assert all(r is None for r in out[:27]) and out[27] is not None


def test_detrending_removes_opposite_drifts():
    rng = np.random.default_rng(9)
    t = np.arange(200.0)
    x = 0.2 * t + rng.normal(size=200)  # one settles up, the other down: no coupling
    y = -0.2 * t + rng.normal(size=200)
    raw = [r for r in wclc_series(x, y, SyncParams(peak="abs")) if r is not None]
    det = [r for r in wclc_series(x, y, SyncParams(peak="abs", detrend=True)) if r is not None]
    assert np.mean([abs(r.z) for r in raw]) > 1.0
    assert np.mean([abs(r.z) for r in det]) < 0.6


def test_constant_series_is_not_computable():
    rng = np.random.default_rng(6)
    out = wclc_series(np.full(100, 3.0), ar1(100, 0.5, rng))
    assert all(r is None for r in out)


def test_step_reports_every_step_seconds_only():
    rng = np.random.default_rng(7)
    x = ar1(120, 0.8, rng)
    est = WindowedCrossCorrelation(SyncParams(step_s=5))
    out = [est.update(a, b) for a, b in zip(x, follower(x, 1, 0.3, rng))]
    assert all(r is None for i, r in enumerate(out, start=1) if i % 5)
    assert all(r is not None for i, r in enumerate(out, start=1) if i % 5 == 0 and i >= 40)


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError):
        SyncParams(window_s=2)
    with pytest.raises(ValueError):
        SyncParams(peak="median")
    with pytest.raises(ValueError):
        wclc_series([1.0, 2.0], [1.0])


# -- real data: 20 psychotherapy intake interviews, motion energy (rMEA example data) ----------


def load_mea_dyads(folder) -> dict[str, np.ndarray]:
    """1-Hz motion energy (mean per second of the 25-Hz frames), columns patient, therapist."""
    out = {}
    for f in sorted(folder.glob("*/*.txt")):
        with open(f) as fh:
            header = fh.readline().split()
        assert header == ['"pat"', '"th"'], f"{f}: unexpected header {header}"
        a = np.loadtxt(f, skiprows=1)
        n = len(a) // 25
        out[f.stem] = a[: n * 25].reshape(n, 25, 2).mean(axis=1)
    return out


def session_score(x: np.ndarray, y: np.ndarray, p: SyncParams) -> float:
    return float(np.nanmean(peak_statistic(wclc_offline(x, y, p), p.peak)))


@pytest.mark.realdata
def test_genuine_pairs_show_more_synchrony_than_pseudo_pairs(shared_data):
    folder = shared_data / "psychotherapy_motion_dyads"
    if not folder.is_dir():
        pytest.skip("psychotherapy_motion_dyads not present")
    dyads = load_mea_dyads(folder)
    assert len(dyads) == 20
    # Motion energy is heavy-tailed (bursts); log1p keeps the bursts from dominating Pearson r.
    # Movement synchrony counts anti-phase coupling too (|r|), as in Ramseyer & Tschacher 2011.
    p = SyncParams(peak="abs")
    ids = list(dyads)
    genuine, pseudo = [], []
    for i in ids:
        pat = np.log1p(dyads[i][:, 0])
        genuine.append(session_score(pat, np.log1p(dyads[i][:, 1]), p))
        others = []
        for j in ids:
            if j != i:
                n = min(len(dyads[i]), len(dyads[j]))
                others.append(session_score(pat[:n], np.log1p(dyads[j][:n, 1]), p))
        pseudo.append(float(np.mean(others)))
    genuine, pseudo = np.array(genuine), np.array(pseudo)
    diff = genuine - pseudo
    print(f"\nMEA dyads: genuine mean peak |z| {genuine.mean():.3f} vs pseudo {pseudo.mean():.3f}; "
          f"genuine > pseudo in {np.sum(diff > 0)}/20")
    assert genuine.mean() > pseudo.mean()
    assert np.sum(diff > 0) >= 13  # direction holds for a clear majority of dyads


def _plain_accumulate(bank, xs, ys, sign, j):
    """The running sums' update as a plain signed sum (the form the bank's faster one must equal)."""
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = np.where(ok, xs, 0.0), np.where(ok, ys, 0.0)
    n, sx, sy, sxx, syy, sxy, *time_sums = bank._sums
    n += sign * ok
    sx += sign * xs
    sy += sign * ys
    sxx += sign * xs * xs
    syy += sign * ys * ys
    sxy += sign * xs * ys
    if bank.p.detrend:
        sj, sjj, sxj, syj = time_sums
        jr = float(j - bank._jref)
        sj += sign * jr * ok
        sjj += sign * jr * jr * ok
        sxj += sign * jr * xs
        syj += sign * jr * ys


def _plain_pairs(bank, j):
    xi, yi = j - bank._xoff, j - bank._yoff
    return (np.where(xi >= 0, bank._x[xi % bank.cap], np.nan), np.where(yi >= 0, bank._y[yi % bank.cap], np.nan))


def _plain_push(bank, x, y):
    """One second, its pairs added to and dropped from each sum one at a time (the form push_many's
    cumulative sum must equal)."""
    what = bank._append(x, y)
    if what == "refresh":
        bank._recompute()
    elif what == "step":
        _plain_accumulate(bank, *_plain_pairs(bank, bank.t), 1.0, bank.t)
        if bank.t - bank.w >= 0:
            _plain_accumulate(bank, *_plain_pairs(bank, bank.t - bank.w), -1.0, bank.t - bank.w)


@pytest.mark.parametrize("detrend", [False, True])
def test_the_banks_sums_and_peaks_equal_the_plain_computation_bit_for_bit(detrend, monkeypatch):
    # pseudo-pairs reaching 90 s back (masked before the start), gaps, and exact refreshes every window
    rng = np.random.default_rng(7)
    x, y = ar1(400, 0.8, rng), ar1(400, 0.8, rng)
    x[50:60] = np.nan
    y[200:240] = np.nan
    params = SyncParams(detrend=detrend)
    fast = LaggedCorrelationBank(params, [0, 0, 30, 90], [0, 60, 0, 0])
    plain = LaggedCorrelationBank(params, [0, 0, 30, 90], [0, 60, 0, 0])
    monkeypatch.setattr(plain, "push", lambda a, b: _plain_push(plain, a, b))
    for a, b in zip(x, y):
        fast.push(a, b)
        plain.push(a, b)
        assert np.array_equal(fast._sums, plain._sums)
        z = fast.z_matrix()
        assert np.array_equal(fast.peak_stat(z), peak_statistic(z, params.peak), equal_nan=True)
        assert np.array_equal(np.abs(z).max(axis=1), peak_statistic(np.abs(z), "max"), equal_nan=True)


@pytest.mark.parametrize("detrend, longest", [(False, 40), (True, 40), (False, 400)])
def test_pushing_several_seconds_at_once_gives_the_sums_and_z_of_each_as_one_at_a_time(detrend, longest):
    # from the start (pairs masked), through gaps long enough to make the bank idle, across exact
    # refreshes, in runs of 1 to 40 seconds (or up to 400: longer than the ring, whose values a run
    # reads from the history it keeps)
    rng = np.random.default_rng(11)
    n = 1500
    x, y = ar1(n, 0.8, rng), ar1(n, 0.8, rng)
    x[300:330] = np.nan
    x[600:1000] = np.nan
    y[580:1000] = np.nan
    params = SyncParams(detrend=detrend)
    many = LaggedCorrelationBank(params, [0, 0, 30, 90], [0, 60, 0, 0])
    plain = LaggedCorrelationBank(params, [0, 0, 30, 90], [0, 60, 0, 0])
    i, idle = 0, 0
    while i < n:
        m = int(rng.integers(1, longest + 1))
        got = many.push_many(list(zip(x[i:i + m], y[i:i + m])))
        for a, b, sums in zip(x[i:i + m], y[i:i + m], got):
            _plain_push(plain, a, b)
            if plain.idle:
                assert sums is None
                idle += 1
                continue
            assert np.array_equal(sums, plain._sums)
            assert np.array_equal(many.z_of(sums), plain.z_matrix(), equal_nan=True)
        i += m
    assert idle > 0
    for name in ("_sums", "_x", "_y"):
        assert np.array_equal(getattr(many, name), getattr(plain, name), equal_nan=True), name
