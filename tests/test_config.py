"""The config loader: defaults, and one exact `FILE:LINE key.path: problem`
line for each kind of mistake."""

from __future__ import annotations

import re

import pytest

from dmask.config import DEFAULT_MODELS_DIR, Config, VideoCodec, load_config
from dmask.errors import ConfigError
from support import dmask


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
         "2 inference.thread: unknown key (expected one of: providers, threads, models_dir, engine, engine_cache, cpu_runtime)"),
        ("output:\n  jpeg_quality: 90\nrender:\n  backend: cpu\n  colour: 3\n",
         "5 render.colour: unknown key (expected one of: backend, background)"),
        ("infer:\n  threads: 4\n",
         "1 infer: unknown key "
         "(expected one of: inference, tracking, fit, clinical, fail_closed, render, input, output, source, publish, dicom, pacs, view, "
         "acknowledge_weaker_privacy)"),
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
        ("inference:\n  threads: 0\n", "2 inference.threads: must be between 1 and 64; got 0"),
        ("fit:\n  baseline_seconds: 0\n", "2 fit.baseline_seconds: must be > 0.0 and <= 3600.0; got 0"),
        ("tracking:\n  detection_threshold: 1.5\n",
         "2 tracking.detection_threshold: must be between 0.0 and 1.0; got 1.5"),
        ("render:\n  background:\n    - 0\n    - 300\n    - 0\n",
         "4 render.background[1]: must be between 0 and 255; got 300"),
        ("render:\n  backend: gpu\n",
         "2 render.backend: must be one of cpu, cuda, auto; got 'gpu'"),
        ("output:\n  video_codec: mp4\n",
         "2 output.video_codec: must be one of h264, mp4v; got 'mp4'"),
        ("inference:\n  cpu_runtime:\n    iris: tflite\n",
         "3 inference.cpu_runtime.iris: must be one of litert, onnxruntime; got 'tflite'"),
        ("inference:\n  engine: onnxruntime\n",
         "2 inference.engine: must be one of auto, tensorrt, cpu; got 'onnxruntime'"),
        ("publish:\n  status_interval_seconds: .nan\n",
         "2 publish.status_interval_seconds: must be a finite number; got .nan"),
        ("source:\n  reopen_seconds: .NaN\n", "2 source.reopen_seconds: must be a finite number; got .NaN"),
        ("fail_closed:\n  hold_seconds: .inf\n", "2 fail_closed.hold_seconds: must be a finite number; got .inf"),
        ("clinical:\n  lid_asymmetry_mm: -.inf\n", "2 clinical.lid_asymmetry_mm: must be a finite number; got -.inf"),
        ("publish:\n  status_interval_seconds: 60\n",
         "2 publish.status_interval_seconds: must be between 0.05 and 5.0; got 60"),
        ("inference:\n  threads: 100000\n", "2 inference.threads: must be between 1 and 64; got 100000"),
        ("publish:\n  send_hwm: 99999999\n", "2 publish.send_hwm: must be between 1 and 1000; got 99999999"),
        ("tracking:\n  detect_interval: 1000000\n",
         "2 tracking.detect_interval: must be between 1 and 1000; got 1000000"),
        ("source:\n  reopen_seconds: 5\n  reopen_max_seconds: 2\n",
         "3 source.reopen_max_seconds: must be >= source.reopen_seconds (5.0); got 2.0"),
        ("source:\n  reopen_seconds: 20\n",
         "2 source.reopen_max_seconds: must be >= source.reopen_seconds (20.0); got 10.0"),
        ("clinical:\n  ptosis_mrd1_mm: 4.5\n  retraction_mrd1_mm: 4.0\n"
         "acknowledge_weaker_privacy: [clinical.ptosis_mrd1_mm, clinical.retraction_mrd1_mm]\n",
         "3 clinical.retraction_mrd1_mm: must be > clinical.ptosis_mrd1_mm (4.5); got 4.0"),
        ("publish:\n  endpoints:\n    - tcp://127.0.0.1:5555\n    - tcp://127.0.0.1:99999\n",
         "4 publish.endpoints[1]: port 99999 is not between 1 and 65535 (in 'tcp://127.0.0.1:99999')"),
        ("publish:\n  endpoints: [tcp://127.0.0.1:0]\n",
         "2 publish.endpoints[0]: port 0 is not between 1 and 65535 (in 'tcp://127.0.0.1:0')"),
        ("publish:\n  endpoints: [udp://127.0.0.1:5555]\n",
         "2 publish.endpoints[0]: 'udp://127.0.0.1:5555' is not tcp://HOST:PORT or ipc://PATH"),
    ],
)
def test_out_of_range_non_finite_and_disagreeing_values(tmp_path, text, expected):
    path = write(tmp_path, text)
    assert error_of(path) == f"{path}:{expected}"


def test_every_number_has_both_bounds():
    """A setting without an upper bound is how .inf or 10**9 got in: every int and float has both."""
    from dmask.config import settings

    for path, f, value in settings(Config()):
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        items = isinstance(value, tuple) and value and isinstance(value[0], int)
        if numeric or items:
            assert ("ge" in f.metadata or "gt" in f.metadata) and "le" in f.metadata, path


@pytest.mark.parametrize(
    "text, key, line",
    [
        ("tracking:\n  presence_threshold: 0.0\n", "tracking.presence_threshold", 2),
        ("clinical:\n  lid_asymmetry_mm: 1.0\n", "clinical.lid_asymmetry_mm", 2),
        ("clinical:\n  ptosis_mrd1_mm: 3.0\n", "clinical.ptosis_mrd1_mm", 2),
        ("clinical:\n  retraction_mrd1_mm: 5.0\n", "clinical.retraction_mrd1_mm", 2),
        ("fit:\n  baseline_seconds: 5\nclinical:\n  mouth_asymmetry_mm: 0.5\n", "clinical.mouth_asymmetry_mm", 4),
    ],
)
def test_a_setting_that_weakens_privacy_needs_an_acknowledgement(tmp_path, text, key, line):
    path = write(tmp_path, text)
    error = error_of(path)
    assert error.startswith(f"{path}:{line} {key}: ") and f"list {key} under acknowledge_weaker_privacy" in error
    from dmask.config import weakened

    config = load_config(write(tmp_path, text + f"acknowledge_weaker_privacy: [{key}]\n"))
    assert [entry.split(" = ")[0] for entry in weakened(config)] == [key]


def test_stronger_settings_need_no_acknowledgement_and_a_wrong_one_is_named(tmp_path):
    from dmask.config import weakened

    assert weakened(load_config(write(tmp_path, "tracking:\n  presence_threshold: 0.8\n"))) == []
    path = write(tmp_path, "acknowledge_weaker_privacy: [tracking.max_faces]\n")
    assert error_of(path).startswith(f"{path}:1 acknowledge_weaker_privacy: tracking.max_faces is not a setting that weakens privacy")


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


def test_config_show_prints_each_setting_under_its_meaning_and_bounds_and_reads_back(tmp_path):
    """A setting's meaning lived in a comment beside the code, where no user saw it (issue 29)."""
    mine = write(tmp_path, "inference:\n  threads: 2\n")
    shown = dmask(tmp_path, "config", "show", "--config", mine)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    at = lines.index("  threads: 2")
    assert lines[at - 1] == "  # threads per network (onnxruntime intra-op, LiteRT's XNNPACK); at least 1, at most 64; default 1"
    for number, line in enumerate(lines):
        if re.match(r"^ *[a-z_]+:", line):
            assert lines[number - 1].lstrip().startswith("#"), f"{line!r} has no description above it"
    again = tmp_path / "shown.yaml"
    again.write_text(shown.stdout)
    assert load_config(again) == load_config(mine)
    defaults = dmask(tmp_path, "config", "show").stdout
    assert "  threads: 1\n" in defaults and "default 1" not in defaults
