"""Shared fixtures: where the real test data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge.config import Config, load_config

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data next to the repository (env DMASK_SHARED_DATA overrides).

    Missing data skips the test on a developer machine, but fails it in CI
    (env CI set), where a silent skip would hide that nothing was tested.
    """
    path = Path(os.environ.get("DMASK_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        hint = f"looked in {path}; set DMASK_SHARED_DATA to the test data directory"
        if os.environ.get("CI"):
            pytest.fail(f"test data not found (CI is set, so this fails, not skips); {hint}")
        pytest.skip(f"../shared/data not found; {hint}")
    return path


@pytest.fixture(scope="session")
def config() -> Config:
    """The default config tree."""
    return load_config(None)


@pytest.fixture(scope="session")
def models(config: Config):
    """The models and avatar from models/, loaded once for the whole run."""
    from edge.pipeline import ModelSet

    return ModelSet.load(config)
