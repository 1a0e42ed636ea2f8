"""`dmask` as a real subprocess: every user mistake is exit status 2 and one
line `dmask: error: ...` on stderr, never a traceback, and leaves no output."""

from __future__ import annotations

import json
import signal
import struct
import subprocess
import sys
import time
import zlib

import click
import pytest

from dmask import cli
from dmask.signals import SCHEMA, face_record
from dmask.serve.transport import WIRE_VERSION
from support import assert_error, dmask, dmask_command, dmask_env, mask_params

@pytest.fixture
def work(tmp_path):
    """A directory with one of each kind of bad input, and a file to block paths."""
    (tmp_path / "notes.txt").write_text("not media")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 garbage, not a jpeg" * 20)
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "junk.mp4").write_bytes(b"\x00\x01junk" * 400)
    (tmp_path / "blocker").write_text("a regular file")
    (tmp_path / "photos").mkdir()
    return tmp_path


def test_missing_input(work):
    assert_error(dmask(work, "mask", "absent.mp4", "-o", "out.mp4"), "absent.mp4: no such file")


def test_unsupported_suffix(work):
    assert_error(
        dmask(work, "mask", "notes.txt", "-o", "out"),
        "notes.txt: unsupported file type; supported are photos (.jpg .jpeg .png .bmp .pgm) "
        "and videos (.mp4 .avi .mov .mkv)",
    )


def test_directory_as_input(work):
    assert_error(
        dmask(work, "mask", "photos", "-o", "out"),
        "photos: is a directory; give the photo and video files inside it",
    )


def test_unreadable_photo(work):
    assert_error(
        dmask(work, "mask", "broken.jpg", "-o", "out.jpg"),
        "broken.jpg: cannot be decoded as a photo; check the file is a complete image",
    )


def png_claiming(width: int, height: int, corrupt: bool = False) -> bytes:
    """A real 8x8 PNG whose header says width x height (with a valid checksum); corrupt flips a byte of its pixel data."""
    import cv2
    import numpy as np

    data = bytearray(cv2.imencode(".png", np.full((8, 8, 3), 128, np.uint8))[1].tobytes())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data[16:33] = header + struct.pack(">I", zlib.crc32(b"IHDR" + header))
    if corrupt:
        data[data.index(b"IDAT") + 6] ^= 0xFF
    return bytes(data)


@pytest.mark.parametrize("size, shown", [((100000, 100000), "a size over 179 megapixels"), ((10000, 6000), "10000x6000")])
def test_a_photo_claiming_too_many_pixels_is_refused_before_decoding(work, size, shown):
    (work / "big.png").write_bytes(png_claiming(*size))
    assert_error(dmask(work, "mask", "big.png", "-o", "out.png"),
                 f"big.png: {shown} is over the limit of 50 megapixels; shrink it, or raise input.max_photo_megapixels")
    assert not (work / "out.png").exists()


def test_a_corrupt_png_gives_one_line_and_no_decoder_message(work):
    (work / "corrupt.png").write_bytes(png_claiming(8, 8, corrupt=True))
    assert_error(dmask(work, "mask", "corrupt.png", "-o", "out.png"),
                 "corrupt.png: cannot be decoded as a photo; check the file is a complete image")


def test_a_raised_limit_lets_a_large_header_through_to_the_decoder(work):
    (work / "big.png").write_bytes(png_claiming(10000, 6000))
    (work / "dmask.yaml").write_text("input:\n  max_photo_megapixels: 100\n")
    assert_error(dmask(work, "mask", "big.png", "-o", "out.png", "--config", "dmask.yaml"),
                 "big.png: cannot be decoded as a photo; check the file is a complete image")


def test_a_full_disk_names_the_output_not_its_hidden_partial(work, shared_data):
    """dmask mask on a full disk named `.out.partial-PID.mp4`, a file already gone (issue 26)."""
    script = work / "full.py"
    script.write_text("import errno, sys\nfrom dmask import cli, video_out\n"
                      "def full(self, image, timestamp=None):\n"
                      "    raise OSError(errno.ENOSPC, 'No space left on device', str(self.temp_path))\n"
                      "video_out.AtomicVideoWriter.write = full\nsys.argv[0] = 'dmask'\ncli.main()\n")
    result = subprocess.run([sys.executable, script, "mask", shared_data / "videos" / "lp_driving_d1.mp4", "-o", "out.mp4"],
                            cwd=work, env=dmask_env(), capture_output=True, text=True)
    assert_error(result, "out.mp4: cannot be written (No space left on device); nothing of it was kept")
    assert not (work / "out.mp4").exists() and list(work.glob(".out.partial-*")) == []


def test_a_loop_of_links_and_a_dangling_link_are_named_for_what_they_are(work):
    """A symlink loop was reported as "no such file" (issue 26)."""
    (work / "loop.mp4").symlink_to(work / "back.mp4")
    (work / "back.mp4").symlink_to(work / "loop.mp4")
    assert_error(dmask(work, "mask", "loop.mp4", "-o", "out.mp4"),
                 "loop.mp4: a link that loops back on itself; give the file itself")
    (work / "gone.jpg").symlink_to(work / "deleted.jpg")
    assert_error(dmask(work, "mask", "gone.jpg", "-o", "out.jpg"), "gone.jpg: a link whose target is gone; give the file itself")


def test_a_line_break_in_a_file_name_does_not_break_the_one_line_error(work):
    """A newline in an input's name split the error into two lines (issue 26)."""
    (work / "visit\nnotes.png").write_bytes(b"not a photo")
    result = dmask(work, "mask", "visit\nnotes.png", "-o", "out.png")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr == "dmask: error: visit\\nnotes.png: cannot be decoded as a photo; check the file is a complete image\n"


def test_a_video_of_oversized_frames_is_refused_from_its_header_in_one_line(work):
    """Photos had a size limit and videos none: 12 frames of 8192x8192 took 4.4 GB (issue 26)."""
    import numpy as np

    from dmask.config import VideoCodec
    from dmask.video_out import AtomicVideoWriter

    with AtomicVideoWriter(work / "wide.mp4", 25.0, 1280, 800, VideoCodec.H264) as writer:
        for _ in range(3):
            writer.write(np.zeros((800, 1280, 3), np.uint8))
    (work / "dmask.yaml").write_text("input:\n  max_video_megapixels: 1.0\n")
    assert_error(dmask(work, "mask", "wide.mp4", "-o", "out.mp4", "--config", "dmask.yaml"),
                 "wide.mp4: its frames are 1280x800, over the limit of 1 megapixels; scale it down, "
                 "or raise input.max_video_megapixels")
    assert not (work / "out.mp4").exists()
    assert dmask(work, "mask", "wide.mp4", "-o", "out.mp4").returncode == 0  # the default, 8.9, takes it


@pytest.mark.parametrize("name", ["empty.mp4", "junk.mp4"])
def test_video_without_frames(work, name):
    assert_error(
        dmask(work, "mask", name, "-o", "out.mp4"),
        f"{name}: no frames could be decoded; check the file is a complete video",
    )


def test_bad_input_among_several_fails_before_any_output(work, shared_data):
    photo = shared_data / "identities_orl" / "s1" / "1.pgm"
    result = dmask(work, "mask", photo, "junk.mp4", "-o", "out")
    assert_error(result, "junk.mp4: no frames could be decoded; check the file is a complete video")
    assert list((work / "out").iterdir()) == []


def test_output_under_a_regular_file(work, shared_data):
    photo = shared_data / "identities_orl" / "s1" / "1.pgm"
    assert_error(
        dmask(work, "mask", photo, "-o", "blocker/out.png"),
        "blocker: is a file, not a directory; choose another output",
    )
    assert_error(
        dmask(work, "mask", photo, "-o", "blocker/masked"),
        "blocker/masked: cannot create the output directory (Not a directory)",
    )


def test_signals_under_a_regular_file(work, shared_data):
    photo = shared_data / "identities_orl" / "s1" / "1.pgm"
    assert_error(
        dmask(work, "mask", photo, "-o", "out.png", "--signals", "blocker/signals.csv"),
        "blocker: is a file, not a directory; choose another output",
    )


def test_mismatched_output_suffix(work, shared_data):
    video = shared_data / "videos" / "lp_driving_d1.mp4"
    assert_error(
        dmask(work, "mask", video, "-o", "masked.png"),
        "masked.png: a video input needs a video output (.mp4 .avi .mov .mkv) or a directory",
    )


def test_bad_config(work, shared_data):
    (work / "dmask.yaml").write_text("tracking:\n  max_faces: 99\n")
    photo = shared_data / "identities_orl" / "s1" / "1.pgm"
    expected = "dmask.yaml:2 tracking.max_faces: must be between 1 and 16; got 99"
    assert_error(dmask(work, "mask", photo, "-o", "out.png", "--config", "dmask.yaml"), expected)
    assert_error(dmask(work, "config", "check", "dmask.yaml"), expected)


def test_missing_models(work, shared_data):
    (work / "dmask.yaml").write_text("inference:\n  models_dir: no-models-here\n")
    photo = shared_data / "identities_orl" / "s1" / "1.pgm"
    result = dmask(work, "mask", photo, "-o", "out.png", "--config", "dmask.yaml")
    assert result.returncode == 2
    assert result.stderr.startswith("dmask: error: ") and result.stderr.count("\n") == 1
    assert "no-models-here" in result.stderr
    assert not (work / "out.png").exists()


def test_config_check_ok(work):
    (work / "dmask.yaml").write_text("render:\n  backend: cpu\n")
    result = dmask(work, "config", "check", "dmask.yaml")
    assert (result.returncode, result.stdout, result.stderr) == (0, "dmask.yaml: ok\n", "")


def test_usage_errors_keep_clicks_exit_status(work):
    result = dmask(work, "mask", "clip.mp4")
    assert result.returncode == 2
    assert "Missing option '-o' / '--output'" in result.stderr
    assert "Traceback" not in result.stderr


def test_keyboard_interrupt_in_process(monkeypatch, capsys):
    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "load_config", interrupted)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["config", "check", "any.yaml"])
    assert exit_.value.code == 130
    assert capsys.readouterr().err.endswith("dmask: interrupted\n")


def test_demo_without_scikit_image(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "skimage", None)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", "-o", str(tmp_path / "demo")])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        "dmask: error: the demo needs scikit-image: pip install -c constraints.txt -e '.[demo]'\n"
    )
    assert not (tmp_path / "demo").exists()


def test_ctrl_c_while_masking_leaves_no_partial_files(tmp_path, shared_data):
    """SIGINT once the video writer's temp file exists: exit 130, nothing left."""
    out = tmp_path / "masked"
    out.mkdir()
    process = subprocess.Popen(
        dmask_command("mask", shared_data / "videos/lp_driving_d6.mp4", "-o", out, "--no-progress"),
        env=dmask_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(out.glob(".lp_driving_d6.partial-*.mp4")) and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130
    assert stderr.endswith("dmask: interrupted\n") and "Traceback" not in stderr
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    "text,message",
    [
        ('publish:\n  endpoints: ["tcp://0.0.0.0:5555"]\n', " publish.endpoints: plain (unencrypted) tcp is allowed only on loopback, not tcp://0.0.0.0:5555"),
        ('publish:\n  endpoints: ["udp://127.0.0.1:5555"]\n', "2 publish.endpoints[0]: 'udp://127.0.0.1:5555' is not tcp://HOST:PORT or ipc://PATH"),
        ("publish:\n  curve_secret_key: /nonexistent/server.key_secret\n  curve_allowed_keys: /tmp\n", " publish.curve_secret_key: no such file: /nonexistent/server.key_secret"),
        ("source:\n  uri: notes.txt\n", " source.uri: notes.txt: not a camera"),
        ("inference:\n  models_dir: /nonexistent\n", " inference.models_dir: /nonexistent/face_detection_short_range.onnx is missing"),
    ],
)
def test_config_check_finds_what_would_stop_the_daemon(work, text, message):
    (work / "dmask.yaml").write_text(text)
    result = dmask(work, "config", "check", "dmask.yaml")
    assert result.returncode == 2
    assert result.stderr.startswith(f"dmask: error: dmask.yaml:{message}")
    assert "Traceback" not in result.stderr


def test_config_check_lists_every_mistake_and_other_commands_count_them(work):
    """`config check` stopped at the first mistake (issue 29)."""
    (work / "dmask.yaml").write_text("source:\n  uri: 5\n  reopen_seconds: -1\nbogus: 1\nrender:\n  backend: gpu\n")
    checked = dmask(work, "config", "check", "dmask.yaml")
    assert checked.returncode == 2 and checked.stdout == ""
    assert checked.stderr.splitlines() == [
        "dmask: error: dmask.yaml:2 source.uri: expected a string, got 5",
        "dmask: error: dmask.yaml:3 source.reopen_seconds: must be between 0.01 and 600.0; got -1",
        "dmask: error: dmask.yaml:4 bogus: unknown key (expected one of: inference, tracking, fit, clinical, fail_closed, "
        "render, input, output, source, publish, dicom, pacs, view, acknowledge_weaker_privacy)",
        "dmask: error: dmask.yaml:6 render.backend: must be one of cpu, cuda, auto; got 'gpu'",
    ]
    assert_error(dmask(work, "mask", "notes.txt", "-o", "out", "--config", "dmask.yaml"),
                 "dmask.yaml:2 source.uri: expected a string, got 5 (and 3 more: dmask config check lists them)")


@pytest.mark.parametrize("command", [("privacy", "absent"), ("repeatability", "absent", "clip.mp4")])
def test_eval_privacy_and_repeatability_name_a_missing_folder(work, command):
    result = dmask(work, "eval", *command, "-o", "report")
    assert_error(result, "absent: no such folder; it needs one sub-folder per identity with at least 2 photos each")
    assert not (work / "report").exists()


def test_eval_fidelity_names_a_missing_video(work):
    assert_error(dmask(work, "eval", "fidelity", "absent.mp4", "-o", "report"), "absent.mp4: no such file")
    assert not (work / "report").exists()


def test_eval_without_the_eval_extra(monkeypatch, capsys, tmp_path, shared_data):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["eval", "fidelity", str(shared_data / "videos/lp_driving_d1.mp4"), "-o", str(tmp_path / "report")])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("dmask: error: matplotlib is not installed (") and error.count("\n") == 1
    assert error.endswith("; install the evaluation extra: pip install -c constraints.txt -e '.[eval]'\n")
    assert not (tmp_path / "report").exists()


def test_report_without_matplotlib_asks_for_the_report_extra_alone(monkeypatch, capsys, tmp_path):
    """dmask report needs matplotlib and scipy only: its own extra, not the eval extra with dlib's research-only model."""
    sidecar = tmp_path / "visit.signals.jsonl"
    sidecar.write_text("".join(json.dumps({"v": WIRE_VERSION, "seq": seq, "capture_ts": seq / 30, "status": "ok",
                                           "schema": SCHEMA, "faces": [face_record(mask_params())]}) + "\n"
                               for seq in range(3)))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["report", str(sidecar), "-o", str(tmp_path / "report")])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("dmask: error: matplotlib is not installed (") and error.count("\n") == 1
    assert error.endswith("; install the report extra: pip install -c constraints.txt -e '.[report]'\n")
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize("content, mode, problem", [
    ("ab" * 32 + "\n", 0o644, "the provenance key is readable by others (mode 644); chmod 600 {key}"),
    ("not hex\n", 0o600, "not a provenance key (64 hex digits); restore it from the appliance's backup, "
                         "or remove it to start a new key (older videos then no longer verify)"),
], ids=["readable by others", "not a key"])
def test_a_provenance_key_that_cannot_be_used_stops_the_run_first(work, content, mode, problem):
    """The key that seals every video (dmask.provenance): one line naming the file and the fix, and nothing masked."""
    import cv2
    import numpy as np

    cv2.imwrite(str(work / "face.png"), np.full((64, 64, 3), 128, np.uint8))
    key = work / "provenance.key"
    key.write_text(content)
    key.chmod(mode)
    (work / "dmask.yaml").write_text(f"output:\n  provenance_key_file: {key}\n")
    result = dmask(work, "mask", "face.png", "-o", "out.png", "--config", "dmask.yaml")
    assert_error(result, f"{key}: " + problem.format(key=key))
    assert not (work / "out.png").exists()


@pytest.mark.parametrize("command", [("export", "dicom", "junk.mp4", "--patient-id", "P"), ("record", "ipc:///nowhere", "-o", "out.mp4")])
def test_pacs_without_a_config_is_refused_not_spooled_where_nobody_looks(work, command):
    """`export dicom --pacs` without a config spooled into a new /var/spool/dmask for 127.0.0.1:104 (issue 29)."""
    assert_error(dmask(work, *command, "--pacs"),
                 "--pacs sends to the PACS a config names: give --config FILE with a pacs section "
                 "(host, port, called_ae and spool_dir, where what is not yet delivered waits)")
    assert sorted(p.name for p in work.iterdir()) == ["blocker", "broken.jpg", "empty.mp4", "junk.mp4", "notes.txt", "photos"]


def test_export_on_a_machine_that_never_sealed_a_video_names_the_key(work):
    (work / "dmask.yaml").write_text(f"output:\n  provenance_key_file: {work / 'absent.key'}\n")
    result = dmask(work, "export", "dicom", "junk.mp4", "-o", "out", "--patient-id", "P", "--config", "dmask.yaml")
    assert_error(result, f"{work / 'absent.key'}: no provenance key here, so this machine never sealed a video; "
                         "export on the appliance that masked it, or set output.provenance_key_file to its key")
    assert not (work / "absent.key").exists() and not (work / "out").exists()


def test_every_command_and_option_says_what_it_is():
    """The command list cut descriptions short, and report's and eval's -o and demo's --frames had no help (issue 29).

    64 characters: what click shows beside an 8-letter command name on an 80-column terminal.
    """
    def walk(command: click.Command, path: str):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, f"{path} {name}")

    for path, command in walk(cli.cli, "dmask"):
        if command is not cli.cli:
            assert not command.get_short_help_str(limit=64).endswith("..."), path
        for option in (p for p in command.params if isinstance(p, click.Option)):
            assert option.help, f"{path} {option.opts[0]}"

