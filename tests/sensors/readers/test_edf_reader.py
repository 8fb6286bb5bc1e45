"""EDF+ via pyedflib: channel choice by label or option, units, annotations, 1-s chunks."""

import numpy as np
import pyedflib
import pytest
from readers_testkit import collect, times, values

from coregulate.sensors.chunk import StreamKind
from coregulate.sensors.errors import InputError
from coregulate.sensors.readers import detect_format, open_reader
from coregulate.sensors.spec import parse_spec


def write_edf(path, seconds=5):
    ecg = np.sin(np.arange(256 * seconds) / 20.0) * 2.0  # mV
    gsr = np.linspace(1.0, 3.0, 32 * seconds)  # uS
    resp = np.cos(np.arange(32 * seconds) / 10.0)
    w = pyedflib.EdfWriter(str(path), 3, file_type=pyedflib.FILETYPE_EDFPLUS)
    heads = [
        dict(label="ECG I", dimension="mV", sample_frequency=256, physical_max=5, physical_min=-5,
             digital_max=32767, digital_min=-32768),
        dict(label="GSR", dimension="uS", sample_frequency=32, physical_max=10, physical_min=0,
             digital_max=32767, digital_min=-32768),
        dict(label="Resp chest", dimension="au", sample_frequency=32, physical_max=2, physical_min=-2,
             digital_max=32767, digital_min=-32768),
    ]
    w.setSignalHeaders(heads)
    w.writeSamples([ecg, gsr, resp])
    w.writeAnnotation(1.5, -1, "stimulus on")
    w.writeAnnotation(3.0, 0.5, "pause")
    w.close()
    return ecg, gsr, resp


def test_edf_by_common_labels(tmp_path):
    p = tmp_path / "x.edf"
    ecg, gsr, resp = write_edf(p)
    assert detect_format(p) == "edf"
    r = open_reader(parse_spec(f"client={p}"))
    kinds = {s.kind: s for s in r.streams}
    assert set(kinds) == {StreamKind.ECG, StreamKind.EDA, StreamKind.RESP}
    assert kinds[StreamKind.ECG].rate == 256 and kinds[StreamKind.EDA].rate == 32
    by = collect(r)
    np.testing.assert_allclose(values(by["ecg"]), ecg * 1000, atol=0.2)  # mV -> uV, 16-bit resolution
    np.testing.assert_allclose(values(by["eda"]), gsr, atol=1e-3)
    np.testing.assert_allclose(times(by["ecg"]), np.arange(len(ecg)) / 256)
    assert [len(c) for c in by["ecg"]] == [256] * 5
    ann = r.annotations()
    assert ann[0] == (1.5, None, "stimulus on")
    assert ann[1][0] == 3.0 and ann[1][1] == pytest.approx(3.5) and ann[1][2] == "pause"


def test_edf_channel_options(tmp_path):
    p = tmp_path / "x.edf"
    write_edf(p)
    r = open_reader(parse_spec(f"client=edf:{p}?ecg=ECG I"))
    assert [s.kind for s in r.streams] == [StreamKind.ECG] and "ECG I" in r.streams[0].label


def test_edf_option_naming_absent_channel(tmp_path):
    p = tmp_path / "x.edf"
    write_edf(p)
    with pytest.raises(InputError) as e:
        open_reader(parse_spec(f"client={p}?ecg=EKG II"))
    assert e.value.field == "ecg" and "'ECG I'" in str(e.value)


def test_edf_wrong_header(tmp_path):
    p = tmp_path / "x.edf"
    p.write_bytes(b"0       " + b"garbage" * 100)
    with pytest.raises(InputError) as e:
        open_reader(parse_spec(f"client={p}"))
    assert e.value.field == "header" and str(p) in str(e.value)
