"""SPEC parsing: ROLE=[FORMAT:]PATH[?key=value&...]."""

import dataclasses

import pytest

from coregulate.sensors.errors import InputError
from coregulate.sensors.spec import KNOWN_FORMATS, parse_spec, unknown_format


def test_plain_path():
    s = parse_spec("client=rec.csv")
    assert (s.role, s.path, s.fmt, dict(s.options)) == ("client", "rec.csv", None, {})


def test_format_and_mapping_options():
    s = parse_spec("client=csv:rec.csv?time=time_ns:ns&ecg=ecg_mV:mV&rr=rr_ms:ms&hr=hr_bpm:bpm")
    assert s.fmt == "csv" and s.path == "rec.csv"
    assert dict(s.options) == {"time": "time_ns:ns", "ecg": "ecg_mV:mV", "rr": "rr_ms:ms", "hr": "hr_bpm:bpm"}


@pytest.mark.parametrize(
    "text, fmt, path, options",
    [
        ("client=rr:beats.txt?unit=s", "rr", "beats.txt", {"unit": "s"}),
        ("therapist=edf:x.edf?ecg=ECG I&eda=GSR", "edf", "x.edf", {"ecg": "ECG I", "eda": "GSR"}),
        ("client=xdf:x.xdf?type=ECG", "xdf", "x.xdf", {"type": "ECG"}),
        ("client=wav:both.wav?channel=0", "wav", "both.wav", {"channel": "0"}),
        ("observer_2=e4:/data/E4 session", "e4", "/data/E4 session", {}),
    ],
)
def test_examples(text, fmt, path, options):
    s = parse_spec(text)
    assert (s.fmt, s.path, dict(s.options)) == (fmt, path, options)


@pytest.mark.parametrize("path", [r"C:\data\rec.csv", "C:/data/rec.csv", "odd:name.csv", "a:b:c.txt"])
def test_colon_paths_without_known_format_stay_paths(path):
    s = parse_spec(f"client={path}")
    assert s.fmt is None and s.path == path


def test_format_prefix_before_windows_path():
    s = parse_spec(r"client=edf:C:\x.edf")
    assert s.fmt == "edf" and s.path == r"C:\x.edf"


def test_spec_is_frozen_and_options_read_only():
    s = parse_spec("client=a.csv?rate=100")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.role = "x"
    with pytest.raises(TypeError):
        s.options["rate"] = "1"


@pytest.mark.parametrize(
    "text, why",
    [
        ("client", "missing '='"),
        ("Client=a.csv", "lowercase"),
        ("1client=a.csv", "lowercase"),
        ("client=", "empty PATH"),
        ("client=csv:", "empty PATH"),
        ("client=a.csv?", "empty option"),
        ("client=a.csv?rate", "key=value"),
        ("client=a.csv?rate=", "empty value"),
        ("client=a.csv?rate=1&rate=2", "twice"),
        ("client=a.csv?Rate=1", "key=value"),
    ],
)
def test_bad_specs_name_the_spec_and_syntax(text, why):
    with pytest.raises(InputError) as e:
        parse_spec(text)
    msg = str(e.value)
    assert repr(text) in msg and why in msg and "ROLE=[FORMAT:]PATH" in msg


def test_an_unknown_format_prefix_is_named_but_drives_and_existing_paths_are_paths(tmp_path, monkeypatch):
    assert unknown_format(parse_spec("client=foo:file.csv")) == "foo"
    assert unknown_format(parse_spec("client=ecg2:x.csv?rate=100")) == "ecg2"
    assert unknown_format(parse_spec("client=csv:file.csv")) is None
    assert unknown_format(parse_spec("client=c:\\data\\x.csv")) is None  # a Windows drive letter
    assert unknown_format(parse_spec("client=file.csv")) is None
    odd = tmp_path / "run1:ecg.csv"  # a path with a colon that exists stays a path
    odd.write_text("t,ecg\n")
    monkeypatch.chdir(tmp_path)
    assert unknown_format(parse_spec("client=run1:ecg.csv")) is None
    assert unknown_format(parse_spec("client=run2:ecg.csv")) == "run2"
    assert "foo" not in KNOWN_FORMATS


def test_open_reader_names_an_unknown_format_too(tmp_path):
    """In a batch manifest (data, exit 65) as on the command line (usage, exit 2)."""
    from coregulate.sensors.readers import open_reader

    with pytest.raises(InputError) as e:
        open_reader(parse_spec("client=foo:file.csv"))
    assert "unknown format 'foo' (known: audio, csv, e4" in str(e.value)
    assert type(e.value) is InputError  # not "no such file" (66)
