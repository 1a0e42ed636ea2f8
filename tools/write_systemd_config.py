#!/usr/bin/env python3
"""Write systemd/dmask.yaml, the installed example config, from the settings' own descriptions.

Every setting with its default and its meaning (dmask.config.describe), except
the few an installation sets: the camera, the publisher off loopback with its
CURVE keys, the sealing key's place and the renderer. tools/install_service.sh
copies the file to /etc/dmask/dmask.yaml. --check exits 1 where the committed
file differs from what this writes (CI runs it through the tests).

Usage: python tools/write_systemd_config.py [--check]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dmask.config import Config, RenderBackend  # noqa: E402
from dmask.config.describe import commented_yaml  # noqa: E402

TARGET = REPO / "systemd" / "dmask.yaml"
HEADER = """\
# dmask daemon configuration, as tools/install_service.sh installs it in /etc/dmask/dmask.yaml.
# Every setting with its meaning and bounds; the values are the defaults, except the camera, the
# publisher (off loopback, so with its CURVE keys), the sealing key's place and the renderer, set for
# an installation. Written by tools/write_systemd_config.py from the settings' own descriptions
# (`dmask config show` prints the same). Check a file with
#   dmask config check /etc/dmask/dmask.yaml

"""


def installed() -> Config:
    """The defaults, with what an installation sets."""
    d = Config()
    return dataclasses.replace(
        d,
        render=dataclasses.replace(d.render, backend=RenderBackend.AUTO),
        output=dataclasses.replace(d.output, provenance_key_file="/var/lib/dmask/provenance.key"),
        source=dataclasses.replace(d.source, uri="/dev/video0"),
        publish=dataclasses.replace(d.publish, endpoints=("tcp://0.0.0.0:5555",),
                                    curve_secret_key="/etc/dmask/keys/server.key_secret",
                                    curve_allowed_keys="/etc/dmask/keys/clients"),
    )


def text() -> str:
    return HEADER + commented_yaml(installed(), Config())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is not what this writes")
    args = parser.parse_args()
    if args.check:
        if TARGET.read_text() != text():
            print(f"{TARGET.relative_to(REPO)} is not what the settings describe: run python tools/write_systemd_config.py")
            return 1
        return 0
    TARGET.write_text(text())
    print(f"wrote {TARGET.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
