"""Sensor clock → session clock: lower-envelope fit, drift, segments."""

import numpy as np

from coregulate.sensors.clock import ClockConfig, SensorClock


def simulate(drift_ppm, duration_s=600.0, seed=1, frame_s=73 / 130, ci_s=0.0075):
    """PMD-like delivery: one frame per ``frame_s`` of sensor time, arrival = true time + delay.

    Delay = wait for the next connection event (uniform in one interval) + exponential queueing
    (mean 40 ms) + an occasional 300 ms batch stall. Returns sensor times, true session times of
    the last sample and arrival times.
    """
    rng = np.random.default_rng(seed)
    sensor = 725e6 + np.arange(0.0, duration_s, frame_s)  # large PMD-like sensor times
    true = 12.0 + (sensor - sensor[0]) / (1 + drift_ppm * 1e-6)  # session time of each sample
    delay = rng.uniform(0, ci_s, len(sensor)) + rng.exponential(0.04, len(sensor))
    delay += np.where(rng.random(len(sensor)) < 0.05, 0.3, 0.0)
    return sensor, true, true + delay


def run(sensor, arrival, cfg=ClockConfig()):
    clk = SensorClock(cfg)
    mapped = []
    for s, a in zip(sensor, arrival):
        clk.observe(s, a)
        mapped.append(clk.to_session(s))
    return clk, np.array(mapped)


def test_recovers_drift_and_offset_to_a_connection_interval():
    for drift in (-20.0, 0.0, 20.0):
        sensor, true, arrival = simulate(drift)
        clk, mapped = run(sensor, arrival)
        assert clk.segment == 0
        assert abs(clk.drift_ppm - (-drift)) < 5.0, clk.drift_ppm
        err = mapped - true
        late = err[len(err) // 10 :]  # after the first minute
        assert late.max() < 0.0075 and late.min() > -0.0075, (late.min(), late.max())
        # the fit is far better than taking the arrival time of the batch
        assert np.abs(late).mean() < 0.2 * np.abs(arrival - true).mean()
        # the final fit maps every frame to within one connection interval
        final = clk.to_session(sensor)
        assert np.abs(final - true)[len(sensor) // 10 :].max() < 0.0075


def test_is_deterministic_and_never_maps_after_arrival():
    sensor, true, arrival = simulate(15.0, seed=3)
    a = run(sensor, arrival)[1]
    b = run(sensor, arrival)[1]
    assert np.array_equal(a, b)
    assert np.all(a <= arrival + 1e-9)  # a sample is never placed after it arrived


def test_sensor_reset_and_stall_start_new_segments():
    clk = SensorClock(ClockConfig(max_latency_s=1.0))
    assert clk.observe(100.0, 5.0) is True and clk.segment == 0
    assert clk.observe(101.0, 6.02) is False
    assert abs(clk.to_session(101.0) - 6.0) < 1e-12  # lower envelope: the faster first packet
    # reset: sensor time goes back to ~0
    assert clk.observe(0.5, 7.0) is True and clk.segment == 1
    assert clk.to_session(0.5) == 7.0
    # stall: sensor time advances 1 s while 5 s pass on the host (beats not reported)
    assert clk.observe(1.5, 12.0) is True and clk.segment == 2
    # forced segment (reconnect)
    clk.new_segment()
    assert clk.observe(2.5, 13.0) is True and clk.segment == 3
    assert clk.observe(3.5, 14.0) is False


def test_drift_is_clamped():
    cfg = ClockConfig(max_drift_ppm=100.0, min_span_s=10.0, max_latency_s=10.0)
    s = np.arange(0, 60.0, 1.0)
    clk, _ = run(s, s * 1.001, cfg)  # 1000 ppm: not a crystal, clamp
    assert abs(clk.drift_ppm - 100.0) < 1e-6
