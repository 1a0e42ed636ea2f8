#!/usr/bin/env bash
# Refresh constraints.txt, the tested pins of every dependency (the appliance's,
# the demo's and the dev/eval extras'), resolved once for every supported
# Python (3.10 on the Jetson and newer) and platform (x86-64 and aarch64), so
# one file serves CI, a developer's machine and the appliance.
#
#   tools/lock.sh            # then run the tests in a new venv and commit
#
# pyproject.toml keeps the ranges for people who install the package into
# their own environment; the README's commands and .ci/run install with
# `-c constraints.txt`.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
python3 -m venv "$scratch/uv"
"$scratch/uv/bin/pip" install --quiet 'uv==0.13.9'
# backports-strenum 1.3 (ai-edge-litert's) installs on Python < 3.11 only, yet the
# universal resolution offers it to every Python; 1.2.8 installs on all of them.
echo 'backports-strenum==1.2.8' > "$scratch/overrides.txt"
"$scratch/uv/bin/uv" pip compile pyproject.toml \
    --extra dev --extra demo --universal --python-version 3.10 \
    --override "$scratch/overrides.txt" \
    --no-header --output-file constraints.txt --quiet
sed -i '1i # Tested pins; refresh with tools/lock.sh (uv pip compile --universal). Install with -c constraints.txt.' constraints.txt
echo "wrote constraints.txt ($(grep -c '==' constraints.txt) pins)"
