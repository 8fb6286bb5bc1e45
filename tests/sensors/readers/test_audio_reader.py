"""WAV/FLAC: 16 kHz float mono, channel choice, streaming resampling equal to resample_poly."""

import numpy as np
import pytest
import soundfile as sf
from readers_testkit import collect, values
from scipy.signal import resample_poly

from coregulate.sensors.chunk import StreamKind
from coregulate.sensors.errors import InputError
from coregulate.sensors.readers import detect_format, open_reader
from coregulate.sensors.readers.audio import StreamingResampler
from coregulate.sensors.spec import parse_spec


def test_flac_16k_exact(tmp_path):
    x = (np.arange(40000) % 200 - 100) / 128.0
    p = tmp_path / "a.flac"
    sf.write(p, x, 16000, subtype="PCM_16")
    assert detect_format(p) == "flac"
    r = open_reader(parse_spec(f"client={p}"))
    assert r.streams[0].kind == StreamKind.AUDIO and r.streams[0].rate == 16000
    c = collect(r)["audio"]
    np.testing.assert_allclose(values(c), x, atol=1 / 32768)
    assert [len(ch) for ch in c] == [16000, 16000, 8000] and [ch.t0 for ch in c] == [0.0, 1.0, 2.0]


def test_stereo_needs_channel_and_picks_it(tmp_path):
    t = np.arange(16000) / 16000
    x = np.column_stack([0.5 * np.sin(2 * np.pi * 200 * t), 0.25 * np.sin(2 * np.pi * 300 * t)])
    p = tmp_path / "both.wav"
    sf.write(p, x, 16000, subtype="FLOAT")
    with pytest.raises(InputError) as e:
        open_reader(parse_spec(f"client={p}"))
    assert e.value.field == "channel" and "channel=N" in str(e.value)
    v = values(collect(open_reader(parse_spec(f"therapist=wav:{p}?channel=1")))["audio"])
    np.testing.assert_allclose(v, x[:, 1], atol=1e-7)
    with pytest.raises(InputError):
        open_reader(parse_spec(f"client={p}?channel=2"))


def test_resampled_22050_equals_one_shot_resample_poly(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.uniform(-0.5, 0.5, 22050 * 3 + 123)
    p = tmp_path / "s.wav"
    sf.write(p, x, 22050, subtype="FLOAT")
    r = open_reader(parse_spec(f"client={p}"))
    assert "resampled from 22050 Hz" in r.streams[0].label
    c = collect(r)["audio"]
    y = values(c)
    ref = resample_poly(x.astype(np.float32).astype(float), 16000, 22050)
    assert len(y) == len(ref)
    np.testing.assert_allclose(y, ref, atol=1e-9)  # block boundaries add nothing
    assert max(len(ch) for ch in c) <= 16100


@pytest.mark.parametrize("block", [1, 97, 4096])
def test_streaming_resampler_is_block_size_invariant(block):
    x = np.random.default_rng(0).standard_normal(5000)
    rs = StreamingResampler(16000, 44100)
    y = np.concatenate([rs.process(x[i:i + block]) for i in range(0, len(x), block)] + [rs.finish(len(x))])
    np.testing.assert_allclose(y, resample_poly(x, 16000, 44100), atol=1e-12)


def test_not_audio(tmp_path):
    p = tmp_path / "x.wav"
    p.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(InputError) as e:
        open_reader(parse_spec(f"client={p}"))
    assert str(p) in str(e.value) and e.value.field == "header"
