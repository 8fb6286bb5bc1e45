"""Polar Sensor Logger exports: ECG/ACC timed by the sensor clock, RR by packet arrival."""

import numpy as np
import pytest
from readers_testkit import (
    gap_starts,
    POLAR_ACC_HEADER,
    POLAR_HR_HEADER,
    POLAR_RR_HEADER,
    collect,
    phone_time,
    times,
    values,
    write_polar_ecg,
)

from coregulate.sensors.chunk import StreamKind
from coregulate.sensors.errors import InputError
from coregulate.sensors.readers import detect_format, open_reader
from coregulate.sensors.spec import parse_spec


def test_ecg_values_times_rate_and_anchor(polar_ecg):
    path, ns, ecg = polar_ecg
    assert detect_format(path) == "polar"
    r = open_reader(parse_spec(f"client={path}"))
    (st,) = r.streams
    assert st.kind == StreamKind.ECG and st.participant == "client"
    assert "phone local time" in st.label and st.label.startswith("Polar_H10_ECG.txt")
    assert st.rate == pytest.approx(1e9 / 7_692_308, rel=1e-6)
    # phone ~ sensor + offset + transport delay; the lower envelope leaves only the minimum delay
    true_utc0 = ns[0] / 1e9 + 1_714_920_000.0
    assert st.utc_start - true_utc0 == pytest.approx(0.020, abs=0.0011)  # first packet: the least delay
    by = collect(r)
    chunks = by["ecg"]
    np.testing.assert_array_equal(values(chunks), ecg.astype(float))
    np.testing.assert_allclose(times(chunks), (ns - ns[0]) / 1e9, atol=1e-6)
    assert max(len(c) for c in chunks) <= 130
    assert not any(c.gap_before for c in chunks)


def test_anchor_is_the_lower_envelope_of_many_packets(tmp_path):
    p = tmp_path / "ecg.txt"
    ns, _ = write_polar_ecg(p, n=130 * 50, delay_s=(0.030, 0.300), seed=4)
    st = open_reader(parse_spec(f"client={p}")).streams[0]
    err = st.utc_start - (ns[0] / 1e9 + 1_714_920_000.0)
    assert 0.019 <= err < 0.045  # delays are 30-300 ms (20 ms for the first): a mean fit would be ~165 ms


def test_ecg_dropout_flags_gap_without_interpolating(tmp_path):
    p = tmp_path / "ecg.txt"
    ns, ecg = write_polar_ecg(p, drop=(500, 560))
    chunks = collect(open_reader(parse_spec(f"client={p}")))["ecg"]
    gapped = [c for c in chunks if c.gap_before]
    assert len(gapped) == 1
    assert gapped[0].t0 == pytest.approx((ns[500] - ns[0]) / 1e9, abs=1e-9)  # ns[500] is the first kept after drop
    assert sum(len(c) for c in chunks) == len(ecg)


def test_acc_three_channels_in_mg(tmp_path):
    p = tmp_path / "acc.txt"
    rows = [POLAR_ACC_HEADER]
    ns0 = 10_000_000_000
    for i in range(400):
        t = ns0 + i * 5_000_000  # 200 Hz
        rows.append(f"{phone_time(1_700_000_000 + t / 1e9 + 0.05)};{t};{i};{-i};{1000 + i}")
    p.write_text("\n".join(rows))
    r = open_reader(parse_spec(f"therapist={p}"))
    assert r.streams[0].kind == StreamKind.ACC and r.streams[0].channels == ("x", "y", "z")
    assert r.streams[0].rate == pytest.approx(200.0)
    v = values(collect(r)["acc"])
    assert v.shape == (400, 3)
    np.testing.assert_array_equal(v[7], [7, -7, 1007])


def test_rr_beats_assigned_backwards_from_packet_arrival(tmp_path):
    p = tmp_path / "rr.txt"
    T = 1_700_000_000.0
    # packet 1 arrives at T+2 with 800, 900; packet 2 at T+3 with 1000 (arrival jitter: only 0.95 s later)
    p.write_text("\n".join([POLAR_RR_HEADER, f"{phone_time(T + 2)};800", f"{phone_time(T + 2)};900",
                            f"{phone_time(T + 2.95)};1000", f"{phone_time(T + 10)};700"]) + "\n")
    r = open_reader(parse_spec(f"client={p}"))
    st = r.streams[0]
    assert st.kind == StreamKind.RR and st.rate is None
    assert st.utc_start == pytest.approx(T + 2 - 1.7)  # start of the first interval
    chunks = collect(r)["rr"]
    assert times(chunks)[0] == pytest.approx(0.8)
    t = times(chunks) + st.utc_start - T
    # 800 ends at 2.0-0.9=1.1, 900 at 2.0; 1000 cannot end before 2.0+1.0 (jitter clamped); 700 at 10
    np.testing.assert_allclose(t, [1.1, 2.0, 3.0, 10.0], atol=1e-3)
    np.testing.assert_array_equal(values(chunks), [800, 900, 1000, 700])
    assert gap_starts(chunks) == [pytest.approx(10.0 + T - st.utc_start, abs=1e-3)]  # 6.3 s without beats


def test_hr_newer_header_with_trailing_separator(tmp_path):
    p = tmp_path / "hr.txt"
    T = 1_700_000_000.0
    p.write_text("\n".join([POLAR_HR_HEADER] + [f"{phone_time(T + i)};{60 + i};;;" for i in range(5)]) + "\n")
    r = open_reader(parse_spec(f"client={p}"))
    assert r.streams[0].kind == StreamKind.HR and r.streams[0].utc_start == pytest.approx(T)
    c = collect(r)["hr"]
    np.testing.assert_allclose(times(c), np.arange(5), atol=1e-6)
    np.testing.assert_array_equal(values(c), 60 + np.arange(5))


def test_bad_phone_timestamp_names_line_and_field(tmp_path):
    p = tmp_path / "rr.txt"
    p.write_text(f"{POLAR_RR_HEADER}\n2024-01-01T00:00:00.000;800\nyesterday;800\n")
    r = open_reader(parse_spec(f"client={p}"))
    with pytest.raises(InputError) as e:
        list(r.chunks())
    assert e.value.line == 3 and e.value.field == "Phone timestamp" and str(p) in str(e.value)


def test_sensor_timestamps_going_backwards(tmp_path):
    p = tmp_path / "ecg.txt"
    write_polar_ecg(p, n=300)
    lines = p.read_text().splitlines()
    lines[200], lines[201] = lines[201], lines[200]
    p.write_text("\n".join(lines))
    with pytest.raises(InputError) as e:
        list(open_reader(parse_spec(f"client={p}")).chunks())
    assert e.value.line in (201, 202) and "sensor timestamp" in e.value.field and "increasing" in str(e.value)


POLAR_PPG_HEADER = "Phone timestamp;sensor timestamp [ns];channel 0;channel 1;channel 2;ambient"
POLAR_PPI_HEADER = "Phone timestamp;PP-interval [ms];error estimate [ms];blocker;contact;contact;hr [bpm]"


def _write_ppg(path, n=300, period_ns=18_266_548):
    T, s0 = 1_700_000_000.0, 700_000_000_000_000_000
    rows = [POLAR_PPG_HEADER]
    for i in range(n):
        ns = s0 + i * period_ns
        # channels i, 2i, 3i; ambient 10 (constant): trailing ';' as the logger writes it
        rows.append(f"{phone_time(T + i * period_ns / 1e9 + 0.03)};{ns};{1000 + i};{2000 + 2 * i};{3000 + 3 * i};10;")
    path.write_text("\n".join(rows) + "\n")
    return n


def test_ppg_sums_optical_channels_minus_ambient(tmp_path):
    p = tmp_path / "Polar_Sense_PPG.txt"
    n = _write_ppg(p)
    assert detect_format(p) == "polar"
    r = open_reader(parse_spec(f"client={p}"))
    st = r.streams[0]
    assert st.kind == StreamKind.PPG and st.rate == pytest.approx(1e9 / 18_266_548, rel=1e-6)
    c = collect(r)["ppg"]
    np.testing.assert_allclose(values(c), 6000 + 6 * np.arange(n) - 30)
    np.testing.assert_allclose(times(c), np.arange(n) * 18_266_548 / 1e9, atol=1e-6)


def test_ppg_channel_option_and_unknown_channel(tmp_path):
    p = tmp_path / "Polar_Sense_PPG.txt"
    n = _write_ppg(p)
    c = collect(open_reader(parse_spec(f"client={p}?channel=1")))["ppg"]
    np.testing.assert_allclose(values(c), 2000 + 2 * np.arange(n) - 10)
    with pytest.raises(InputError) as e:
        open_reader(parse_spec(f"client={p}?channel=7"))
    assert e.value.field == "channel" and "0, 1, 2" in str(e.value)


def test_ppi_flagged_intervals_dropped_and_gap_marked(tmp_path):
    p = tmp_path / "Polar_Sense_PPI.txt"
    T = 1_700_000_000.0
    # (interval, error estimate, blocker, contact, contact supported)
    rows = [(1000, 8, 0, 1, 1), (1000, 9, 0, 1, 1), (1100, 700, 1, 1, 1), (1000, 8, 0, 1, 1),
            (1000, 8, 0, 0, 1), (1000, 8, 0, 1, 1), (900, 150, 0, 1, 1), (950, 8, 0, 1, 1), (1000, 7, 0, 0, 0)]
    t, lines = T, [POLAR_PPI_HEADER]
    for rr, err, blk, con, sup in rows:
        t += rr / 1000
        lines.append(f"{phone_time(t)};{rr};{err};{blk};{con};{sup};0")
    # the logger's own row times may step back at a packet boundary: tolerated for PPI
    lines[5] = f"{phone_time(t - 3.5)};1000;8;0;0;1;0"
    p.write_text("\n".join(lines) + "\n")
    r = open_reader(parse_spec(f"client={p}"))
    assert r.streams[0].kind == StreamKind.RR
    c = collect(r)["rr"]
    # blocker (row 3), lost contact (row 5) and error > 100 ms (row 7) dropped; contact not
    # supported (row 9) kept
    np.testing.assert_array_equal(values(c), [1000, 1000, 1000, 1000, 950, 1000])
    t = times(c)
    assert np.all(np.diff(t) > 0)
    flagged = [float(ch.start) for ch in c if ch.gap_before]
    # every kept interval right after a dropped one starts after a marked gap
    after_drop = [t[2], t[3], t[4]]
    assert all(any(abs(f - x) < 1e-9 for f in flagged) for x in after_drop), (flagged, after_drop)
    loose = collect(open_reader(parse_spec(f"client={p}?max_ppi_error_ms=200")))["rr"]
    assert 900 in values(loose).tolist()


def test_hr_zero_means_no_estimate(tmp_path):
    p = tmp_path / "Polar_Sense_HR.txt"
    T = 1_700_000_000.0
    p.write_text("\n".join(["Phone timestamp;HR [bpm]"] + [f"{phone_time(T + i)};{0 if i < 3 else 60}" for i in range(6)]) + "\n")
    c = collect(open_reader(parse_spec(f"client={p}")))["hr"]
    np.testing.assert_array_equal(values(c), [60, 60, 60])


def test_ppi_bad_error_option_is_one_line(tmp_path):
    p = tmp_path / "Polar_Sense_PPI.txt"
    p.write_text(f"{POLAR_PPI_HEADER}\n{phone_time(1_700_000_000.0)};1000;8;0;1;1;0\n")
    with pytest.raises(InputError) as e:
        open_reader(parse_spec(f"client={p}?max_ppi_error_ms=lots"))
    assert e.value.field == "max_ppi_error_ms" and "positive" in str(e.value)


def test_delay_option_moves_phone_dated_rows_earlier(tmp_path):
    p = tmp_path / "Polar_Sense_PPI.txt"
    T = 1_700_000_000.0
    p.write_text("\n".join([POLAR_PPI_HEADER] + [f"{phone_time(T + i)};1000;8;0;1;1;0" for i in range(1, 8)]) + "\n")
    plain = open_reader(parse_spec(f"client={p}"))
    late = open_reader(parse_spec(f"client={p}?delay_s=16.5"))
    t0 = plain.streams[0].utc_start + np.concatenate([c.sample_times() for c in plain.chunks()])
    t1 = late.streams[0].utc_start + np.concatenate([c.sample_times() for c in late.chunks()])
    np.testing.assert_allclose(t1, t0 - 16.5)  # same beats, 16.5 s earlier in absolute time
    for bad, words in ((f"client={p}?delay_s=soon", "between -600 and 600"),
                       (f"client={p}?delay_s=900", "between -600 and 600")):
        with pytest.raises(InputError) as e:
            open_reader(parse_spec(bad))
        assert e.value.field == "delay_s" and words in str(e.value)
