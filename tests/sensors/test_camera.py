"""The live camera source, played from a generated video through the same code path (there is no
camera on the development machines): motion energy per region on the session clock, the same
values as the video reader, and a clear typed error when the device cannot be opened. Trouble
mid-capture (decoding errors, a frame-size change, frames without time, dropped frames) with a
fake device: one warning line and a gap, the capture going on or stopping cleanly."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from coregulate.sensors.camera import CameraSource, parse_camera_spec
from coregulate.sensors.errors import DeviceUnavailableError, InputError
from coregulate.sensors.live import build_live_sources
from coregulate.sensors.readers import open_readers
from coregulate.sensors.spec import parse_spec

sys.path.insert(0, str(Path(__file__).resolve().parent / "readers"))
from video_testkit import write_dyad_video  # noqa: E402


async def _drain(source) -> list:
    return [c async for c in source]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("cam") / "cam.mp4"
    write_dyad_video(path, seconds=6, size=(160, 120), seed=4)
    return path


def test_camera_gives_the_video_readers_motion_energy_on_the_session_clock(clip):
    import av

    clock = iter([100.0])  # asked once: the first frame anchors the device clock
    src = CameraSource("fake", {"client": "0,0,0.5,1", "therapist": "0.5,0,1,1"}, now=lambda: next(clock),
                       opener=lambda: av.open(str(clip)))
    chunks = asyncio.run(_drain(src))
    (reader,) = open_readers([parse_spec(f"video:{clip}")])
    ref = list(reader.chunks())
    for who in ("client", "therapist"):
        live = [c for c in chunks if c.stream.participant == who]
        rec = [c for c in ref if c.stream.participant == who]
        np.testing.assert_array_equal(np.concatenate([c.values for c in live]), np.concatenate([c.values for c in rec]))
        # first frame at session second 100 (when it arrived), then the device's frame times
        np.testing.assert_allclose(np.concatenate([c.sample_times() for c in live]),
                                   100.0 + np.concatenate([c.sample_times() for c in rec]))
    assert src._closed  # the device is released at the end


def test_record_options_build_a_camera_source(clip):
    import av

    (cam,) = build_live_sources(camera="fake?client=0,0,0.4,1&therapist=0.6,0,1,1",
                                camera_opener=lambda: av.open(str(clip)))
    assert [s.participant for s in cam.streams] == ["client", "therapist"]
    assert "0.6,0,1,1" in cam.streams[1].label
    asyncio.run(cam.aclose())


def test_missing_camera_is_device_unavailable_and_bad_regions_are_input_errors():
    with pytest.raises(DeviceUnavailableError, match="cannot be opened"):
        CameraSource("/dev/video-none", now=lambda: 0.0)
    with pytest.raises(InputError):
        parse_camera_spec("?client=0,0,1,1")
    with pytest.raises(InputError):
        parse_camera_spec("/dev/video0?client")
    with pytest.raises(InputError, match="x0,y0,x1,y1"):
        CameraSource("/dev/video-none", {"client": "0,0,2,1"}, now=lambda: 0.0)


# ---------------------------------------------------------------- a fake device

class FakeFrame:
    """A decoded frame as PyAV gives it: a time (or None) and grey levels (a format without a luma plane
    so that the conversion path is used)."""

    format = SimpleNamespace(name="fake")

    def __init__(self, time, grey):
        self.time, self._grey = time, grey

    def to_ndarray(self, format):
        assert format == "gray"
        return self._grey


class FakeCamera:
    """A PyAV input container whose ``decode`` plays a script: frames, and exceptions raised where
    the script says (each ``decode`` call goes on from where the last one stopped, as a demuxer does)."""

    def __init__(self, script, width=8, height=4, rate=10):
        self.script = list(script)
        ctx = SimpleNamespace(width=width, height=height)
        self.streams = SimpleNamespace(video=[SimpleNamespace(codec_context=ctx, average_rate=rate, guessed_rate=rate)])
        self.closed = False

    def decode(self, stream):
        while self.script:
            item = self.script.pop(0)
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self):
        self.closed = True


def _frames(times, width=8, height=4):
    """Frames whose left half flips between black and grey 200 every frame (client share 1) and whose
    right half never changes (therapist share 0)."""
    out = []
    for i, t in enumerate(times):
        g = np.zeros((height, width), np.uint8)
        g[:, : width // 2] = 200 * (i % 2)
        out.append(FakeFrame(t, g))
    return out


def _capture(script, now=lambda: 50.0, **kw):
    fake = FakeCamera(script, **kw)
    src = CameraSource("fake0", now=now, opener=lambda: fake)
    return asyncio.run(_drain(src)), src, fake


def _client(chunks):
    mine = [c for c in chunks if c.stream.participant == "client"]
    return (np.concatenate([c.sample_times() for c in mine]), np.concatenate([c.values for c in mine]),
            [c.gap_before for c in mine])


def test_a_decoding_error_mid_capture_is_one_line_and_a_gap_then_capture_goes_on(caplog):
    import av

    script = [*_frames(np.arange(0, 3, 0.1)), av.error.FFmpegError(5, "Input/output error"),
              *_frames(np.arange(3.5, 6, 0.1))]
    with caplog.at_level(logging.WARNING, logger="coregulate.sensors.camera"):
        chunks, src, fake = _capture(script)
    (line,) = [r.getMessage() for r in caplog.records]
    assert "fake0" in line and "could not be decoded" in line and "Input/output error" in line and "\n" not in line
    t, v, gaps = _client(chunks)
    before, after = t < 53.2, t > 53.2
    assert before.sum() == 29 and after.sum() == 24  # the first frame after the error has no predecessor
    assert t[after][0] == pytest.approx(53.6) and gaps.count(True) == 1
    assert np.all(v == 1.0)
    assert src._closed and fake.closed


def test_a_camera_that_keeps_failing_stops_the_capture_cleanly(caplog):
    import av

    err = av.error.FFmpegError(19, "No such device")
    with caplog.at_level(logging.WARNING, logger="coregulate.sensors.camera"):
        chunks, src, fake = _capture([*_frames(np.arange(0, 2, 0.1)), err, err, err, *_frames([5.0, 5.1])])
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3 and "capture stopped after 3 decoding errors" in lines[-1] and "No such device" in lines[-1]
    t, _, _ = _client(chunks)
    assert len(t) == 19 and t[-1] < 52  # what came before the failure is kept; nothing after it is read
    assert fake.closed and len(fake.script) == 2


def test_a_frame_size_change_restarts_motion_energy_at_the_new_size(caplog):
    small = _frames(np.arange(0, 2, 0.1))
    large = _frames(np.arange(2, 4, 0.1), width=16, height=8)
    with caplog.at_level(logging.WARNING, logger="coregulate.sensors.camera"):
        chunks, _, _ = _capture([*small, *large])
    (line,) = [r.getMessage() for r in caplog.records]
    assert "frame size changed from 8x4 to 16x8" in line
    t, v, gaps = _client(chunks)
    assert len(t) == 19 + 19 and gaps.count(True) == 1 and np.all(v == 1.0)
    therapist = np.concatenate([c.values for c in chunks if c.stream.participant == "therapist"])
    assert np.all(therapist == 0)  # the regions stay relative: the still right half is still the therapist


def test_frames_without_time_or_going_back_take_the_session_clock():
    ticks = iter([10.0, 20.0, 20.1, 20.2, 20.3])
    # three timed frames; two without time ten seconds later; the device clock restarting at 0; a last
    # frame without time whose session-clock stamp is not later than the frame before (dropped)
    script = _frames([0.0, 0.1, 0.2, None, None, 0.0, 0.1, 0.15, None])
    chunks, _, _ = _capture(script, now=lambda: next(ticks))
    mine = [c for c in chunks if c.stream.participant == "client"]
    # anchored at session second 10.0 by the first frame (no value: no predecessor); the frames without
    # time stamped when they came (after a hole: no difference across it, a gap); the restart
    # re-anchored at 20.2 and the device clock kept from there
    assert [(c.t0, len(c.values), c.gap_before) for c in mine] == [(10.1, 2, False), (20.1, 4, True)]
    assert next(ticks, None) is None  # the clock was asked exactly for the frames that needed it


def test_dropped_frames_restart_the_differencing():
    script = _frames([*np.arange(0, 1, 0.1), *np.arange(2, 3, 0.1)])  # one second missing
    chunks, _, _ = _capture(script)
    t, v, gaps = _client(chunks)
    assert len(t) == 9 + 9 and gaps == [False, True]  # no value for the first frame after the hole
    assert not np.any((t > 50.95) & (t < 52.05))
