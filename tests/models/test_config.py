"""PipelineConfig checks itself: one set of rules, one error type naming the key and what is allowed."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import fields, replace

import pytest

from coregulate.models.config import (
    OPTION_FAMILIES, ConfigError, PipelineConfig, _family_classes, check_baseline, family_options,
)
from coregulate.models.tolerance import ToleranceOptions
from coregulate.sensors.errors import InputError


def test_defaults_and_boundaries_are_accepted():
    assert PipelineConfig().baseline_segment == (0.0, 300.0)
    assert PipelineConfig(window_s=10).window_s == 10 and PipelineConfig(window_s=600.0).window_s == 600.0
    assert PipelineConfig(baseline=[30, 90]).baseline == (30, 90)  # a JSON list becomes the tuple
    assert PipelineConfig(baseline=(0.0, math.inf)).baseline_segment == (0.0, math.inf)  # the whole recording


@pytest.mark.parametrize("window", [9.9, 600.5, -60, math.nan, "60", True, None])
def test_window_out_of_range_names_the_key_and_the_range(window):
    with pytest.raises(ConfigError) as exc:
        PipelineConfig(window_s=window)
    assert exc.value.field == "window_s" and exc.value.expected == "10 to 600 s"
    assert str(exc.value).startswith("window_s: ") and "out of range (expected 10 to 600 s)" in str(exc.value)


@pytest.mark.parametrize("baseline,needle", [
    ((0, 59.9), "shorter than 60 s"), ((100, 50), "empty or negative"), ((-10, 100), "empty or negative"),
    ((0, math.nan), "empty or negative"), ((0,), "not a pair of numbers"), (("0", "300"), "not a pair of numbers"),
])
def test_bad_baselines_are_refused(baseline, needle):
    with pytest.raises(ConfigError, match=needle) as exc:
        PipelineConfig(baseline=baseline)
    assert exc.value.field == "baseline" and "at least 60 s long" in exc.value.expected


def test_default_baseline_follows_the_same_minimum():
    with pytest.raises(ConfigError, match="default_baseline_s"):
        PipelineConfig(default_baseline_s=30)
    with pytest.raises(ConfigError, match="default_baseline_s"):
        PipelineConfig(default_baseline_s=math.inf)


def test_config_error_is_both_an_input_error_and_a_value_error():
    # InputError: the CLI reports it as one line; ValueError: pydantic answers 422 with its text
    assert issubclass(ConfigError, InputError) and issubclass(ConfigError, ValueError)


def test_unknown_family_is_refused_with_the_known_ones():
    with pytest.raises(ConfigError) as exc:
        PipelineConfig(options={"tolerence": {"sustain_s": 20}})
    assert "'tolerence'" in str(exc.value) and exc.value.field == "options"
    assert exc.value.expected == "one of " + ", ".join(sorted(OPTION_FAMILIES))


@pytest.mark.parametrize("family", sorted(OPTION_FAMILIES))
def test_unknown_key_is_refused_in_every_family(family):
    keys = sorted({f.name for cls in _family_classes(family) for f in fields(cls)})
    with pytest.raises(ConfigError) as exc:
        PipelineConfig(options={family: {"no_such_key": 1}})
    assert f"unknown {family} option(s) 'no_such_key'" in str(exc.value)
    assert exc.value.field == f"options.{family}" and exc.value.expected == "some of " + ", ".join(keys)


def test_voice_family_takes_the_keys_of_both_its_readers():
    from coregulate.models.voice_options import FrontEndOptions, VoiceOptions

    cfg = PipelineConfig(options={"voice": {"calibration_s": 60.0, "window_s": 2.0}})
    assert family_options(cfg, "voice", FrontEndOptions).calibration_s == 60.0
    assert family_options(cfg, "voice", VoiceOptions).window_s == 2.0


@pytest.mark.parametrize("options,needle", [
    ({"dyad": {"window_s": 2.5}}, "options.dyad.window_s: 2.5 is not a whole number"),
    ({"tolerance": {"sustain_s": "20"}}, "options.tolerance.sustain_s: '20' is not a finite number"),
    ({"dyad": {"detrend": 1}}, "options.dyad.detrend: 1 is not true or false"),
    ({"dyad": {"event_signals": "hr"}}, "options.dyad.event_signals: 'hr' is not a list"),
    ({"heart": {"beat_sources": ["ecg", "hr"]}}, "options.heart.beat_sources"),
    ({"heart": []}, "options.heart: [] is not a mapping"),
])
def test_values_of_the_wrong_type_are_refused(options, needle):
    with pytest.raises(ConfigError) as exc:
        PipelineConfig(options=options)
    assert needle in str(exc.value)


def test_whole_numbers_stand_for_numbers_and_lists_for_tuples():
    cfg = PipelineConfig(options={"tolerance": {"sustain_s": 20}, "dyad": {"event_signals": ["hr"]}})
    assert family_options(cfg, "tolerance", ToleranceOptions).sustain_s == 20
    from coregulate.models.dyad import DyadParams

    assert DyadParams.from_config(cfg).event_signals == ("hr",)


def test_options_changed_after_the_check_are_still_refused_by_the_estimators():
    cfg = PipelineConfig()
    cfg.options["tolerance"] = {"sustian_s": 20}  # nothing checks a plain dict assignment...
    with pytest.raises(ConfigError, match="sustian_s"):  # ...but the one way an estimator reads it does
        ToleranceOptions.from_config(cfg)


def test_json_round_trip_checks_and_recorded_configs_stay_readable():
    cfg = PipelineConfig(window_s=90.0, baseline=(0.0, 120.0), options={"tolerance": {"sustain_s": 20}})
    assert PipelineConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ConfigError, match="'extra'"):
        PipelineConfig.from_json('{"window_s": 60, "extra": 1}')
    # a session recorded under other rules (an older version's 5-s window) is read as it was
    old = '{"window_s": 5.0, "baseline": [0, 30], "options": {"tolerence": {}}}'
    with pytest.raises(ConfigError):
        PipelineConfig.from_json(old)
    rec = PipelineConfig.as_recorded(old)
    assert (rec.window_s, rec.baseline, rec.default_baseline_s, rec.baseline_reference) == (5.0, (0, 30), 300.0, None)
    assert replace(PipelineConfig(), window_s=30).window_s == 30  # replace() checks again
    with pytest.raises(ConfigError):
        replace(PipelineConfig(), window_s=3)


def test_check_baseline_takes_a_smaller_minimum_for_tiny_recordings():
    assert check_baseline((0, 4), min_s=0) == (0.0, 4.0)
    assert check_baseline(None) is None


def test_voice_and_audio_front_end_do_not_import_each_other():
    """The voice family's options live in one module, so neither reader imports the other."""
    common = "import sys; from coregulate.models.config import PipelineConfig as P; from coregulate.sensors.chunk import StreamInfo as S, StreamKind as K; "
    voice = ("from coregulate.models.voice import VoiceEstimator; "
             "VoiceEstimator('client', [S('client', K.PROSODY)], P(options={'voice': {'hangover_s': 0.3}})); "
             "assert 'coregulate.models.audio_frontend' not in sys.modules")
    front = ("from coregulate.models.audio_frontend import AudioFrontEnd; "
             "AudioFrontEnd([S('client', K.AUDIO, 16000.0)], P(options={'voice': {'window_s': 2.0}})); "
             "assert 'coregulate.models.voice' not in sys.modules")
    for code in (voice, front):
        subprocess.run([sys.executable, "-c", common + code], check=True)
