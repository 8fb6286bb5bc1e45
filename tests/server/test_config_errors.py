"""One set of rules for the pipeline settings: the command line, the REST API and batch manifests
refuse the same bad value with the same words (those of ``models.config.ConfigError``)."""

from __future__ import annotations

import pytest

from coregulate.models.config import ConfigError, PipelineConfig
from coregulate.server.offline.batch import read_manifest
from coregulate.server.cli.main import main

from server_helpers import SUP, auth


def _config_error(**settings) -> str:
    """The words of the rule a setting breaks (message and what was expected, without the key)."""
    with pytest.raises(ConfigError) as exc:
        PipelineConfig(**settings)
    return f"{exc.value.message} (expected {exc.value.expected})"


def _cli_error(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "Traceback" not in err, err
    return err.strip().splitlines()[-1]


def _api_error(client, **settings) -> str:
    r = client.post("/api/sessions", headers=auth(SUP), json={"source": {"kind": "simulator", "duration_s": 20},
                                                              "start": False, **settings})
    assert r.status_code == 422, r.text
    return r.text


def _manifest_error(tmp_path, baseline: str) -> str:
    man = tmp_path / "m.csv"
    man.write_text(f"session_id,specs,baseline\ns1,sim?duration=360,{baseline}\n")
    (sess,) = read_manifest(man)
    assert sess.error is not None and sess.error.exit_code == 65
    return str(sess.error)


@pytest.mark.parametrize("window", ["5", "601"])
def test_window_out_of_range_same_error_in_cli_api_and_batch(window, client, capsys, tmp_path):
    rule = _config_error(window_s=float(window))
    assert "out of range (expected 10 to 600 s)" in rule
    for command in ("analyze", "batch"):
        first = "sim" if command == "analyze" else str(tmp_path / "m.csv")
        line = _cli_error(capsys, command, first, "--out", str(tmp_path / "o"), "--window", window)
        assert line == f"coregulate {command}: error: argument --window: {rule}"
    assert f"window_s: {rule}" in _api_error(client, window_s=float(window))
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("baseline", ["0-30", "300-200"])
def test_bad_baseline_same_error_in_cli_api_and_batch_manifest(baseline, client, capsys, tmp_path):
    a, b = (float(x) for x in baseline.split("-"))
    rule = _config_error(baseline=(a, b))
    line = _cli_error(capsys, "analyze", "sim", "--out", str(tmp_path / "o"), "--baseline", baseline)
    assert line == f"coregulate analyze: error: argument --baseline: {rule}"
    assert f"baseline: {rule}" in _api_error(client, baseline=[a, b])
    assert _manifest_error(tmp_path, baseline) == f"{tmp_path / 'm.csv'}:2: baseline: {rule}"


@pytest.mark.parametrize("options,needle", [
    ({"tolerence": {"sustain_s": 20}}, "unknown option family 'tolerence'"),
    ({"heart": {"gap": 3}}, "unknown heart option(s) 'gap'"),
    ({"dyad": {"windw_s": 20}}, "unknown dyad option(s) 'windw_s'"),
    ({"voice": {"window_s": "long"}}, "options.voice.window_s: 'long' is not a finite number"),
])
def test_unknown_family_or_key_refused_by_the_api(options, needle, client):
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        PipelineConfig(options=options)
    assert needle in _api_error(client, options=options)
    assert client.get("/api/sessions", headers=auth(SUP)).json() == []  # nothing was created


def test_a_good_request_runs_with_the_config_it_asked_for(client):
    r = client.post("/api/sessions", headers=auth(SUP), json={
        "source": {"kind": "simulator", "duration_s": 20}, "start": False, "window_s": 90, "baseline": [0, 120],
        "options": {"tolerance": {"hyper_enter": 2.5}}})
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["config"]["window_s"] == 90 and d["baseline"] == [0.0, 120.0] and d["tolerance"]["hyper_enter"] == 2.5
