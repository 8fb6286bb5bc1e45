"""The live camera source, played from a generated video through the same code path (there is no
camera on the development machines): motion energy per region on the session clock, the same
values as the video reader, and a clear typed error when the device cannot be opened."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

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

    clock = iter([100.0])
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
