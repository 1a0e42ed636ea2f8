"""Shared fixtures: where the real test data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dmask.config import Config, load_config
from support import REPO_ROOT, missing


@pytest.fixture(scope="session", autouse=True)
def provenance_home(tmp_path_factory) -> Path:
    """Where the run's provenance key is made (dmask.provenance: $XDG_STATE_HOME/dmask), for this process and the
    dmask commands it starts: one key for the run, never the developer's own."""
    state = tmp_path_factory.mktemp("state")
    os.environ["XDG_STATE_HOME"] = str(state)
    return state / "dmask" / "provenance.key"

@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data next to the repository (env DMASK_SHARED_DATA overrides).

    Missing data skips the test on a developer machine, but fails it in CI
    (env CI set), where a silent skip would hide that nothing was tested.
    """
    path = Path(os.environ.get("DMASK_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        missing(f"test data not found in {path}; set DMASK_SHARED_DATA to the test data directory")
    return path


@pytest.fixture(scope="session")
def config() -> Config:
    """The default config tree."""
    return load_config(None)


@pytest.fixture(scope="session")
def models(config: Config):
    """The models and avatar from models/, loaded once for the whole run."""
    from dmask.models import ModelSet

    return ModelSet.load(config)


@pytest.fixture(scope="session")
def masked_visit(shared_data: Path, tmp_path_factory) -> tuple[Path, Path]:
    """(video, signals CSV): a real clip masked by `dmask mask`, as a clinic would export it."""
    from support import dmask

    directory = tmp_path_factory.mktemp("visit")
    result = dmask(directory, "mask", shared_data / "videos" / "lp_driving_d1.mp4", "-o", "visit.mp4",
                   "--signals", "visit.csv", "--no-progress")
    assert result.returncode == 0, result.stderr
    return directory / "visit.mp4", directory / "visit.csv"
