"""The options several dmask commands share, each written once."""

from __future__ import annotations

from pathlib import Path

import click


def config_option(reads: str = ""):
    """--config FILE; reads: what the command takes from it, where that is not the obvious."""
    return click.option("--config", "config_path", type=click.Path(path_type=Path),
                        help=f"YAML config file{f' ({reads})' if reads else ''}.")


def report_folder(default: str):
    """-o FOLDER for a command that writes a report, with its default folder."""
    return click.option("-o", "--output", default=Path(default), show_default=True, type=click.Path(path_type=Path),
                        help="Folder for report.md, results.json and the figures (made if missing).")


def no_progress_option():
    return click.option("--no-progress", is_flag=True, help="Do not show progress bars.")


def max_frames_option():
    """--frames N, as max_frames: a quick look at the start of each video."""
    return click.option("--frames", "max_frames", type=click.IntRange(min=1), help="Use at most this many frames per video.")
