"""Generic CSV with a column mapping (time column or fixed rate, sparse irregular columns)."""

import numpy as np
import pytest
from readers_testkit import collect, times, values

from coregulate.sensors.chunk import StreamKind
from coregulate.sensors.errors import InputError
from coregulate.sensors.readers import detect_format, open_reader
from coregulate.sensors.spec import parse_spec

T0_NS = 1_714_920_600_006_020_096


def write_polar_like(p, n=400, rate=130.0, hole=None):
    rows = ["time_ns,ecg_mV,hr_bpm,rr_ms"]
    for i in range(n):
        ecg = "" if hole and hole[0] <= i < hole[1] else f"{(i % 50) / 100:.3f}"
        hr = "61" if i % 130 == 0 else ""
        rr = f"{700 + i}" if i % 100 == 50 else ""
        rows.append(f"{T0_NS + int(round(i * 1e9 / rate))},{ecg},{hr},{rr}")
    p.write_text("\n".join(rows) + "\n")


def test_mapping_time_ns_sparse_rr_hr(tmp_path):
    p = tmp_path / "rec.csv"
    write_polar_like(p)
    assert detect_format(p) == "csv"
    r = open_reader(parse_spec(f"client=csv:{p}?time=time_ns:ns&ecg=ecg_mV:mV&rr=rr_ms:ms&hr=hr_bpm:bpm"))
    kinds = {s.kind: s for s in r.streams}
    assert kinds[StreamKind.ECG].rate == pytest.approx(130.0, rel=1e-6)
    assert kinds[StreamKind.RR].rate is None and kinds[StreamKind.HR].rate is None
    assert kinds[StreamKind.ECG].utc_start == pytest.approx(T0_NS / 1e9)
    by = collect(r)
    np.testing.assert_allclose(values(by["ecg"]), [(i % 50) * 10.0 for i in range(400)])  # mV -> uV
    np.testing.assert_allclose(times(by["ecg"]), np.arange(400) / 130.0, atol=1e-6)
    np.testing.assert_allclose(values(by["rr"]), [750, 850, 950, 1050])
    np.testing.assert_allclose(times(by["rr"]), np.array([50, 150, 250, 350]) / 130.0, atol=1e-6)
    np.testing.assert_allclose(times(by["hr"]), np.array([0, 130, 260, 390]) / 130.0, atol=1e-6)
    assert max(len(c) for c in by["ecg"]) <= 130


def test_automap_from_column_names(tmp_path):
    p = tmp_path / "rec.csv"
    write_polar_like(p, n=200)
    r = open_reader(parse_spec(f"client={p}"))
    assert {s.kind for s in r.streams} == {StreamKind.ECG, StreamKind.RR, StreamKind.HR}


def test_empty_cells_in_a_regular_column_make_a_gap(tmp_path):
    p = tmp_path / "rec.csv"
    write_polar_like(p, hole=(100, 103))
    by = collect(open_reader(parse_spec(f"client={p}?time=time_ns:ns&ecg=ecg_mV:mV")))
    gapped = [c for c in by["ecg"] if c.gap_before]
    assert len(gapped) == 1 and gapped[0].t0 == pytest.approx(103 / 130.0, abs=1e-6)
    assert sum(len(c) for c in by["ecg"]) == 397


def test_fixed_rate_without_time_column(tmp_path):
    p = tmp_path / "bio.csv"
    p.write_text("ECG,PPG,RSP\n" + "\n".join(f"{i * 0.001},{i},{-i}" for i in range(250)) + "\n")
    r = open_reader(parse_spec(f"client={p}?rate=100&ecg=ECG:mV&ppg=PPG&resp=RSP"))
    assert [s.rate for s in r.streams] == [100.0] * 3 and r.streams[0].utc_start is None
    by = collect(r)
    np.testing.assert_allclose(values(by["ecg"]), np.arange(250) * 1.0)
    np.testing.assert_allclose(times(by["resp"]), np.arange(250) / 100)
    assert [len(c) for c in by["ppg"]] == [100, 100, 50]


def test_iso_time_semicolon_separator(tmp_path):
    p = tmp_path / "eda.csv"
    p.write_text("time;eda\n" + "\n".join(f"2024-01-01T00:00:{i / 4:06.3f};{i / 10}" for i in range(40)) + "\n")
    r = open_reader(parse_spec(f"client={p}?time=time:iso&eda=eda:uS"))
    assert r.streams[0].rate == pytest.approx(4.0) and r.streams[0].utc_start == pytest.approx(1704067200.0)
    np.testing.assert_allclose(times(collect(r)["eda"]), np.arange(40) / 4)


def test_mapping_naming_absent_column(tmp_path):
    p = tmp_path / "rec.csv"
    write_polar_like(p, n=10)
    with pytest.raises(InputError) as e:
        open_reader(parse_spec(f"client={p}?time=time_ns:ns&ecg=ECG:mV"))
    assert e.value.field == "ecg" and e.value.line == 1 and "'ECG' not in the file" in str(e.value)
    assert "'ecg_mV'" in str(e.value)  # lists the columns that exist


def test_no_time_and_no_rate(tmp_path):
    p = tmp_path / "bio.csv"
    p.write_text("ECG\n1\n2\n")
    with pytest.raises(InputError, match="rate"):
        open_reader(parse_spec(f"client={p}?ecg=ECG:mV"))


def test_absurd_rate(tmp_path):
    p = tmp_path / "bio.csv"
    p.write_text("ECG\n1\n2\n")
    with pytest.raises(InputError) as e:
        open_reader(parse_spec(f"client={p}?rate=1e9&ecg=ECG:mV"))
    assert e.value.field == "rate" and "implausible" in str(e.value)


def test_non_numeric_timestamp_names_line_and_field(tmp_path):
    p = tmp_path / "rec.csv"
    write_polar_like(p, n=20)
    lines = p.read_text().splitlines()
    lines[12] = "12:00," + lines[12].split(",", 1)[1]
    p.write_text("\n".join(lines))
    with pytest.raises(InputError) as e:
        list(open_reader(parse_spec(f"client={p}?time=time_ns:ns&ecg=ecg_mV:mV")).chunks())
    assert (e.value.line, e.value.field) == (13, "time_ns") and "not a number" in str(e.value)


def test_non_monotonic_timestamps(tmp_path):
    p = tmp_path / "rec.csv"
    p.write_text("t,ecg\n" + "\n".join(f"{t},{t}" for t in [0.0, 0.01, 0.02, 0.015, 0.03]) + "\n")
    with pytest.raises(InputError) as e:
        list(open_reader(parse_spec(f"client={p}?time=t:s&ecg=ecg:uV")).chunks())
    assert (e.value.line, e.value.field) == (5, "t") and "increasing" in str(e.value)


def test_truncated_line(tmp_path):
    p = tmp_path / "rec.csv"
    p.write_text("t,ecg,eda\n0,1,2\n0.01,1,2\n0.02,1\n")
    with pytest.raises(InputError) as e:
        list(open_reader(parse_spec(f"client={p}?time=t:s&ecg=ecg:uV&eda=eda:uS")).chunks())
    assert (e.value.line, e.value.field) == (4, "eda") and "truncated" in str(e.value)


def test_empty_file(tmp_path):
    p = tmp_path / "rec.csv"
    p.write_text("")
    with pytest.raises(InputError) as e:
        open_reader(parse_spec(f"client=csv:{p}?rate=10&ecg=a:uV"))
    assert "empty" in str(e.value) and str(p) in str(e.value)


def write_camera_like(p, n=9000, seed=0, drop_at=(), late_gap_at=None):
    """Frames of a phone camera: ~30/s with jittery ms stamps and single dropped frames; the
    pixel value is a known function of the true frame time (a 1.1-Hz sine plus a slow ramp)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 30.0 + rng.uniform(-0.008, 0.008, n)
    keep = np.ones(n, bool)
    keep[list(drop_at)] = False
    t = t[keep]
    if late_gap_at is not None:
        t[late_gap_at:] += 0.5  # 0.5 s without frames: a gap, not jitter
    ms = np.round((t - t[0]) * 1000).astype(int)
    g = 60 + 5 * np.sin(2 * np.pi * 1.1 * ms / 1000) + ms / 10000
    p.write_text("time,R,G,B\n" + "\n".join(f"{m},250,{v:.4f},0" for m, v in zip(ms, g)) + "\n")
    return ms / 1000.0


def test_jittery_frame_times_are_put_on_a_uniform_grid(tmp_path):
    p = tmp_path / "PPG.csv"
    stamps = write_camera_like(p, drop_at=(100, 5000, 5001))
    r = open_reader(parse_spec(f"client=csv:{p}?time=time:ms&ppg=G"))
    st = r.streams[0]
    chunks = collect(r)["ppg"]
    t, v = times(chunks), values(chunks)
    # one run (dropped frames are shorter than a gap), evenly spaced at the stream's rate, never
    # past the last frame
    assert not any(c.gap_before for c in chunks[1:])
    np.testing.assert_allclose(np.diff(t), 1 / st.rate, atol=1e-9)
    assert t[0] == stamps[0] and stamps[-1] - 1 / st.rate < t[-1] <= stamps[-1]
    # each grid value is the linear interpolation between the frames around it
    g = np.genfromtxt(p, delimiter=",", names=True)["G"]
    np.testing.assert_allclose(v, np.interp(t, stamps, g), atol=1e-9)
    # chunked as before (about a second each), whatever the reader's block size
    assert max(len(c) for c in chunks) == round(st.rate)


def test_jittery_stream_keeps_its_gaps(tmp_path):
    p = tmp_path / "PPG.csv"
    stamps = write_camera_like(p, n=3000, late_gap_at=1500)
    chunks = collect(open_reader(parse_spec(f"client=csv:{p}?time=time:ms&ppg=G")))["ppg"]
    gapped = [c for c in chunks if c.gap_before]
    assert len(gapped) == 1 and gapped[0].t0 == stamps[1500]  # the run after the gap starts on its own frame
    before = np.concatenate([c.sample_times() for c in chunks if c.t0 < stamps[1500]])
    assert before.max() <= stamps[1499]  # nothing filled in the gap


def test_regular_timestamps_are_not_resampled(tmp_path):
    p = tmp_path / "rec.csv"
    write_polar_like(p)
    r = open_reader(parse_spec(f"client=csv:{p}?time=time_ns:ns&ecg=ecg_mV:mV"))
    assert r.jittery == set()


def test_negated_ppg_column(tmp_path):
    p = tmp_path / "PPG.csv"
    write_camera_like(p, n=300)
    a = values(collect(open_reader(parse_spec(f"client=csv:{p}?time=time:ms&ppg=G")))["ppg"])
    b = values(collect(open_reader(parse_spec(f"client=csv:{p}?time=time:ms&ppg=-G")))["ppg"])
    np.testing.assert_array_equal(b, -a)
