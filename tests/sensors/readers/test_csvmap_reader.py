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
