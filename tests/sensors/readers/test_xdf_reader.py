"""XDF via pyxdf, on files written by the tiny writer in readers_testkit."""

import numpy as np
import pytest
from readers_testkit import collect, times, values, write_xdf

from coregulate.sensors.chunk import StreamKind
from coregulate.sensors.errors import InputError
from coregulate.sensors.readers import detect_format, open_reader
from coregulate.sensors.spec import parse_spec


def make(p):
    t_ecg = 100.0 + np.arange(500) / 100.0
    ecg = np.round(np.sin(np.arange(500) / 5.0), 3)
    t_eda = 100.5 + np.arange(20) / 4.0
    eda = np.linspace(1, 2, 20)
    write_xdf(p, [
        dict(id=1, name="ecg strap", type="ECG", srate=100, fmt="float32", times=t_ecg, values=ecg, unit="mV"),
        dict(id=2, name="gsr", type="EDA", srate=4, fmt="float32", times=t_eda, values=eda),
        dict(id=3, name="events", type="Markers", srate=0, fmt="string", times=[101.0, 103.25],
             values=["start", "end"]),
    ])
    return ecg, eda


def test_xdf_all_known_types(tmp_path):
    p = tmp_path / "s.xdf"
    ecg, eda = make(p)
    assert detect_format(p) == "xdf"
    r = open_reader(parse_spec(f"client={p}"))
    kinds = {s.kind: s for s in r.streams}
    assert set(kinds) == {StreamKind.ECG, StreamKind.EDA, StreamKind.MARKER}
    assert kinds[StreamKind.ECG].rate == 100 and kinds[StreamKind.MARKER].rate is None
    by = collect(r)
    np.testing.assert_allclose(values(by["ecg"]), ecg * 1000, rtol=1e-6)  # float32 mV -> uV
    np.testing.assert_allclose(times(by["ecg"]), np.arange(500) / 100, atol=1e-6)
    np.testing.assert_allclose(times(by["eda"]), 0.5 + np.arange(20) / 4, atol=1e-6)
    assert list(values(by["marker"])) == ["start", "end"]
    assert r.annotations() == [(pytest.approx(1.0), None, "start"), (pytest.approx(3.25), None, "end")]
    assert max(len(c) for c in by["ecg"]) <= 100


def test_xdf_type_option(tmp_path):
    p = tmp_path / "s.xdf"
    make(p)
    r = open_reader(parse_spec(f"client=xdf:{p}?type=EDA"))
    assert [s.kind for s in r.streams] == [StreamKind.EDA]


def test_xdf_type_absent(tmp_path):
    p = tmp_path / "s.xdf"
    make(p)
    with pytest.raises(InputError) as e:
        open_reader(parse_spec(f"client={p}?type=PPG"))
    assert e.value.field == "type" and "ecg" in str(e.value).lower()


def test_xdf_truncated(tmp_path):
    p = tmp_path / "s.xdf"
    make(p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 3])
    try:
        r = open_reader(parse_spec(f"client={p}"))
    except InputError as e:
        assert str(p) in str(e)
    else:  # pyxdf keeps what it could read; whatever it kept must still be consistent
        collect(r)


def test_xdf_markers_at_the_same_instant_become_one_event(tmp_path):
    p = tmp_path / "m.xdf"
    write_xdf(p, [
        dict(id=1, name="ecg", type="ECG", srate=10, fmt="float32", times=10 + np.arange(30) / 10,
             values=np.zeros(30)),
        dict(id=2, name="ev", type="Markers", srate=0, fmt="string", times=[11.0, 11.0, 12.0],
             values=["a", "b", "c"]),
    ])
    by = collect(open_reader(parse_spec(f"client={p}")))
    assert list(values(by["marker"])) == ["a | b", "c"]
    assert np.all(np.diff(times(by["marker"])) > 0)


def test_xdf_dyad_split_by_stream_name(tmp_path):
    p = tmp_path / "dyad.xdf"
    t = 5 + np.arange(20) / 10
    write_xdf(p, [
        dict(id=1, name="client ECG", type="ECG", srate=10, fmt="float32", times=t, values=np.ones(20)),
        dict(id=2, name="therapist ECG", type="ECG", srate=10, fmt="float32", times=t, values=2 * np.ones(20)),
    ])
    with pytest.raises(InputError, match="two ecg streams"):
        open_reader(parse_spec(f"client={p}"))
    c = open_reader(parse_spec(f"client={p}?name=client"))
    t_ = open_reader(parse_spec(f"therapist={p}?name=therapist"))
    assert values(collect(c)["ecg"])[0] == 1 and values(collect(t_)["ecg"])[0] == 2
