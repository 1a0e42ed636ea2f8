"""The options several dmask commands share, each written once."""

from __future__ import annotations

import functools
from pathlib import Path

import click

from dmask.capture.media import refuse_existing


def overwrite_option(help: str = "Replace what an earlier run left there."):
    """--overwrite: the one overwrite rule (dmask.capture.media.refuse_existing) lets an output be replaced."""
    return click.option("--overwrite", is_flag=True, help=help)


def config_option(reads: str = ""):
    """--config FILE; reads: what the command takes from it, where that is not the obvious."""
    return click.option("--config", "config_path", type=click.Path(path_type=Path),
                        help=f"YAML config file{f' ({reads})' if reads else ''}.")


def report_folder(default: str):
    """-o FOLDER for a command that writes a report, with its default folder, and --overwrite: a folder that
    already holds a report is refused before any work, unless --overwrite."""
    def decorate(command):
        @functools.wraps(command)
        def checked(*args, overwrite: bool, **kwargs):
            report = kwargs["output"] / "report.md"
            refuse_existing([report] if report.exists() else [], "holds a report", overwrite)
            return command(*args, **kwargs)

        output = click.option("-o", "--output", default=Path(default), show_default=True, type=click.Path(path_type=Path),
                              help="Folder for report.md, results.json and the figures (made if missing).")
        return output(overwrite_option()(checked))
    return decorate


def no_progress_option():
    return click.option("--no-progress", is_flag=True, help="Do not show progress bars.")


def max_frames_option():
    """--frames N, as max_frames: a quick look at the start of each video."""
    return click.option("--frames", "max_frames", type=click.IntRange(min=1), help="Use at most this many frames per video.")
