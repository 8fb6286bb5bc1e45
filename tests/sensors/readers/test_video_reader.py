"""The video reader alone: detection, one person per file with a region, non-YUV frames, the
dyad form's streams, and the reference it leaves for the session (never frames)."""

from __future__ import annotations

import numpy as np
import pytest

from coregulate.sensors.chunk import StreamKind
from coregulate.sensors.readers import detect_format, open_readers
from coregulate.sensors.spec import parse_spec


def _wipe_video(path, codec="png", pix_fmt="rgb24", frames=10, fps=5):
    """A bar that grows 6 px per frame over a black 64x48 frame: 6/64 of the columns change."""
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = 64, 48, pix_fmt
        for i in range(frames):
            a = np.zeros((48, 64, 3), np.uint8)
            a[:, : i * 6] = 200
            for p in s.encode(av.VideoFrame.from_ndarray(a, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def _values(reader, who):
    chunks = [c for c in reader.chunks() if c.stream.participant == who]
    return np.concatenate([c.values for c in chunks]), np.concatenate([c.sample_times() for c in chunks])


def test_rgb_frames_one_person_per_file_with_a_region(tmp_path):
    p = tmp_path / "wipe.mov"
    _wipe_video(p)
    assert detect_format(p) == "video"  # ISO-BMFF magic bytes
    (whole,) = open_readers([parse_spec(f"client=video:{p}?step=1")])
    v, t = _values(whole, "client")
    np.testing.assert_allclose(v, 6 / 64)  # grey conversion for RGB frames, 9 differences of 10 frames
    np.testing.assert_allclose(t, np.arange(1, 10) / 5)  # each value at its frame's time
    (left,) = open_readers([parse_spec(f"client=video:{p}?step=1&roi=0,0,0.5,1")])
    v, _ = _values(left, "client")
    assert v[0] == pytest.approx(6 / 32) and v[-1] == 0.0  # the bar left the region's half after 5 frames


def test_dyad_form_gives_one_motion_stream_per_role_and_a_reference(tmp_path):
    p = tmp_path / "wipe.mov"
    _wipe_video(p)
    (r,) = open_readers([parse_spec(f"video:{p}?client=0,0,0.5,1&therapist=0.5,0,1,1&offset=2&step=1")])
    assert [(s.participant, s.kind, s.rate) for s in r.streams] == [("client", StreamKind.MOTION, 5.0),
                                                                     ("therapist", StreamKind.MOTION, 5.0)]
    c, tc = _values(r, "client")
    th, _ = _values(r, "therapist")
    assert tc[0] == pytest.approx(2.2)  # offset: the first frame is at session second 2
    assert np.count_nonzero(c) == 6 and np.count_nonzero(th) == 4  # the step at 30-36 px straddles the halves
    ref = r.video_reference
    assert ref["size"] == p.stat().st_size and len(ref["sha256"]) == 64 and ref["offset_s"] == 2.0
    assert set(ref) == {"path", "size", "sha256", "offset_s", "rate", "width", "height", "duration_s", "regions"}


def test_dropped_frames_in_a_file_are_a_gap_with_no_difference_across_it(tmp_path):
    import av

    from fractions import Fraction

    p = tmp_path / "dropped.mov"
    with av.open(str(p), "w") as c:  # 5 fps; frames 10-19 were never written (2 s missing)
        s = c.add_stream("png", rate=5)
        s.width, s.height, s.pix_fmt = 64, 48, "rgb24"
        for i in [*range(10), *range(20, 30)]:
            a = np.zeros((48, 64, 3), np.uint8)
            a[:, : (i % 10) * 6] = 200
            f = av.VideoFrame.from_ndarray(a, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, 5)
            for pkt in s.encode(f):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    (r,) = open_readers([parse_spec(f"client=video:{p}?step=1")])
    chunks = [c for c in r.chunks() if c.stream.participant == "client"]
    t = np.concatenate([c.sample_times() for c in chunks])
    v = np.concatenate([c.values for c in chunks])
    assert [c.t0 for c in chunks if c.gap_before] == [pytest.approx(4.2)]
    # 9 differences before the hole, 9 after it (the frame after the hole has no predecessor)
    assert len(t) == 18 and t[9] == pytest.approx(4.2, abs=0.01)
    np.testing.assert_allclose(v, 6 / 64)  # every value is one frame's growth (across the hole: 54/64)
