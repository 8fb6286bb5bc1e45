import sqlite3

import numpy as np
import pytest

from coregulate.models.base import Event
from coregulate.models.config import PipelineConfig
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind
from coregulate.sensors.errors import MissingInputError, OutputError
from coregulate.server.session.recorder import Recorder
from coregulate.server.session.store import SessionStore

ECG = StreamInfo("client", StreamKind.ECG, 130.0, label="strap", utc_start=1.7e9)
RR = StreamInfo("client", StreamKind.RR, label="strap", utc_start=1.7e9)
AUDIO = StreamInfo("client", StreamKind.AUDIO, 16000.0)
ACC = StreamInfo("therapist", StreamKind.ACC, 25.0, channels=("x", "y", "z"))
MARK = StreamInfo("client", StreamKind.MARKER)


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _recorder(tmp_path, **kw):
    return Recorder(tmp_path / "s.sqlite", "s1", [ECG, RR, AUDIO, ACC, MARK], PipelineConfig(baseline=(10, 70)),
                    utc0=1.7e9, participants={"client": "C07", "therapist": "T02"}, **kw)


def test_round_trip_of_chunks_features_events_annotations(tmp_path):
    rec = _recorder(tmp_path)
    ecg = Chunk(ECG, np.arange(130.0), t0=0.0)
    rr = Chunk(RR, np.array([800.0, 812.5]), times=np.array([0.8, 1.6125]), t_end=2.0, gap_before=True)
    acc = Chunk(ACC, np.arange(75.0).reshape(25, 3), t0=0.0)
    mark = Chunk(MARK, np.array(["start", "pictures"], dtype=object), times=np.array([0.5, 1.5]))
    for c in (ecg, rr, acc, mark):
        assert rec.write_chunk(c)
    rec.write_features([{"t_s": 1, "participant": "client", "hr_bpm": 75.0, "zone": "window", "rmssd_ms": float("nan"),
                         "talk_extra": 3}])
    rec.write_dyad([{"t_s": 1, "sync_hr_z": 0.4, "leader": "therapist"}])
    rec.write_events([Event("leave_window", 1.0, 4.0, "client", "rule x", {"arousal": 2.1})])
    ann = rec.add_annotation(1.5, "client looks away", "sup")
    rec.close()

    st = SessionStore(tmp_path / "s.sqlite")
    assert st.status() == "complete" and st.session_id == "s1" and st.utc0 == 1.7e9
    assert st.participants() == {"client": "C07", "therapist": "T02"}
    assert st.config.baseline == (10, 70)
    got = {c.stream.key: c for c in st.chunks()}
    np.testing.assert_array_equal(got["client/ecg"].values, ecg.values)
    np.testing.assert_array_equal(got["client/rr"].times, rr.times)
    assert got["client/rr"].gap_before and got["client/rr"].t_end == 2.0
    assert got["therapist/acc"].values.shape == (25, 3)
    assert list(got["client/marker"].values) == ["start", "pictures"]
    f = st.features()[0]
    assert f["hr_bpm"] == 75.0 and f["rmssd_ms"] is None and f["zone"] == "window" and f["talk_extra"] == 3
    assert st.dyad()[0]["leader"] == "therapist"
    ev = st.events()[0]
    assert ev["kind"] == "leave_window" and ev["evidence"] == {"arousal": 2.1}
    assert st.annotations()[0]["id"] == ann
    assert st.update_annotation(ann, text="looks away, then back")
    assert st.annotations()[0]["text"] == "looks away, then back"
    assert st.delete_annotation(ann) and st.annotations() == []


def test_raw_audio_is_not_stored_without_opt_in(tmp_path):
    rec = _recorder(tmp_path)
    assert not rec.write_chunk(Chunk(AUDIO, np.ones(16000) * 0.1, t0=0.0))
    rec.close()
    con = sqlite3.connect(tmp_path / "s.sqlite")
    n = con.execute("SELECT COUNT(*) FROM chunk JOIN stream ON chunk.stream_id = stream.id WHERE kind='audio'").fetchone()
    assert n == (0,)


def test_raw_audio_is_stored_with_opt_in(tmp_path):
    rec = _recorder(tmp_path, keep_audio=True)
    assert rec.write_chunk(Chunk(AUDIO, np.ones(160) * 0.1, t0=0.0))
    rec.close()
    assert len(list(SessionStore(tmp_path / "s.sqlite").chunks("client/audio"))) == 1


def test_commits_at_least_once_a_second_of_wall_time(tmp_path):
    clock = FakeClock()
    rec = _recorder(tmp_path, clock=clock)
    rec.write_chunk(Chunk(ECG, np.zeros(130), t0=0.0))
    reader = sqlite3.connect(tmp_path / "s.sqlite")
    assert reader.execute("SELECT COUNT(*) FROM chunk").fetchone() == (0,)  # still in the open transaction
    clock.t = 1.01
    rec.write_chunk(Chunk(ECG, np.zeros(130), t0=1.0))
    assert reader.execute("SELECT COUNT(*) FROM chunk").fetchone() == (2,)
    rec.close()


def test_a_dead_writer_is_reported_as_interrupted(tmp_path, monkeypatch):
    rec = _recorder(tmp_path)
    rec.commit()
    import coregulate.server.session.store as mod  # the reader decides staleness

    monkeypatch.setattr(mod, "STALE_AFTER_S", -1.0)
    st = SessionStore(tmp_path / "s.sqlite")
    assert st.status() == "interrupted"
    rec.close()


def test_refuses_to_overwrite_and_reports_missing(tmp_path):
    _recorder(tmp_path).close()
    with pytest.raises(OutputError, match="already exists"):
        _recorder(tmp_path)
    with pytest.raises(MissingInputError):
        SessionStore(tmp_path / "nope.sqlite")


def test_waveform_decimation_keeps_peaks(tmp_path):
    rec = _recorder(tmp_path)
    v = np.zeros(1300)
    v[::130] = 1000.0
    rec.write_chunk(Chunk(ECG, v, t0=0.0))
    rec.close()
    w = SessionStore(tmp_path / "s.sqlite").waveform("client/ecg", 0, 10, max_points=200)
    assert len(w["t"]) <= 200 and max(w["v"]) == 1000.0


def test_a_session_written_before_a_column_existed_reads_it_as_empty(tmp_path):
    rec = _recorder(tmp_path)
    rec.write_features([{"t_s": 1, "participant": "client", "hr_bpm": 75.0, "heart_source": "rr"}])
    rec.close()
    con = sqlite3.connect(tmp_path / "s.sqlite")
    con.execute("ALTER TABLE feature DROP COLUMN heart_source")  # as in a file from an older version
    con.commit()
    con.close()
    f = SessionStore(tmp_path / "s.sqlite").features()[0]
    assert f["hr_bpm"] == 75.0 and "heart_source" in f and f["heart_source"] is None
