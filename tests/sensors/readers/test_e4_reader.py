"""Empatica E4 export folder: several streams of one person on one clock."""

import numpy as np
import pytest
from readers_testkit import gap_starts, collect, times, values, write_e4

from coregulate.sensors.chunk import StreamKind
from coregulate.sensors.errors import InputError
from coregulate.sensors.readers import detect_format, open_reader
from coregulate.sensors.spec import parse_spec


def test_e4_folder_streams_units_times(tmp_path):
    d = tmp_path / "E4"
    w = write_e4(d)
    assert detect_format(d) == "e4"
    r = open_reader(parse_spec(f"client={d}"))
    kinds = {s.kind: s for s in r.streams}
    assert set(kinds) == {StreamKind.PPG, StreamKind.EDA, StreamKind.ACC, StreamKind.HR, StreamKind.TEMP,
                          StreamKind.RR}
    assert kinds[StreamKind.PPG].rate == 64 and kinds[StreamKind.ACC].rate == 32
    assert all(s.utc_start == w["start"] for s in r.streams)
    by = collect(r)
    np.testing.assert_allclose(values(by["ppg"]), w["bvp"])
    np.testing.assert_allclose(values(by["eda"]), w["eda"])
    np.testing.assert_allclose(values(by["acc"]), w["acc"] * 1000 / 64)  # 1/64 g -> mg
    np.testing.assert_allclose(times(by["hr"]), [10, 11])  # HR.csv starts 10 s later
    np.testing.assert_allclose(times(by["eda"]), np.arange(40) / 4)
    assert max(len(c) for c in by["ppg"]) <= 64
    rr = by["rr"]
    np.testing.assert_allclose(times(rr), [t for t, _ in w["beats"]])
    np.testing.assert_allclose(values(rr), [800.0] * 5)
    # beat at 5.0 s has an 0.8 s interval but the previous listed beat is at 2.6 s: beats missing
    assert gap_starts(rr) == [pytest.approx(5.0)]
    assert r.annotations() == [(3.5, None, "tag"), (7.25, None, "tag")]


def test_e4_without_holes_has_no_gap(tmp_path):
    d = tmp_path / "E4"
    write_e4(d, ibi_hole=False)
    rr = collect(open_reader(parse_spec(f"client={d}")))["rr"]
    assert gap_starts(rr) == [] and [len(c) for c in rr] == [2, 1, 1]  # beats at 1.0 1.8 | 2.6 | 3.4 s


def test_e4_bad_rate_row(tmp_path):
    d = tmp_path / "E4"
    write_e4(d)
    (d / "EDA.csv").write_text("1600000000.0\nfour\n0.5\n")
    with pytest.raises(InputError) as e:
        open_reader(parse_spec(f"client={d}"))
    assert e.value.path.endswith("EDA.csv") and (e.value.line, e.value.field) == (2, "rate")


def test_not_an_e4_folder(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(InputError, match="E4"):
        open_reader(parse_spec(f"client={tmp_path / 'x'}"))
