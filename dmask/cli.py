"""The `dmask` command line: each command builds the one config object and calls the library.

The service commands (export, batch, view) are in dmask.cli_services, the
options several commands share in dmask.cli_options.

This is the one place that catches errors: a DmaskError (or an OSError such as
a full disk) becomes one line `dmask: error: ...` on stderr and exit status 2,
with no traceback; Ctrl-C becomes `dmask: interrupted` and status 130, after
the atomic writers have removed their partial files. `run` and `record` run
until they are stopped, so Ctrl-C or SIGTERM is their normal end: status 0,
their files committed (what systemd expects of a service it stops). The
masking modules are imported inside their commands so that `--help` and
`config check` do not load the inference runtime.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
import cv2

from dmask import __version__
from dmask.config import load_config, weakened
from dmask.cli_options import config_option, max_frames_option, no_progress_option, overwrite_option, report_folder
from dmask.cli_services import archiver_for, batch, export_group, require_pacs_config, view_group
from dmask.errors import ConfigProblems, DmaskError, InputError
from dmask.capture.media import os_error_line
from dmask.wording import one_line

if TYPE_CHECKING:
    from dmask.evaluation.agreement import AgreementResult
    from dmask.evaluation.blink_check import BlinkCheck
    from dmask.evaluation.fidelity import FidelityResult
    from dmask.evaluation.privacy import PrivacyResult
    from dmask.evaluation.repeatability import RepeatabilityResult

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


@click.group()
@click.version_option(__version__, "--version", prog_name="dmask", message="%(prog)s %(version)s")
def cli() -> None:
    """Turn face photos and videos into identity-free rendered avatars."""


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", required=True, type=click.Path(path_type=Path),
    help="Output file (one input) or directory (created if missing).",
)
@click.option(
    "--signals", type=click.Path(path_type=Path),
    help="Also write the per-frame signal CSV here (one file for all inputs).",
)
@config_option()
@overwrite_option("Replace outputs and a signals file that already exist.")
@no_progress_option()
def mask(
    inputs: tuple[Path, ...], output: Path, signals: Path | None, config_path: Path | None,
    overwrite: bool, no_progress: bool,
) -> None:
    """Mask photos and videos: every face becomes a rendered avatar."""
    from dmask.offline import mask_inputs

    config = load_config(config_path)
    summary = mask_inputs(inputs, output, config, signals, progress=not no_progress, overwrite=overwrite)
    click.echo(summary.line())
    if summary.short:  # every output is written and kept; the exit status says the input was damaged
        raise InputError(" ".join(summary.short))


@cli.command(short_help="Run the daemon and a recorder on a built-in clip.")
@click.option(
    "-o", "--output", default=Path("dmask-demo"), show_default=True,
    type=click.Path(path_type=Path), help="Directory for the masked clip and its signals.",
)
@click.option("--frames", default=90, show_default=True, type=click.IntRange(min=1),
              help="Length of the astronaut clip played into the daemon (30 a second).")
def demo(output: Path, frames: int) -> None:
    """Run the daemon on a clip made from scikit-image's astronaut photo, with a recorder (no camera needed)."""
    from dmask.demo import run_demo

    for line in run_demo(output, frames, load_config(None)).lines():
        click.echo(line)


@cli.command(short_help="Run the daemon: mask a live source, publish masked frames.")
@config_option()
@click.option("--source", help="Overrides source.uri: /dev/video0, 0, rtsp://..., gst:PIPELINE or a video file.")
@click.option("--publish", "endpoints", multiple=True, help="Overrides publish.endpoints (repeatable).")
def run(config_path: Path | None, source: str | None, endpoints: tuple[str, ...]) -> None:
    """Run the daemon: mask a live source and publish only masked frames over ZeroMQ."""
    from dmask.serve.service import run_until_stopped

    logging.getLogger("dmask").setLevel(logging.INFO)  # the start line and source changes, for the journal
    config = load_config(config_path)
    if source is not None:
        config = dataclasses.replace(config, source=dataclasses.replace(config.source, uri=source))
    if endpoints:
        config = dataclasses.replace(config, publish=dataclasses.replace(config.publish, endpoints=endpoints))
    run_until_stopped(config)


@cli.command(short_help="Time each stage of dmask mask, beside MediaPipe and deface.")
@click.argument("videos", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--frames", type=click.IntRange(min=1), help="Measure at most this many frames per video.")
@config_option()
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Also write report.md, results.json and plots here.")
@click.option(
    "--deface", "deface_path", type=click.Path(path_type=Path),
    help="deface executable to time beside dmask (default: .venv-deface from tools/install_deface.sh, or PATH).",
)
@click.option("--no-deface", is_flag=True, help="Do not time deface.")
@click.option("--against-mediapipe", is_flag=True, help="Also time MediaPipe's FaceMesh with iris on the same frames.")
@click.option(
    "--mediapipe-python", type=click.Path(path_type=Path),
    help="python of a venv with mediapipe (default: .venv-mediapipe from tools/install_mediapipe.sh).",
)
def bench(
    videos: tuple[Path, ...], frames: int | None, config_path: Path | None, output: Path | None,
    deface_path: Path | None, no_deface: bool, against_mediapipe: bool, mediapipe_python: Path | None,
) -> None:
    """Time each stage of `dmask mask` on videos (p50/p95/p99, fps, memory), deface and MediaPipe beside it."""
    from dmask.capture.media import require_video
    from dmask.evaluation.mediapipe_peer import locate_mediapipe
    from dmask.evaluation.speed import INSTALL_HINT, bench_videos, locate_deface, write_bench_report

    for video in videos:
        require_video(video)
    deface = None if no_deface else locate_deface(deface_path)
    if deface is None and not no_deface:
        click.echo(f"deface: not found, not compared ({INSTALL_HINT})")
    peer = locate_mediapipe(mediapipe_python) if against_mediapipe else None
    run = bench_videos(videos, load_config(config_path), config_path, frames, deface, peer, click.echo)
    if output is not None:
        click.echo(f"wrote {write_bench_report(output, run.benches, run.deface, run.mediapipe)}")


@cli.group("eval", short_help="Measure privacy, fidelity, clinical agreement, repeatability.")
def eval_group() -> None:
    """Evidence: can faces be recognised behind the mask, and do the clinical signs survive it?"""


@eval_group.command("privacy", short_help="Can a recogniser re-identify faces behind the mask?")
@click.argument("roots", nargs=-1, required=True, type=click.Path(path_type=Path))
@report_folder("dmask-eval-privacy")
@click.option("--max-identities", type=click.IntRange(min=2), help="Use only the first N identities (a quick check).")
@config_option()
@no_progress_option()
def eval_privacy(
    roots: tuple[Path, ...], output: Path, max_identities: int | None, config_path: Path | None, no_progress: bool,
) -> None:
    """Face recognition on masked, blurred and pixelated photos: ROOTS hold one folder per identity."""
    from dmask.evaluation.privacy import evaluate_privacy

    _echo_evaluation(evaluate_privacy(
        roots, output, load_config(config_path), max_identities=max_identities, progress=not no_progress
    ))


@eval_group.command("fidelity", short_help="Clinical signals on original and masked videos, compared.")
@click.argument("videos", nargs=-1, required=True, type=click.Path(path_type=Path))
@report_folder("dmask-eval-fidelity")
@max_frames_option()
@config_option()
@no_progress_option()
def eval_fidelity(
    videos: tuple[Path, ...], output: Path, max_frames: int | None, config_path: Path | None, no_progress: bool,
) -> None:
    """Clinical signals measured on original and masked videos, compared frame by frame."""
    from dmask.evaluation.fidelity import evaluate_fidelity

    _echo_evaluation(
        evaluate_fidelity(videos, output, load_config(config_path), max_frames=max_frames, progress=not no_progress)
    )


@eval_group.command("clinical", short_help="Same diagnosis on the mask as on the original? (kappa, AUC)")
@click.argument("roots", nargs=-1, required=True, type=click.Path(path_type=Path))
@report_folder("dmask-eval-clinical")
@config_option()
@no_progress_option()
def eval_clinical(roots: tuple[Path, ...], output: Path, config_path: Path | None, no_progress: bool) -> None:
    """Diagnostic agreement, mask against original: ROOTS hold photos named SET__sign__NAME or SET__control__NAME."""
    from dmask.evaluation.agreement import evaluate_clinical

    result = evaluate_clinical(roots, output, load_config(config_path), progress=not no_progress)
    _echo_evaluation(result, "it holds numbers and plots only, no photo or name")


@eval_group.command("repeatability", short_help="How far one reading strays, per photo and per second of video.")
@click.argument("identities", type=click.Path(path_type=Path))
@click.argument("videos", nargs=-1, required=True, type=click.Path(path_type=Path))
@report_folder("dmask-eval-repeatability")
@max_frames_option()
@config_option()
@no_progress_option()
def eval_repeatability(
    identities: Path, videos: tuple[Path, ...], output: Path, max_frames: int | None, config_path: Path | None,
    no_progress: bool,
) -> None:
    """1 SD of each clinical measure on faces without a sign: between photos of one person (IDENTITIES holds one
    folder per person) and between seconds of one video (VIDEOS)."""
    from dmask.evaluation.repeatability import evaluate_repeatability

    _echo_evaluation(evaluate_repeatability(
        [identities], videos, output, load_config(config_path), max_frames=max_frames, progress=not no_progress
    ), "it holds numbers only")


@eval_group.command("blinks", short_help="Blinks both readers find, against an observer's labels.")
@click.argument("labels", type=click.Path(path_type=Path))
@click.argument("videos", type=click.Path(path_type=Path))
@report_folder("dmask-eval-blinks")
@config_option()
def eval_blinks(labels: Path, videos: Path, output: Path, config_path: Path | None) -> None:
    """Blinks both readers find against an observer's frame-by-frame LABELS (docs/blinks.tsv) of the VIDEOS folder."""
    from dmask.evaluation.blink_check import evaluate_blinks

    _echo_evaluation(evaluate_blinks(labels, videos, output, load_config(config_path)), "it holds numbers only")


def _echo_evaluation(
    result: PrivacyResult | FidelityResult | AgreementResult | BlinkCheck | RepeatabilityResult,
    holds: str = "it shows raw faces: keep it with the originals",
) -> None:
    """The result's summary lines, then where its report went and what it holds."""
    for line in result.lines():
        click.echo(line)
    click.echo(f"wrote {result.report} ({holds})")


@cli.command(short_help="Clinical summary of recordings or signals files.")
@click.argument("recordings", nargs=-1, required=True, type=click.Path(path_type=Path))
@report_folder("dmask-report")
def report(recordings: tuple[Path, ...], output: Path) -> None:
    """Clinical summary (Markdown, plots, JSON) of recordings, from their signals alone: each a
    `dmask record` video or its .signals.jsonl, or a `dmask mask --signals` CSV."""
    _summarise(list(recordings), output)


def _summarise(recordings: list[Path], output: Path) -> None:
    from dmask.clinical.report import write_clinical_report

    result = write_clinical_report(recordings, output)
    for line in result.lines():
        click.echo(line)
    click.echo(f"wrote {result.report}")


@cli.command(short_help="Say what this machine has and which backends will run.")
@config_option()
def check(config_path: Path | None) -> None:
    """Say what this machine has (GPU, CUDA, pycuda, CuPy, TensorRT, LiteRT, onnxruntime) and what each stage will use."""
    from dmask.check import report

    click.echo(report(load_config(config_path)))


@cli.group()
def keys() -> None:
    """CurveZMQ keys for the publisher and its subscribers."""


@keys.command("generate", short_help="Write a CurveZMQ key pair: NAME.key and NAME.key_secret.")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--name", default="dmask", show_default=True, help="Base name of the key files.")
def keys_generate(directory: Path, name: str) -> None:
    """Write NAME.key (public) and NAME.key_secret (secret, mode 0600) into DIRECTORY."""
    from dmask.serve.transport import generate_keys

    public, secret = generate_keys(directory, name)
    click.echo(f"wrote {public} (public: give it to the other side) and {secret} (secret: keep it here)")


@cli.command(short_help="Record a daemon's masked frames and signals to MP4.")
@click.argument("endpoint")
@click.option(
    "-o", "--output", required=True, type=click.Path(path_type=Path),
    help="Video file (.mp4); segments are numbered OUT-0001.mp4, ... beside it.",
)
@click.option("--segment-minutes", type=click.FloatRange(min=0, min_open=True), help="Start a new file every this many minutes of frames.")
@click.option("--fps", default=30.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Nominal frame rate: a keyframe and a sync to disk every this many frames. Each frame is shown at its "
                   "capture time, so the video keeps the source's rate and a dropped frame leaves a gap.")
@click.option("--client-key", type=click.Path(path_type=Path), help="CURVE: this client's secret key file.")
@click.option("--server-key", type=click.Path(path_type=Path), help="CURVE: the daemon's public key file.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), help="Stop after this many seconds (default: until Ctrl-C or SIGTERM).")
@click.option("--report", "report_dir", type=click.Path(path_type=Path), help="Then write the clinical summary of what was recorded here (as `dmask report`).")
@click.option("--pacs", is_flag=True, help="Send each finished segment to the PACS in the config (pacs, dicom), through its spool.")
@config_option("the provenance key; pacs and dicom for --pacs")
@click.option("--patient-id", help="With --pacs: the patient's pseudonym or worklist ID (overrides dicom.patient_id).")
@click.option("--study-uid", help="With --pacs: the study to file into (overrides dicom.study_instance_uid).")
def record(
    endpoint: str, output: Path, segment_minutes: float | None, fps: float,
    client_key: Path | None, server_key: Path | None, duration: float | None, report_dir: Path | None,
    pacs: bool, config_path: Path | None, patient_id: str | None, study_uid: str | None,
) -> None:
    """Record a daemon's masked frames to MP4, with a .signals.jsonl sidecar per file."""
    from dmask.provenance import provenance_key
    from dmask.serve.recorder import Recorder

    if not pacs and (patient_id or study_uid):
        raise InputError("--patient-id and --study-uid file the recording in a PACS: add --pacs")
    require_pacs_config(pacs, config_path)
    config = load_config(config_path)
    key = provenance_key(config)
    archiver = archiver_for(config, key, patient_id, study_uid) if pacs else None
    recorder = Recorder(endpoint, output, fps, segment_minutes, client_key, server_key,
                        codec=config.output.video_codec, on_segment=archiver.submit if archiver else None, seal=key)
    if archiver:
        archiver.start()
    try:
        summary = recorder.run_until_stopped(duration)
    finally:
        archived = archiver.stop() if archiver else None
    click.echo(summary.line())
    if archived:
        click.echo(archived.line(archiver.config, archiver.spool))
    if report_dir is not None and summary.segments:
        _summarise(list(summary.segments), report_dir)


@cli.command(short_help="Print a daemon's status reports, one line each.")
@click.argument("endpoint")
@click.option("--count", default=5, show_default=True, type=click.IntRange(min=1), help="Status messages to print.")
@click.option("--timeout", default=5.0, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Seconds to wait for each.")
@click.option("--client-key", type=click.Path(path_type=Path), help="CURVE: this client's secret key file.")
@click.option("--server-key", type=click.Path(path_type=Path), help="CURVE: the daemon's public key file.")
@config_option("also shows its PACS spool's backlog")
def status(endpoint: str, count: int, timeout: float, client_key: Path | None, server_key: Path | None,
           config_path: Path | None) -> None:
    """Print a daemon's next status reports, one readable line each (and the PACS spool's backlog)."""
    from dmask.serve.recorder import iter_status_lines

    spool_dir = Path(load_config(config_path).pacs.spool_dir)
    if spool_dir.is_dir():
        from dmask.export.spool import Spool

        click.echo(Spool(spool_dir).backlog().line())
    for line in iter_status_lines(endpoint, count, timeout, client_key, server_key):
        click.echo(line)


for _command in (export_group, batch, view_group):
    cli.add_command(_command)


@cli.group("config")
def config_group() -> None:
    """Config files."""


@config_group.command("check", short_help="Check a YAML config file without starting anything.")
@click.argument("file", type=click.Path(path_type=Path))
def config_check(file: Path) -> None:
    """Check a YAML config file: the schema, endpoints, key files, source and models; every problem, one a line."""
    from dmask.check import config_problems

    try:
        config = load_config(file)
    except ConfigProblems as error:
        problems = list(error.problems)
    else:
        problems = [f"{file}: {problem}" for problem in config_problems(config)]
    if problems:
        for problem in problems:
            click.echo(f"dmask: error: {one_line(problem)}", err=True)
        raise click.exceptions.Exit(EXIT_ERROR)
    weaker = weakened(config)
    click.echo(f"{file}: ok" + (f"; privacy weakened (acknowledged): {'; '.join(weaker)}" if weaker else ""))



@config_group.command("show", short_help="Print every setting with its value, what it does and what it accepts.")
@config_option("shown instead of the defaults")
def config_show(config_path: Path | None) -> None:
    """Print the config as YAML (the defaults, or FILE's values beside them): each setting under its meaning and bounds."""
    from dmask.config import Config
    from dmask.config.describe import commented_yaml

    click.echo(commented_yaml(load_config(config_path), Config() if config_path else None), nl=False)

def _quiet_libraries() -> None:
    """OpenCV and FFmpeg print their own lines for files that dmask already
    reports as one clear error; pipeline warnings keep a `dmask:` prefix."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    logging.basicConfig(format="dmask: %(message)s", level=logging.WARNING)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends a run like Ctrl-C: writers remove their partial files."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    _quiet_libraries()
    # SIGINT as well, explicitly: a shell starts background jobs with SIGINT
    # ignored, and `kill -INT` must still stop a run cleanly
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        status = cli.main(args=argv, prog_name="dmask", standalone_mode=False)
    except click.ClickException as error:
        error.show()
        status = error.exit_code
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("dmask: interrupted", err=True)
        status = EXIT_INTERRUPTED
    except DmaskError as error:
        click.echo(f"dmask: error: {one_line(str(error))}", err=True)
        status = EXIT_ERROR
    except OSError as error:
        click.echo(f"dmask: error: {one_line(os_error_line(error))}", err=True)
        status = EXIT_ERROR
    sys.exit(status or 0)


if __name__ == "__main__":
    main()
