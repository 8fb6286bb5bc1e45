"""Live microphone capture, driven without a sound card: a fake PortAudio stream feeds the real
callback with blocks read from a WAV file written by the test."""

from __future__ import annotations

import asyncio
import threading
import time
import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from coregulate.models.audio_frontend import AudioFrontEnd
from coregulate.models.voice import VoiceEstimator
from coregulate.models.config import PipelineConfig
from coregulate.sensors.chunk import StreamKind
from coregulate.sensors.errors import DeviceUnavailableError, InputError
from coregulate.sensors.microphone import (
    MicChannel, MicrophoneSource, RingBuffer, format_devices, list_audio_devices,
)


class TinyDataConfig(PipelineConfig):
    """A config whose baseline may be shorter than the 60 s users can set: these recordings last seconds."""

    MIN_BASELINE_S = 0.0


RATE = 16000


class _Status:
    def __init__(self, overflow=False, underflow=False):
        self.input_overflow = overflow
        self.input_underflow = underflow

    def __bool__(self):
        return self.input_overflow or self.input_underflow


class FakeStream:
    """Mimics ``sounddevice.InputStream``: calls ``callback(indata, frames, time, status)``."""

    def __init__(self, wav, *, samplerate, blocksize, device, channels, dtype, callback,
                 threaded=False, overflow_blocks=(), manual=False, pending_at_stop=0):
        assert samplerate == RATE and dtype == "float32"
        self.wav, self.block, self.channels, self.callback = wav, blocksize, channels, callback
        self.threaded, self.overflow_blocks, self.manual = threaded, set(overflow_blocks), manual
        self.pending_at_stop = pending_at_stop  # blocks the driver still holds: stop() passes them on
        self.stopped = False
        self.active = False
        self._t = None
        self._blocks = sf.blocks(str(self.wav), blocksize=self.block, dtype="float32", always_2d=True)
        self._i = 0

    def feed(self, n=None):
        """Push blocks through the callback until ``n`` were pushed in all (all when None)."""
        for block in self._blocks:
            i = self._i
            self._i += 1
            data = np.ascontiguousarray(block[:, : self.channels])
            self.callback(data, len(data), None, _Status(overflow=i in self.overflow_blocks))
            if self.threaded:
                time.sleep(0.0005)
            if n is not None and self._i >= n:
                return
        self.active = False

    def start(self):
        self.active = True
        if self.manual:
            return
        if self.threaded:
            self._t = threading.Thread(target=self.feed, daemon=True)
            self._t.start()
        else:
            self.feed()

    def stop(self):
        if self._t is not None:
            self._t.join()
        if self.manual and self.active and not self.stopped and self.pending_at_stop:
            self.feed(self._i + self.pending_at_stop)  # as Pa_StopStream: pending buffers first
        self.stopped, self.active = True, False

    def close(self):
        pass


def _wav(tmp_path, seconds=3.0):
    """Two persons on a stereo file: alternating tone bursts (client 220 Hz, therapist 120 Hz)."""
    t = np.arange(int(seconds * RATE)) / RATE
    client = 0.3 * np.sin(2 * np.pi * 220 * t) * ((t % 2.0) < 1.0)
    therapist = 0.3 * np.sin(2 * np.pi * 120 * t) * ((t % 2.0) >= 1.0)
    rng = np.random.default_rng(1)
    x = np.column_stack([client, therapist]) + 1e-3 * rng.standard_normal((len(t), 2))
    path = tmp_path / "two_mics.wav"
    sf.write(path, x.astype(np.float32), RATE, subtype="FLOAT")
    return path, x.astype(np.float32)


def _factory(wav, **kw):
    return lambda **stream_kw: FakeStream(wav, **stream_kw, **kw)


async def _collect(src):
    got = {}
    async for c in src:
        got.setdefault(c.participant, []).append(c)
    return got


@pytest.mark.parametrize("threaded", [False, True])
async def test_samples_arrive_intact_and_contiguous(tmp_path, threaded):
    wav, x = _wav(tmp_path)
    src = MicrophoneSource({"client": (None, 0), "therapist": (None, 1)}, poll_s=0.001,
                           stream_factory=_factory(wav, threaded=threaded))
    got = await _collect(src)
    for col, who in enumerate(("client", "therapist")):
        chunks = got[who]
        assert all(c.kind is StreamKind.AUDIO and c.stream.rate == RATE for c in chunks)
        y = np.concatenate([c.values for c in chunks])
        np.testing.assert_array_equal(y, x[:, col].astype(np.float64))
        ends = [c.t0 + len(c) / RATE for c in chunks]
        assert all(abs(a.t0 - e) < 1e-9 for a, e in zip(chunks[1:], ends[:-1]))
        assert not any(c.gap_before for c in chunks)
    assert src.quality == {"overflows": 0, "underflows": 0, "dropped_samples": 0}
    assert src.utc0 is not None


def test_ring_overflow_is_counted_and_keeps_time(tmp_path):
    wav, x = _wav(tmp_path)
    streams = []

    def factory(**kw):
        streams.append(FakeStream(wav, **kw, manual=True))
        return streams[-1]

    # a 0.1-s ring and a consumer that falls 30 blocks (0.6 s) behind: blocks are dropped
    src = MicrophoneSource([MicChannel("client", None, 0)], ring_s=0.1, stream_factory=factory)
    src.open()
    streams[0].feed(30)
    chunks = src.poll()
    while streams[0].active:  # then it keeps up
        streams[0].feed(streams[0]._i + 1)
        chunks += src.poll()
    q = src.quality
    assert q["dropped_samples"] > 0
    kept = sum(len(c) for c in chunks)
    assert kept + q["dropped_samples"] == len(x)
    # the hole is flagged and time runs on across it: the samples after it are where they belong
    gaps = [i for i, c in enumerate(chunks) if c.gap_before]
    assert len(gaps) == 1
    after = chunks[gaps[0]]
    prev_end = chunks[gaps[0] - 1].t0 + len(chunks[gaps[0] - 1]) / RATE
    assert after.t0 == pytest.approx(prev_end + q["dropped_samples"] / RATE)
    i0 = int(round(after.t0 * RATE))
    np.testing.assert_array_equal(after.values, x[i0 : i0 + len(after), 0])
    assert chunks[-1].meta["dropped_samples"] == q["dropped_samples"]


async def test_driver_overflow_flag_is_reported(tmp_path):
    wav, _ = _wav(tmp_path, 1.0)
    src = MicrophoneSource([MicChannel("client", None, 0)], poll_s=0.001,
                           stream_factory=_factory(wav, overflow_blocks={3, 7}))
    got = await _collect(src)
    assert src.quality["overflows"] == 2
    assert got["client"][-1].meta["overflows"] == 2
    assert got["client"][0].gap_before  # drained after the flagged blocks: marked


def test_callback_copies_without_allocating():
    ring = RingBuffer(2 * RATE, 2)
    block = np.ones((320, 2), dtype=np.float32)
    ring.write(block)  # warm-up
    tracemalloc.start()
    for _ in range(50):
        ring.write(block)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < block.nbytes  # a copy of the block would be at least its size
    assert ring.written == 51 * 320


def test_no_sound_card_gives_clear_error():
    # this machine has PortAudio but no sound card: the error comes before any session starts
    with pytest.raises(DeviceUnavailableError) as e:
        MicrophoneSource({"client": (None, 0)})
    assert "coregulate devices audio" in str(e.value)
    assert e.value.exit_code == 69


def test_opening_a_failing_device_gives_clear_error():
    def broken(**kw):
        raise RuntimeError("Error querying device -1")  # what PortAudioError says without a card

    src = MicrophoneSource({"client": (None, 0)}, stream_factory=broken)
    with pytest.raises(DeviceUnavailableError, match="cannot open audio input default.*devices audio"):
        src.open()


def test_device_listing_without_devices():
    try:
        devices = list_audio_devices()
    except DeviceUnavailableError:
        return
    assert all(d["max_input_channels"] > 0 for d in devices)
    assert isinstance(format_devices(devices), str)
    assert format_devices([]) == "no audio input devices found"


def test_bad_assignments_rejected():
    with pytest.raises(InputError):
        MicrophoneSource([])
    with pytest.raises(InputError):
        MicrophoneSource([MicChannel("client", 0, 0), MicChannel("client", 0, 1)])
    with pytest.raises(InputError):
        MicrophoneSource([MicChannel("client", 0, -1)])


async def test_live_path_feeds_voice_features(tmp_path):
    """Same code path as live: fake device -> source -> front end -> voice estimator."""
    wav, _ = _wav(tmp_path, 4.0)
    src = MicrophoneSource({"client": (None, 0), "therapist": (None, 1)}, poll_s=0.001,
                           stream_factory=_factory(wav, threaded=True))
    cfg = TinyDataConfig(baseline=(0, 1), options={"voice": {"window_s": 1.0}})
    fe = AudioFrontEnd(src.streams, cfg)
    est = {s.participant: VoiceEstimator(s.participant, fe.prosody_streams, cfg) for s in fe.prosody_streams}
    rows = {p: {} for p in est}
    async for c in src:
        for pc in fe.update(c):
            rows[pc.participant].update(dict(est[pc.participant].update(pc)))
    assert sorted(rows["client"]) == [1, 2, 3, 4]
    # bursts: client speaks in seconds 1 and 3, therapist in 2 and 4
    assert [rows["client"][s]["speaking"] for s in (1, 2, 3, 4)] == [1, 0, 1, 0]
    assert [rows["therapist"][s]["speaking"] for s in (1, 2, 3, 4)] == [0, 1, 0, 1]
    assert abs(rows["client"][3]["f0_st"] - 12 * np.log2(220 / 27.5)) < 0.2


@pytest.mark.parametrize("keep_audio", [False, True])
async def test_recorded_session_holds_audio_only_with_opt_in(tmp_path, keep_audio):
    """Privacy: a session recorded from the microphones without ``--keep-audio`` holds prosody
    features but not one raw audio sample (searched for byte by byte in the session file)."""
    import sqlite3

    from coregulate.server.session.recorder import Recorder
    from coregulate.server.session.runner import SessionRunner

    wav, x = _wav(tmp_path, 3.0)
    src = MicrophoneSource({"client": (None, 0), "therapist": (None, 1)}, poll_s=0.001,
                           stream_factory=_factory(wav))
    path = tmp_path / "session.sqlite"
    cfg = PipelineConfig()
    rec = Recorder(path, "privacy", src.streams, cfg, keep_audio=keep_audio)
    runner = SessionRunner(src, rec, cfg)
    await runner.run()
    rec.close()
    con = sqlite3.connect(path)
    kinds = {k for (k,) in con.execute("SELECT DISTINCT s.kind FROM chunk c JOIN stream s ON s.id = c.stream_id")}
    n_features = con.execute("SELECT COUNT(*) FROM feature WHERE f0_st IS NOT NULL").fetchone()[0]
    con.close()
    assert n_features > 0  # the voice features were recorded either way
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("session.sqlite*"))
    probe = np.ascontiguousarray(x[4000:4016, 0], dtype="<f8").tobytes()
    if keep_audio:
        assert "audio" in kinds and probe in blob
    else:
        assert "audio" not in kinds and probe not in blob


def test_mic_specs_and_single_person_shorthand(tmp_path):
    from coregulate.sensors.microphone import list_devices, parse_mic_spec

    assert list_devices is list_audio_devices
    assert parse_mic_spec("2") == (2, 0)
    assert parse_mic_spec("2:1") == (2, 1)
    assert parse_mic_spec("USB Audio: 3") == ("USB Audio", 3)
    assert parse_mic_spec("hw:1,0") == ("hw:1,0", 0)
    assert parse_mic_spec("default") == (None, 0)
    with pytest.raises(InputError):
        parse_mic_spec(" ")
    src = MicrophoneSource(device="3:1", participant="therapist", stream_factory=_factory(None))
    assert src.channels == [MicChannel("therapist", 3, 1)]
    assert [s.key for s in src.streams] == ["therapist/audio"]


async def test_shared_session_clock_offsets_chunk_times(tmp_path):
    wav, _ = _wav(tmp_path, 1.0)
    src = MicrophoneSource({"client": "default:0"}, now=lambda: 12.5, poll_s=0.001,
                           stream_factory=_factory(wav))
    got = await _collect(src)
    assert got["client"][0].t0 == pytest.approx(12.5)
    assert src.status()["dropped_samples"] == 0


async def test_a_stop_hands_over_every_captured_sample(tmp_path):
    """Ctrl-C in a live session: the blocks already in the rings, and those the driver still
    held when the stop came, are all in the session file; nothing after the stop is."""
    from coregulate.sensors.live import LiveSource
    from coregulate.server.session.recorder import Recorder
    from coregulate.server.session.store import SessionStore
    from coregulate.server.session.runner import SessionRunner

    wav, x = _wav(tmp_path, 3.0)
    streams = []

    def factory(**kw):
        streams.append(FakeStream(wav, **kw, manual=True, pending_at_stop=7))
        return streams[-1]

    # a slow poll: at the stop, most of what was captured still sits in the ring
    mic = MicrophoneSource({"client": (None, 0), "therapist": (None, 1)}, poll_s=0.5, stream_factory=factory)
    source = LiveSource([mic])
    cfg = PipelineConfig()
    path = tmp_path / "s.sqlite"
    rec = Recorder(path, "s", source.streams, cfg, keep_audio=True)
    runner = SessionRunner(source, rec, cfg)
    task = asyncio.create_task(runner.run())
    while not streams:
        await asyncio.sleep(0.001)
    fake = streams[0]
    fake.feed(40)  # 0.8 s captured by the callback
    runner.stop()
    assert await asyncio.wait_for(task, 60) == "stopped"
    assert fake.stopped and fake._i == 47
    n = 47 * fake.block
    with SessionStore(path) as st:
        assert st.status() == "stopped"
        for col, who in enumerate(("client", "therapist")):
            chunks = list(st.chunks(f"{who}/audio"))
            y = np.concatenate([np.zeros(0)] + [c.values for c in chunks])
            np.testing.assert_array_equal(y, x[:n, col].astype(np.float64))
            assert not any(c.gap_before for c in chunks)


async def test_a_microphone_that_never_started_is_not_waited_for():
    src = MicrophoneSource({"client": "default:0"}, stream_factory=lambda **kw: None)
    assert src.request_stop() is False
