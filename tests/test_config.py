"""The config loader: defaults, and one exact `FILE:LINE key.path: problem`
line for each kind of mistake."""

from __future__ import annotations

import pytest

from edge.config import DEFAULT_MODELS_DIR, Config, VideoCodec, load_config
from edge.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "dmask.yaml"
    path.write_text(text)
    return path


def error_of(path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_none_and_empty_file_are_all_defaults(tmp_path):
    assert load_config(None) == Config()
    assert load_config(write(tmp_path, "")) == Config()
    assert load_config(write(tmp_path, "# nothing set\ntracking:\n")) == Config()


def test_defaults():
    config = Config()
    assert config.inference.providers == ("CPUExecutionProvider",)
    assert config.inference.threads == 1
    assert config.inference.models_path == DEFAULT_MODELS_DIR
    assert config.tracking.max_faces == 4
    assert config.fit.baseline_seconds == 20.0
    assert config.fail_closed.hold_seconds == 0.5
    assert config.render.background == (96, 96, 96)
    assert config.output.video_codec is VideoCodec.H264
    assert config.output.jpeg_quality == 95


def test_values_are_read_and_integers_accepted_as_numbers(tmp_path):
    path = write(
        tmp_path,
        "inference:\n  providers: [CUDAExecutionProvider, CPUExecutionProvider]\n"
        "  models_dir: /opt/models\nfit:\n  baseline_seconds: 10\n"
        "render:\n  backend: auto\n  background: [0, 0, 255]\n",
    )
    config = load_config(path)
    assert config.inference.providers == ("CUDAExecutionProvider", "CPUExecutionProvider")
    assert str(config.inference.models_path) == "/opt/models"
    assert config.fit.baseline_seconds == 10.0 and isinstance(config.fit.baseline_seconds, float)
    assert config.render.backend == "auto"
    assert config.render.background == (0, 0, 255)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("inference:\n  thread: 4\n",
         "2 inference.thread: unknown key (expected one of: providers, threads, models_dir, engine, engine_cache)"),
        ("output:\n  jpeg_quality: 90\nrender:\n  backend: cpu\n  colour: 3\n",
         "5 render.colour: unknown key (expected one of: backend, background)"),
        ("infer:\n  threads: 4\n",
         "1 infer: unknown key "
         "(expected one of: inference, tracking, fit, clinical, fail_closed, render, output, source, publish)"),
        ("inference:\n  threads: 2.5\n", "2 inference.threads: expected an integer, got 2.5"),
        ("inference:\n  threads: true\n", "2 inference.threads: expected an integer, got true"),
        ("inference:\n  threads:\n", "2 inference.threads: expected an integer, got nothing"),
        ("clinical:\n  ptosis_mrd1_mm: lots\n", "2 clinical.ptosis_mrd1_mm: expected a number, got 'lots'"),
        ("output:\n  video_codec: 1234\n", "2 output.video_codec: expected a string, got 1234"),
        ("inference:\n  providers: CPUExecutionProvider\n",
         "2 inference.providers: expected a list of strings, got 'CPUExecutionProvider'"),
        ("inference:\n  providers: []\n", "2 inference.providers: must not be empty"),
        ("render:\n  background: [1, 2]\n",
         "2 render.background: expected a list of 3 integers, got 2 items"),
        ("tracking: 3\n", "1 tracking: expected a mapping of settings, got 3"),
        ("- inference\n", "1 (top level): expected a mapping of settings, got a list"),
        ("inference:\n  threads: 2\n  threads: 3\n", "3 inference.threads: duplicate key"),
    ],
)
def test_wrong_keys_and_types(tmp_path, text, expected):
    path = write(tmp_path, text)
    assert error_of(path) == f"{path}:{expected}"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("tracking:\n  max_faces: 40\n", "2 tracking.max_faces: must be between 1 and 16; got 40"),
        ("inference:\n  threads: 0\n", "2 inference.threads: must be >= 1; got 0"),
        ("fit:\n  baseline_seconds: 0\n", "2 fit.baseline_seconds: must be > 0.0 and <= 3600.0; got 0"),
        ("tracking:\n  detection_threshold: 1.5\n",
         "2 tracking.detection_threshold: must be between 0.0 and 1.0; got 1.5"),
        ("render:\n  background:\n    - 0\n    - 300\n    - 0\n",
         "4 render.background[1]: must be between 0 and 255; got 300"),
        ("render:\n  backend: gpu\n",
         "2 render.backend: must be one of cpu, cuda, auto; got 'gpu'"),
        ("output:\n  video_codec: mp4\n",
         "2 output.video_codec: must be one of h264, mp4v; got 'mp4'"),
    ],
)
def test_out_of_range_and_bad_choices(tmp_path, text, expected):
    path = write(tmp_path, text)
    assert error_of(path) == f"{path}:{expected}"


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "inference:\n  threads: [1, 2\nfit:\n")
    assert error_of(path) == (
        f"{path}:3: invalid YAML: while parsing a flow sequence, expected ',' or ']', but got ':'"
    )


def test_unsafe_tag_is_refused(tmp_path):
    path = write(tmp_path, "inference:\n  threads: !!python/name:os.getpid ''\n")
    assert error_of(path) == (
        f"{path}:2 inference.threads: invalid value (could not determine a constructor "
        "for the tag 'tag:yaml.org,2002:python/name:os.getpid')"
    )


def test_missing_file(tmp_path):
    path = tmp_path / "absent.yaml"
    assert error_of(path) == f"{path}: cannot read the config file (No such file or directory)"


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        Config().inference.threads = 3
