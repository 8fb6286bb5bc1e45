"""WFDB records: block reading, channel mapping, multi-frequency records (drivedb)."""

import numpy as np
import pytest
import wfdb
from readers_testkit import collect, times, values

from coregulate.sensors.chunk import StreamKind
from coregulate.sensors.errors import InputError
from coregulate.sensors.readers import detect_format, open_reader
from coregulate.sensors.readers import wfdb_reader
from coregulate.sensors.spec import parse_spec


def write_record(d, fs=250, seconds=25):
    n = fs * seconds
    ecg = np.round(np.sin(np.arange(n) / 7.0), 3)
    gsr = np.round(np.linspace(2, 4, n), 3)
    marker = np.full(n, 10.0)
    marker[5 * fs:5 * fs + 3] = 30.0
    sig = np.column_stack([ecg, gsr, marker])
    wfdb.wrsamp("rec", fs=fs, units=["mV", "uS", "mV"], sig_name=["ECG", "hand GSR", "marker"], p_signal=sig,
                fmt=["16", "16", "16"], adc_gain=[1000, 1000, 100], baseline=[0, 0, 0], write_dir=str(d))
    return ecg, gsr


def test_wfdb_synthetic_blocks_and_marker(tmp_path, monkeypatch):
    ecg, gsr = write_record(tmp_path)
    monkeypatch.setattr(wfdb_reader, "BLOCK_S", 4.0)  # several wfdb reads, cut into 1-s chunks
    assert detect_format(tmp_path / "rec") == "wfdb"
    assert detect_format(tmp_path / "rec.hea") == "wfdb"
    r = open_reader(parse_spec(f"client={tmp_path / 'rec'}"))
    assert [s.kind for s in r.streams] == [StreamKind.ECG, StreamKind.EDA]
    by = collect(r)
    np.testing.assert_allclose(values(by["ecg"]), ecg * 1000, atol=1e-6)
    np.testing.assert_allclose(values(by["eda"]), gsr, atol=1e-6)
    np.testing.assert_allclose(times(by["ecg"]), np.arange(len(ecg)) / 250)
    assert {len(c) for c in by["ecg"]} == {250}
    assert r.annotations() == [(5.0, pytest.approx(5.012), "marker")]


def test_wfdb_missing_header(tmp_path):
    with pytest.raises(InputError) as e:
        open_reader(parse_spec(f"client=wfdb:{tmp_path / 'nope'}"))
    assert e.value.path.endswith("nope.hea")


@pytest.mark.realdata
def test_drivedb_multifrequency(shared_data):
    rec = shared_data / "drivedb" / "drive17a"
    r = open_reader(parse_spec(f"client={rec}"))
    rates = {s.kind: s.rate for s in r.streams}
    assert rates == {StreamKind.ECG: 480.0, StreamKind.EDA: 30.0, StreamKind.RESP: 30.0, StreamKind.HR: 15.0}
    assert "hand GSR" in r.streams[1].label and "mV" in r.streams[1].label
    n = {}
    biggest = 0
    hr = []
    for c in r.chunks():
        n[c.kind] = n.get(c.kind, 0) + len(c)
        biggest = max(biggest, len(c))
        if c.kind == StreamKind.HR:
            hr.append(float(np.mean(c.values)))
    # README: 26132 frames of 15 Hz = 1742.1 s; ECG 32 samples per frame
    assert n[StreamKind.ECG] == 26132 * 32 and n[StreamKind.HR] == 26132
    assert biggest == 480  # one second of ECG per chunk, never the record
    # README: initial rest (24-957 s) mean HR 71.3 bpm
    assert np.mean(hr[24:957]) == pytest.approx(71.3, abs=0.5)
    onsets = [a[0] for a in r.annotations()]
    assert len(onsets) == 2 and onsets[0] == pytest.approx(24.1, abs=1.0) and onsets[1] == pytest.approx(956.6, abs=1.0)


@pytest.mark.realdata
def test_drivedb_foot_gsr_option(shared_data):
    r = open_reader(parse_spec(f"client=wfdb:{shared_data / 'drivedb' / 'drive17b'}?eda=foot"))
    eda = [s for s in r.streams if s.kind == StreamKind.EDA][0]
    assert "foot GSR" in eda.label and eda.rate == pytest.approx(31.0)
