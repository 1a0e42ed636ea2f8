"""The unit file passes systemd's own checker, and the example config is the defaults."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dmask.config import Config, RenderBackend, load_config
from dmask.serve.transport import KEYS_HINT
from support import dmask, missing

REPO = Path(__file__).resolve().parents[1]
SYSTEMD = REPO / "systemd"


@pytest.mark.parametrize("name", ["dmask.service", "dmask-view.service"])
def test_unit_file_verifies(tmp_path, name):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        missing("systemd-analyze not found (apt install systemd)")
    # the environment this test runs in: a virtualenv's own folder (whose
    # bin/dmask the unit starts), not the base interpreter its python links to
    prefix = Path(sys.prefix)
    assert (prefix / "bin" / "dmask").is_file(), f"dmask is not installed in {prefix}"
    unit = tmp_path / name
    text = (SYSTEMD / name).read_text().replace("@PREFIX@/venv", str(prefix)).replace("@PREFIX@", str(prefix))
    unit.write_text(text)
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    problems = [line for line in result.stderr.splitlines() if name in line]
    assert result.returncode == 0 and not problems, result.stderr
    for setting in ("NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=\n", "UMask=0077"):
        assert setting in text
    assert ("Type=notify" in text) == (name == "dmask.service")  # the daemon's watchdog; the view has none


def test_the_example_config_is_written_from_the_settings_own_descriptions():
    """It was written by hand, each setting's meaning in a comment of its own beside the code's (issue 29): the
    committed file is what tools/write_systemd_config.py writes, the defaults but for what an install sets."""
    tool = REPO / "tools" / "write_systemd_config.py"
    result = subprocess.run([sys.executable, str(tool), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    spec = importlib.util.spec_from_file_location("write_systemd_config", tool)
    writer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(writer)
    example = load_config(SYSTEMD / "dmask.yaml")
    assert example == writer.installed()
    changed = {f"{section.name}.{f.name}" for section in dataclasses.fields(Config)
               if dataclasses.is_dataclass(getattr(Config(), section.name))
               for f in dataclasses.fields(getattr(Config(), section.name))
               if getattr(getattr(example, section.name), f.name) != getattr(getattr(Config(), section.name), f.name)}
    assert changed == {"render.backend", "source.uri", "output.provenance_key_file", "publish.endpoints",
                       "publish.curve_secret_key", "publish.curve_allowed_keys"}
    assert example.render.backend is RenderBackend.AUTO and example.source.uri == "/dev/video0"


def test_the_longest_status_interval_leaves_the_watchdog_two_spare_pings():
    """WATCHDOG=1 goes with each status message: its longest interval must fit WatchdogSec three times."""
    from dmask.config import PublishConfig

    unit = (SYSTEMD / "dmask.service").read_text()
    watchdog = float(re.search(r"^WatchdogSec=(\d+)$", unit, re.M).group(1))
    longest = next(f for f in dataclasses.fields(PublishConfig) if f.name == "status_interval_seconds").metadata["le"]
    assert 3 * longest <= watchdog


def test_the_example_config_says_how_to_make_its_keys_and_checks_once_they_exist(tmp_path):
    """On a fresh machine `config check` stopped at the missing key folder and did not say what makes it (issue 29)."""
    keys = tmp_path / "keys"
    config = tmp_path / "dmask.yaml"
    config.write_text((SYSTEMD / "dmask.yaml").read_text().replace("/etc/dmask/keys", str(keys)))
    fresh = dmask(tmp_path, "config", "check", config)
    assert fresh.returncode == 2 and fresh.stderr.endswith(f"no such directory: {keys / 'clients'}; {KEYS_HINT}\n")
    assert dmask(tmp_path, "keys", "generate", keys, "--name", "server").returncode == 0
    assert dmask(tmp_path, "keys", "generate", keys / "clients", "--name", "viewer").returncode == 0
    checked = dmask(tmp_path, "config", "check", config)
    assert checked.returncode == 0, checked.stderr

