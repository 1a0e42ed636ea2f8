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
