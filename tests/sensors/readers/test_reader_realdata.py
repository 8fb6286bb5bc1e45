"""Real recordings (../shared/data): figures checked against each folder's README.txt."""

import numpy as np
import pytest
import soundfile as sf

from coregulate.sensors.chunk import StreamKind
from coregulate.sensors.readers import open_reader
from coregulate.sensors.spec import parse_spec

pytestmark = pytest.mark.realdata


def summary(reader):
    n, last_t, biggest, gaps = {}, {}, 0, 0
    for c in reader.chunks():
        n[c.kind] = n.get(c.kind, 0) + len(c)
        last_t[c.kind] = c.t_end
        biggest = max(biggest, len(c))
        gaps += c.gap_before
    return n, last_t, biggest, gaps


def test_polar_h10_csv_mapping(shared_data):
    f = shared_data / "polar_h10_ecg" / "polar_h10_ecg_130hz.csv"
    r = open_reader(parse_spec(f"client=csv:{f}?time=time_ns:ns&ecg=ecg_mV:mV&rr=rr_ms:ms&hr=hr_bpm:bpm"))
    ecg = r.streams[0]
    # README: 78096 rows, 599.99 s, 130.16 Hz, start 2024-05-05 14:50:00 UTC, hr on 600 rows, rr on 798
    assert ecg.rate == pytest.approx(130.16, abs=0.01)
    assert ecg.utc_start == pytest.approx(1714920600.0, abs=0.01)
    n, last_t, biggest, gaps = summary(r)
    assert n == {StreamKind.ECG: 78096, StreamKind.RR: 798, StreamKind.HR: 600}
    assert last_t[StreamKind.ECG] == pytest.approx(599.99, abs=0.02)
    assert biggest <= 131 and gaps == 0  # README: no gaps > 0.1 s


def test_polar_h10_rr_values(shared_data):
    f = shared_data / "polar_h10_ecg" / "polar_h10_ecg_130hz.csv"
    r = open_reader(parse_spec(f"client={f}?time=time_ns:ns&rr=rr_ms:ms"))
    rr = np.concatenate([c.values for c in r.chunks()])
    assert np.median(rr) == pytest.approx(750, abs=15)  # README: median 750 ms


@pytest.mark.parametrize(
    "name, cols, rows",
    [
        ("bio_resting_5min_100hz.csv", "ecg=ECG:mV&ppg=PPG&resp=RSP", 30000),
        ("bio_resting_8min_100hz.csv", "ecg=ECG:mV&resp=RSP&eda=EDA:uS", 50682),
        ("bio_eventrelated_100hz.csv", "ecg=ECG:mV&eda=EDA:uS&resp=RSP", 15000),
    ],
)
def test_neurokit_fixed_rate(shared_data, name, cols, rows):
    r = open_reader(parse_spec(f"client={shared_data / 'neurokit_bio' / name}?rate=100&{cols}"))
    n, last_t, biggest, gaps = summary(r)
    assert set(n.values()) == {rows} and len(n) == 3
    assert last_t[StreamKind.ECG] == pytest.approx(rows / 100)
    assert biggest == 100 and gaps == 0


def test_neurokit_ecg_1000hz(shared_data):
    r = open_reader(parse_spec(f"client={shared_data / 'neurokit_bio' / 'ecg_1000hz.csv'}?rate=1000&ecg=ECG:mV"))
    n, last_t, biggest, _ = summary(r)
    assert n[StreamKind.ECG] == 50000 and last_t[StreamKind.ECG] == pytest.approx(50.0) and biggest == 1000


def test_emodb_wav_resampled(shared_data):
    files = sorted((shared_data / "emodb_speech" / "wav").glob("*.wav"))[:5]
    assert files
    for f in files:
        assert sf.info(f).samplerate == 22050
        r = open_reader(parse_spec(f"client={f}"))
        n, last_t, biggest, _ = summary(r)
        assert n[StreamKind.AUDIO] == 32000  # README: every clip exactly 2.000 s -> 32000 samples at 16 kHz
        assert last_t[StreamKind.AUDIO] == pytest.approx(2.0) and biggest <= 16000
        y = np.concatenate([c.values for c in open_reader(parse_spec(f"client={f}")).chunks()])
        assert np.max(np.abs(y)) == pytest.approx(1.0, abs=0.1)  # README: peak-normalised to full scale
