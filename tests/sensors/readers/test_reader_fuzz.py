"""Fuzzing the text readers: any input gives parsed chunks or an InputError, never another
exception, a hang or inconsistent chunks."""

import math
import os
import tempfile

import numpy as np
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from readers_testkit import (
    POLAR_ACC_HEADER,
    POLAR_ECG_HEADER,
    POLAR_HR_HEADER,
    POLAR_RR_HEADER,
    phone_time,
    write_e4,
)

from coregulate.sensors.chunk import StreamKind
from coregulate.sensors.errors import InputError
from coregulate.sensors.readers import open_reader
from coregulate.sensors.spec import parse_spec

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
T = 1_700_000_000.0


def valid_texts():
    """One small valid file per text format, with the SPEC suffix that reads it."""
    ecg = [POLAR_ECG_HEADER] + [
        f"{phone_time(T + (i // 10) * 0.077 + 0.1)};{10**12 + i * 7_692_308};{i};{(i * 37) % 400 - 200}"
        for i in range(60)
    ]
    acc = [POLAR_ACC_HEADER] + [f"{phone_time(T + i * 0.01 + 0.05)};{10**12 + i * 10**7};{i};{-i};1000"
                                for i in range(40)]
    rr = [POLAR_RR_HEADER] + [f"{phone_time(T + i)};{800 + i}" for i in range(20)]
    hr = [POLAR_HR_HEADER] + [f"{phone_time(T + i)};{60 + i};;;" for i in range(10)]
    rrtxt = [str(800 + i) for i in range(20)]
    hrvl = ["date,rr,since start"] + [f"2024-05-05 10:00:{i:02d}.000,800,{(i + 1) * 800}" for i in range(20)]
    csv = ["time_ns,ecg_mV,hr_bpm,rr_ms"] + [
        f"{1714920600006020096 + i * 7_682_800},{i / 100:.3f},{'61' if i % 13 == 0 else ''},{'750' if i % 7 == 3 else ''}"
        for i in range(60)
    ]
    return {
        "polar_ecg": ("polar", "\n".join(ecg) + "\n", ""),
        "polar_acc": ("polar", "\n".join(acc) + "\n", ""),
        "polar_rr": ("polar", "\n".join(rr) + "\n", ""),
        "polar_hr": ("polar", "\n".join(hr) + "\n", ""),
        "rr": ("rr", "\n".join(rrtxt) + "\n", ""),
        "hrvlogger": ("hrvlogger", "\n".join(hrvl) + "\n", ""),
        "csv": ("csv", "\n".join(csv) + "\n", "?time=time_ns:ns&ecg=ecg_mV:mV&rr=rr_ms:ms&hr=hr_bpm:bpm"),
        "csv_rate": ("csv", "ECG,RSP\n" + "\n".join(f"{i / 1000},{i}" for i in range(60)) + "\n",
                     "?rate=100&ecg=ECG:mV&resp=RSP"),
        "mea": ("mea", '"pat" "th"\n' + "\n".join(f"{(i * 37) % 900} {(i * 53) % 700}" for i in range(75)) + "\n",
                "?column=pat"),
    }


VALID = valid_texts()
NAMES = sorted(VALID)


def check_reader_outcome(path, fmt, suffix, autodetect=False, record=True):
    """Open and drain a reader: return the number of samples, or -1 for an InputError."""
    spec = parse_spec(f"client={path}{suffix}" if autodetect else f"client={fmt}:{path}{suffix}")
    try:
        r = open_reader(spec)
        total = 0
        last = -math.inf
        for c in r.chunks():
            assert c.start >= last - 1e-9
            last = c.start
            if c.kind != StreamKind.MARKER:
                assert np.isfinite(np.asarray(c.values, dtype=float)).all()
            st_ = c.sample_times()
            assert np.isfinite(st_).all() and (np.diff(st_) > 0).all()
            assert c.t_end >= st_[-1] if len(st_) else True
            total += len(c)
        r.annotations()
        if record:
            event("parsed")
        return total
    except InputError as e:
        assert str(e)  # the message renders (path/line/field)
        if record:
            event("InputError")
        return -1


def write(data: bytes, name="f.txt"):
    d = tempfile.mkdtemp(prefix="crfuzz")
    p = os.path.join(d, name)
    with open(p, "wb") as f:
        f.write(data)
    return p


@FUZZ
@given(name=st.sampled_from(NAMES), data=st.binary(max_size=600))
def test_arbitrary_bytes(name, data):
    fmt, _, suffix = VALID[name]
    check_reader_outcome(write(data), fmt, suffix)


@FUZZ
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_autodetected(data):
    check_reader_outcome(write(data), None, "", autodetect=True)


@FUZZ
@given(name=st.sampled_from(NAMES), body=st.text(alphabet="0123456789.-e;,: T\n", max_size=400))
def test_valid_header_then_random_rows(name, body):
    fmt, text, suffix = VALID[name]
    header = "" if name == "rr" else text.splitlines()[0] + "\n"
    check_reader_outcome(write((header + body).encode()), fmt, suffix)


MUTATIONS = ["", ";", ",", "\n", "-", "nan", "inf", "-inf", "1e308", "1e400", "9" * 40, "9" * 400, "\x00", "é", " ", '"']


@st.composite
def mutated(draw):
    name = draw(st.sampled_from(NAMES))
    fmt, text, suffix = VALID[name]
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["replace", "insert", "delete_line", "dup_line", "swap", "truncate"]))
        i = draw(st.integers(0, len(lines) - 1)) if lines else 0
        if not lines:
            break
        if op in ("replace", "insert"):
            line = lines[i]
            j = draw(st.integers(0, len(line)))
            k = j + (draw(st.integers(0, 6)) if op == "replace" else 0)
            lines[i] = line[:j] + draw(st.sampled_from(MUTATIONS)) + line[k:]
        elif op == "delete_line":
            del lines[i]
        elif op == "dup_line":  # duplicated timestamps
            lines.insert(i, lines[i])
        elif op == "swap" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif op == "truncate":
            cut = "\n".join(lines)
            lines = cut[: draw(st.integers(0, len(cut)))].split("\n")
    return name, fmt, "\n".join(lines), suffix


@FUZZ
@given(case=mutated())
def test_mutated_valid_files(case):
    name, fmt, text, suffix = case
    check_reader_outcome(write(text.encode("utf-8", "surrogatepass")), fmt, suffix)


@FUZZ
@given(name=st.sampled_from(NAMES),
       value=st.sampled_from(["nan", "NaN", "inf", "-inf", "1e308", "-1e308", "1e400", "0", "-0", "1e-320"]),
       row=st.integers(1, 15), col=st.integers(0, 4))
def test_special_numbers_in_any_field(name, value, row, col):
    fmt, text, suffix = VALID[name]
    lines = text.splitlines()
    sep = ";" if name.startswith("polar") else ","
    row = 1 + (row - 1) % (len(lines) - 1)
    cells = lines[row].split(sep)
    cells[col % len(cells)] = value
    lines[row] = sep.join(cells)
    check_reader_outcome(write("\n".join(lines).encode()), fmt, suffix)


def test_valid_fixtures_parse():
    """The seeds of the fuzzers are valid (so the mutations start from real files)."""
    for name, (fmt, text, suffix) in VALID.items():
        assert check_reader_outcome(write(text.encode()), fmt, suffix, record=False) > 0, name


@FUZZ
@given(file=st.sampled_from(["BVP.csv", "EDA.csv", "ACC.csv", "IBI.csv", "tags.csv", "HR.csv"]),
       data=st.binary(max_size=300))
def test_e4_folder_with_one_file_garbled(file, data):
    d = tempfile.mkdtemp(prefix="crfuzz_e4")
    write_e4(__import__("pathlib").Path(d), seconds=2)
    with open(os.path.join(d, file), "wb") as f:
        f.write(data)
    check_reader_outcome(d, "e4", "")


MAGIC = {"edf": b"0       ", "xdf": b"XDF:", "wav": b"RIFF\x24\x00\x00\x00WAVEfmt ", "flac": b"fLaC"}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(sorted(MAGIC)), data=st.binary(max_size=400))
def test_binary_formats_with_valid_magic_and_garbage(fmt, data):
    check_reader_outcome(write(MAGIC[fmt] + data, "f." + fmt), fmt, "")


def _valid_binaries():
    import pyedflib
    import soundfile as sf
    from readers_testkit import write_xdf

    d = tempfile.mkdtemp(prefix="crfuzz_bin")
    out = {}
    x = np.sin(np.arange(8000) / 9.0) * 0.5
    for fmt in ("wav", "flac"):
        p = os.path.join(d, f"a.{fmt}")
        sf.write(p, x, 22050 if fmt == "wav" else 16000, subtype="PCM_16")
        out[fmt] = open(p, "rb").read()
    p = os.path.join(d, "a.edf")
    w = pyedflib.EdfWriter(p, 1, file_type=pyedflib.FILETYPE_EDFPLUS)
    w.setSignalHeaders([dict(label="ECG", dimension="uV", sample_frequency=100, physical_max=1000,
                             physical_min=-1000, digital_max=32767, digital_min=-32768)])
    w.writeSamples([x[:300] * 1000])
    w.writeAnnotation(0.5, -1, "x")
    w.close()
    out["edf"] = open(p, "rb").read()
    p = os.path.join(d, "a.xdf")
    write_xdf(__import__("pathlib").Path(p), [
        dict(id=1, name="e", type="ECG", srate=50, fmt="float32", times=1 + np.arange(60) / 50, values=x[:60]),
        dict(id=2, name="m", type="Markers", srate=0, fmt="string", times=[1.5], values=["go"]),
    ])
    out["xdf"] = open(p, "rb").read()
    out["video"] = _tiny_video(os.path.join(d, "a.mp4"))
    return out


def _tiny_video(path) -> bytes:
    """12 frames of 32x24 H.264 with a moving bar (a few kB)."""
    import av

    with av.open(path, "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 32, 24, "yuv420p"
        s.options = {"preset": "ultrafast"}
        for k in range(12):
            g = np.full((24, 32), 40, np.uint8)
            g[:, (2 * k) % 32: (2 * k) % 32 + 6] = 220
            for pkt in s.encode(av.VideoFrame.from_ndarray(g, format="gray")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return open(path, "rb").read()


BINARIES = _valid_binaries()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(sorted(BINARIES)), cut=st.floats(0, 1), flips=st.lists(
    st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=4))
@example(fmt="video", cut=0.75, flips=[])  # a stream header with no codec context (was an AttributeError)
@example(fmt="video", cut=1.0, flips=[(0.99362, 0x80)])  # not UTF-8 in the muxer's tag (was a UnicodeDecodeError)
def test_truncated_or_bitflipped_binary_files(fmt, cut, flips):
    data = bytearray(BINARIES[fmt])
    for pos, byte in flips:
        data[int(pos * (len(data) - 1))] = byte
    data = bytes(data[: max(1, int(cut * len(data)))]) if cut < 1 else bytes(data)
    check_reader_outcome(write(data, "f." + fmt), fmt, "")
