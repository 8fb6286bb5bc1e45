"""Frame-wise motion-energy files (rMEA/MEA layout): detection, column choice, gaps, bad rows."""

from __future__ import annotations

import numpy as np
import pytest

from coregulate.sensors.chunk import StreamKind
from coregulate.sensors.errors import InputError
from coregulate.sensors.readers import detect_format, open_readers
from coregulate.sensors.spec import parse_spec


def _write(tmp_path, rows, header='"pat" "th"', name="200_01.txt"):
    p = tmp_path / name
    p.write_text((header + "\n" if header else "") + "\n".join(" ".join(str(v) for v in r) for r in rows) + "\n")
    return p


def _values(reader):
    chunks = list(reader.chunks())
    return chunks, np.concatenate([c.values for c in chunks]), np.concatenate([c.sample_times() for c in chunks])


def test_rmea_layout_is_detected_and_each_person_gets_a_column(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 5000, size=(250, 2))
    p = _write(tmp_path, data)
    assert detect_format(p) == "mea"
    client, therapist = open_readers([parse_spec(f"client={p}?column=pat"), parse_spec(f"therapist={p}?column=2")])
    assert client.streams[0].kind is StreamKind.MOTION and client.streams[0].rate == 25.0
    assert client.streams[0].participant == "client" and therapist.streams[0].participant == "therapist"
    _, cv, ct = _values(client)
    _, tv, _ = _values(therapist)
    np.testing.assert_array_equal(cv, data[:, 0])
    np.testing.assert_array_equal(tv, data[:, 1])
    np.testing.assert_allclose(ct, np.arange(250) / 25.0)


def test_rate_option_sets_the_frame_clock(tmp_path):
    p = _write(tmp_path, [[1, 2]] * 60)
    (r,) = open_readers([parse_spec(f"client=mea:{p}?column=th&rate=30")])
    _, v, t = _values(r)
    assert t[-1] == pytest.approx(59 / 30) and set(v) == {2.0}


def test_missing_frames_are_a_gap_never_filled(tmp_path):
    rows = [[i, 1] for i in range(50)] + [["NA", 1]] * 10 + [[i, 1] for i in range(50)]
    p = _write(tmp_path, rows)
    (r,) = open_readers([parse_spec(f"client=mea:{p}?column=pat")])
    chunks, v, t = _values(r)
    assert len(v) == 100  # the 10 NA frames are absent, not zeros
    after = [c for c in chunks if c.gap_before]
    assert len(after) == 1 and after[0].t0 == pytest.approx(60 / 25)


@pytest.mark.parametrize("spec, needle", [
    ("client=mea:{p}", "which is this person's"),
    ("client=mea:{p}?column=nobody", "no column 'nobody'"),
    ("client=mea:{p}?column=3", "no column '3'"),
    ("client=mea:{p}?column=pat&fps=25", "do not apply"),
])
def test_column_choice_errors_name_the_columns(tmp_path, spec, needle):
    p = _write(tmp_path, [[1, 2]] * 10)
    with pytest.raises(InputError) as e:
        open_readers([parse_spec(spec.format(p=p))])
    assert needle in str(e.value) and str(p) in str(e.value)


def test_bad_rows_name_file_line_and_field(tmp_path):
    p = _write(tmp_path, [[1, 2]] * 5 + [[1, "x"]] + [[1, 2]])
    (r,) = open_readers([parse_spec(f"client=mea:{p}?column=th")])
    with pytest.raises(InputError) as e:
        list(r.chunks())
    assert e.value.line == 7 and "column 2" in str(e.value)
    p2 = _write(tmp_path, [[1, 2]] * 5 + [[1]], name="short.txt")
    (r2,) = open_readers([parse_spec(f"client=mea:{p2}?column=pat")])
    with pytest.raises(InputError) as e:
        list(r2.chunks())
    assert e.value.line == 7 and "2 values per row" in str(e.value)
    p3 = _write(tmp_path, [[1, -3]], name="neg.txt")
    (r3,) = open_readers([parse_spec(f"client=mea:{p3}?column=th")])
    with pytest.raises(InputError, match="negative motion energy"):
        list(r3.chunks())


def test_a_headerless_single_column_needs_no_option(tmp_path):
    p = _write(tmp_path, [[3]] * 30, header=None, name="me.txt")
    (r,) = open_readers([parse_spec(f"client=mea:{p}")])
    _, v, _ = _values(r)
    assert len(v) == 30
    assert detect_format(p) == "rr"  # bare numbers without the quoted header stay RR text


def test_one_spec_names_both_people(tmp_path):
    rng = np.random.default_rng(2)
    data = rng.integers(0, 900, size=(100, 2))
    p = _write(tmp_path, data)
    (r,) = open_readers([parse_spec(f"mea:{p}")])
    assert [s.participant for s in r.streams] == ["client", "therapist"]  # rMEA order: patient, therapist
    chunks = list(r.chunks())
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    for who, col in (("client", 0), ("therapist", 1)):
        np.testing.assert_array_equal(np.concatenate([c.values for c in chunks if c.stream.participant == who]),
                                      data[:, col])
    (swapped,) = open_readers([parse_spec(f"mea:{p}?client=th&therapist=1")])
    first = {c.stream.participant: c.values[0] for c in swapped.chunks() if c.start == 0}
    assert first == {"client": data[0, 1], "therapist": data[0, 0]}
    with pytest.raises(InputError, match="column= is for one person"):
        open_readers([parse_spec(f"mea:{p}?column=pat")])
    with pytest.raises(InputError, match="no column 'x'"):
        open_readers([parse_spec(f"mea:{p}?client=x")])
