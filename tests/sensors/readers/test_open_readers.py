"""Format detection, open_readers overlap checks, and one test per bad-input kind."""

import numpy as np
import pytest
from readers_testkit import POLAR_RR_HEADER, write_e4, write_polar_ecg

from coregulate.sensors.errors import InputError, MissingInputError
from coregulate.sensors.readers import detect_format, open_reader, open_readers
from coregulate.sensors.spec import parse_spec


def test_detection_by_content_not_extension(tmp_path):
    p = tmp_path / "recording.dat.bak"
    write_polar_ecg(p, n=200)
    assert detect_format(p) == "polar"
    q = tmp_path / "beats.csv"
    q.write_text("800\n810\n")
    assert detect_format(q) == "rr"


def test_spec_format_overrides_detection(tmp_path):
    p = tmp_path / "beats.txt"
    p.write_text("t,rr\n1,800\n")
    r = open_reader(parse_spec(f"client=csv:{p}?time=t:s&rr=rr:ms"))
    assert type(r).__name__ == "CsvReader"


def test_unknown_format(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError) as e:
        open_reader(parse_spec(f"client={p}"))
    assert e.value.field == "format" and "unknown format" in str(e.value) and "FORMAT:" in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(MissingInputError) as e:
        open_reader(parse_spec(f"client={tmp_path / 'nope.csv'}"))
    assert e.value.exit_code == 66


def test_wrong_header_for_forced_format(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("Phone timestamp;temperature [C]\n2024-01-01T00:00:00.000;20\n")
    with pytest.raises(InputError) as e:
        open_reader(parse_spec(f"client=polar:{p}"))
    assert (e.value.line, e.value.field) == (1, "header") and "Phone timestamp;sensor timestamp" in str(e.value)


def test_empty_file_detection(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("")
    with pytest.raises(InputError) as e:
        open_reader(parse_spec(f"client={p}"))
    assert "empty file" in str(e.value) and str(p) in str(e.value)


def test_two_roles_one_each_is_fine(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    write_polar_ecg(a, n=200)
    write_polar_ecg(b, n=200, seed=1)
    rs = open_readers([parse_spec(f"client={a}"), parse_spec(f"therapist={b}")])
    assert [r.streams[0].key for r in rs] == ["client/ecg", "therapist/ecg"]


def test_overlap_same_role_same_kind(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    write_polar_ecg(a, n=200)
    b.write_text("t,ecg\n0,1\n0.01,2\n0.02,3\n0.03,3\n")
    with pytest.raises(InputError) as e:
        open_readers([parse_spec(f"client={a}"), parse_spec(f"client={b}?time=t:s&ecg=ecg:uV")])
    assert "client/ecg comes from two SPECs" in str(e.value) and e.value.field == "SPEC"


def test_overlap_same_file_twice(tmp_path):
    d = tmp_path / "E4"
    write_e4(d)
    with pytest.raises(InputError, match="same file is given twice"):
        open_readers([parse_spec(f"client={d}"), parse_spec(f"therapist={d}/")])


def test_rr_from_polar_and_e4_overlap(tmp_path):
    d = tmp_path / "E4"
    write_e4(d)
    p = tmp_path / "rr.txt"
    p.write_text(f"{POLAR_RR_HEADER}\n2024-01-01T00:00:01.000;800\n")
    with pytest.raises(InputError, match="client/rr"):
        open_readers([parse_spec(f"client={d}"), parse_spec(f"client={p}")])


def test_chunks_are_bounded_for_a_long_file(tmp_path):
    """A 20-minute 130 Hz CSV is streamed in <= 1 s chunks (memory figures: bench/bench_readers.py)."""
    p = tmp_path / "long.csv"
    n = 130 * 1200
    t = np.arange(n) / 130.0
    with open(p, "w") as f:
        f.write("t,ecg\n")
        for a in range(0, n, 50_000):
            f.write("".join(f"{x:.6f},1\n" for x in t[a:a + 50_000]))
    r = open_reader(parse_spec(f"client={p}?time=t:s&ecg=ecg:uV"))
    total = 0
    for c in r.chunks():
        assert len(c) <= 130
        total += len(c)
    assert total == n


def test_one_stereo_file_two_people_by_channel(tmp_path):
    import soundfile as sf

    p = tmp_path / "both.wav"
    sf.write(p, np.zeros((1600, 2)), 16000)
    rs = open_readers([parse_spec(f"client={p}?channel=0"), parse_spec(f"therapist={p}?channel=1")])
    assert [r.streams[0].key for r in rs] == ["client/audio", "therapist/audio"]
    with pytest.raises(InputError, match="same file is given twice"):
        open_readers([parse_spec(f"client={p}?channel=0"), parse_spec(f"therapist={p}?channel=0")])


def test_options_that_do_not_apply_to_the_format(tmp_path):
    p = tmp_path / "values.txt"
    p.write_text("0.12\n0.15\n")  # detected as RR text
    with pytest.raises(InputError) as e:
        open_reader(parse_spec(f"client={p}?rate=100&ecg=x:mV"))
    assert "['ecg', 'rate']" in str(e.value) and "unit" in str(e.value) and "csv:" in str(e.value)
