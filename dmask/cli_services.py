"""The CLI's commands for the services around the daemon: `dmask export`, `dmask batch` and `dmask view`.

Registered on the `dmask` group by dmask.cli (which turns DmaskError into one
line); like the rest of the CLI, each builds the one config object and calls
the library.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dmask.cli_options import config_option, no_progress_option, overwrite_option
from dmask.config import load_config
from dmask.errors import InputError, OutputError


@click.group("export")
def export_group() -> None:
    """Masked recordings into hospital systems."""


@export_group.command("dicom", short_help="Masked videos as a DICOM study: video, PDF and SR.")
@click.argument("videos", nargs=-1, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the DICOM files into this directory.")
@click.option("--pacs", is_flag=True, help="Send them (and anything waiting in the spool) to the PACS in the config.")
@click.option("--signals", type=click.Path(path_type=Path), help="One video's signals CSV (default: the .signals.jsonl beside each video).")
@click.option("--patient-id", help="The patient's pseudonym or worklist ID (overrides dicom.patient_id).")
@click.option("--study-uid", help="The study to file into (overrides dicom.study_instance_uid; default a new study).")
@config_option("dicom, pacs")
@overwrite_option("Replace the DICOM files an earlier export left in the -o folder.")
@no_progress_option()
def export_dicom(
    videos: tuple[Path, ...], output: Path | None, pacs: bool, signals: Path | None, patient_id: str | None,
    study_uid: str | None, config_path: Path | None, overwrite: bool, no_progress: bool,
) -> None:
    """Masked videos (with their signals) as DICOM video, PDF summary and SR, in one study; with no
    videos and --pacs, deliver what waits in the spool."""
    from dmask.export.commands import export_dicom as run_export

    require_pacs_config(pacs, config_path)
    config = load_config(config_path)
    identity = _identity(config, patient_id, study_uid) if videos else None
    for line in run_export(list(videos), config, identity, signals, output, pacs, not no_progress, overwrite).lines:
        click.echo(line)


def require_pacs_config(pacs: bool, config_path: Path | None) -> None:
    """--pacs delivers where a config says: the defaults would send to 127.0.0.1:104 and spool in /var/spool/dmask."""
    if pacs and config_path is None:
        raise InputError("--pacs sends to the PACS a config names: give --config FILE with a pacs section "
                         "(host, port, called_ae and spool_dir, where what is not yet delivered waits)")


def _identity(config, patient_id: str | None, study_uid: str | None):
    """The study identity from config and CLI, the CLI's study UID checked like the config's."""
    from dmask.export.identity import StudyIdentity
    from dmask.config.dicom_values import long_string_problem, uid_problem

    for option, value, check in (("--patient-id", patient_id, long_string_problem), ("--study-uid", study_uid, uid_problem)):
        if value is not None and (problem := check(value)):
            raise InputError(f"{option}: {problem}")
    return StudyIdentity.from_config(config.dicom, patient_id, study_uid)


def archiver_for(config, key, patient_id: str | None, study_uid: str | None):
    """dmask record --pacs: the stage that exports, spools and delivers each finished segment (sealed with key)."""
    from dmask.export.archiver import Archiver
    from dmask.export.package import StudyExport
    from dmask.export.spool import Spool

    return Archiver(StudyExport(_identity(config, patient_id, study_uid), key), Spool(config.pacs.spool_dir),
                    config.pacs)


@click.command(short_help="Mask a folder tree into OUTPUT, resumably, with an audit.")
@click.argument("src", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", "dst", required=True, type=click.Path(path_type=Path), help="Output folder: the masked tree and its audit (dmask-audit.jsonl).")
@click.option("--manifest", type=click.Path(path_type=Path), help="Mask only the files listed here (paths relative to SRC, one a line).")
@click.option("--workers", type=click.IntRange(min=1), help="Local worker processes (default: one per core).")
@click.option("--scheduler", help="A Dask scheduler's address: run on that cluster instead (the batch extra).")
@click.option("--send-back", is_flag=True, help="Workers send each output back to be written here (OUTPUT need not be shared with them).")
@click.option("--verify", "verify_only", is_flag=True, help="Only re-hash the outputs of OUTPUT against its audit.")
@config_option()
@no_progress_option()
def batch(src: Path | None, dst: Path, manifest: Path | None, workers: int | None, scheduler: str | None,
          send_back: bool, verify_only: bool, config_path: Path | None, no_progress: bool) -> None:
    """Mask a folder tree of photos and videos into OUTPUT, resumably, with an audit trail."""
    from dmask.batch.runner import run_batch, verify

    if verify_only:
        problems = verify(dst)
        if problems:
            for line in problems[1:]:
                click.echo(f"dmask: {line}", err=True)
            raise OutputError(problems[0] + (f" (and {len(problems) - 1} more, above)" if len(problems) > 1 else ""))
        click.echo(f"{dst}: every output matches its audit entry")
        return
    if src is None:
        raise InputError("give the source folder: dmask batch SRC_DIR -o DST_DIR")
    summary = run_batch(src, dst, load_config(config_path), manifest, workers, scheduler, not no_progress, send_back)
    click.echo(summary.line())
    problems = [f"{summary.failed} of the files failed"] if summary.failed else []
    problems += [f"{summary.short} came from damaged input and were written short"] if summary.short else []
    if problems:
        raise InputError(f"{' and '.join(problems)}; their reasons are in {summary.audit}")


@click.group("view", invoke_without_command=True, short_help="Serve the live masked view to clinicians' browsers.")
@config_option("view")
@click.pass_context
def view_group(context: click.Context, config_path: Path | None) -> None:
    """Serve the live masked view to logged-in clinicians' browsers (until Ctrl-C or SIGTERM).

    \b
    First add a clinician: dmask view add-user NAME.
    Browsers connect to view.host:view.port (default 127.0.0.1:8443), over
    HTTPS with view.tls_cert_file and view.tls_key_file (plain HTTP only on
    loopback).
    """
    if context.invoked_subcommand is None:
        from dmask.view.server import serve

        serve(load_config(config_path))


@view_group.command("add-user", short_help="Add a clinician, or set a new password.")
@click.argument("name")
@config_option("view.users_file")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def view_add_user(name: str, config_path: Path | None, password_stdin: bool) -> None:
    """Add a clinician (or set a new password): only a salted scrypt hash is stored."""
    from dmask.view.auth import Users

    users_file = load_config(config_path).view.users_file
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    Users(users_file).add(name, password)
    click.echo(f"{name} can log in to dmask view ({users_file})")
