"""RR text (Kubios/Elite HRV) and HRV Logger CSV."""

import numpy as np
import pytest
from readers_testkit import gap_starts, collect, times, values

from coregulate.sensors.chunk import StreamKind
from coregulate.sensors.errors import InputError
from coregulate.sensors.readers import detect_format, open_reader
from coregulate.sensors.spec import parse_spec


@pytest.mark.parametrize("scale, unit", [(1.0, "ms"), (0.001, "s")])
def test_rr_text_unit_inferred_and_cumulative_times(tmp_path, scale, unit):
    rr = np.array([812, 790, 805, 1200, 640, 700.5])
    p = tmp_path / "beats.txt"
    p.write_text("\n".join(f"{v * scale:g}" for v in rr) + "\n\n")
    assert detect_format(p) == "rr"
    r = open_reader(parse_spec(f"client={p}"))
    assert r.streams[0].kind == StreamKind.RR and f"RR in {unit}" in r.streams[0].label
    c = collect(r)["rr"]
    np.testing.assert_allclose(values(c), rr)
    np.testing.assert_allclose(times(c), np.cumsum(rr) / 1000)


def test_rr_unit_option_overrides_inference(tmp_path):
    p = tmp_path / "beats.txt"
    p.write_text("8\n9\n")  # would be inferred as seconds
    c = collect(open_reader(parse_spec(f"client=rr:{p}?unit=ms")))["rr"]
    np.testing.assert_allclose(values(c), [8, 9])


def test_rr_text_rejects_zero_interval_with_line(tmp_path):
    p = tmp_path / "beats.txt"
    p.write_text("800\n0\n")
    with pytest.raises(InputError) as e:
        list(open_reader(parse_spec(f"client={p}")).chunks())
    assert e.value.line == 2 and e.value.field == "RR interval"


def test_hrvlogger_times_anchor_and_holes(tmp_path):
    p = tmp_path / "hrvlogger.csv"
    rows = ["date,rr,since start",
            "2024-05-05 10:00:01.000,1000,1000",
            "2024-05-05 10:00:01.800,800,1800",
            "2024-05-05 10:00:02.700,900,2700",
            # 7 s of beats missing, then a beat of 800 ms ending at 10.5 s
            "2024-05-05 10:00:10.500,800,10500"]
    p.write_text("\n".join(rows) + "\n")
    assert detect_format(p) == "hrvlogger"
    r = open_reader(parse_spec(f"client={p}"))
    st = r.streams[0]
    assert st.utc_start == pytest.approx(1714903200.0)  # 2024-05-05T10:00:00 read as UTC
    assert "phone local time" in st.label
    c = collect(r)["rr"]
    np.testing.assert_allclose(times(c), [1.0, 1.8, 2.7, 10.5])
    np.testing.assert_allclose(values(c), [1000, 800, 900, 800])
    assert gap_starts(c) == [10.5]


def test_hrvlogger_truncated_line(tmp_path):
    p = tmp_path / "hrvlogger.csv"
    p.write_text("date,rr,since start\n2024-05-05 10:00:01.000,1000,1000\n2024-05-05 10:00:02.000,1000\n")
    with pytest.raises(InputError) as e:
        list(open_reader(parse_spec(f"client={p}")).chunks())
    assert e.value.line == 3 and e.value.field == "since start" and "truncated" in str(e.value)


def test_long_rr_file_is_cut_into_one_second_chunks(tmp_path):
    rr = np.full(6000, 800.0)  # 80 min of beats: more than one read block
    p = tmp_path / "beats.txt"
    p.write_text("\n".join(f"{v:g}" for v in rr))
    c = collect(open_reader(parse_spec(f"client={p}")))["rr"]
    assert sum(len(ch) for ch in c) == 6000
    assert all(ch.times[-1] - ch.times[0] < 1.0 for ch in c) and max(len(ch) for ch in c) == 2
