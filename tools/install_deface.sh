#!/bin/sh
# Install deface, the tool `dmask bench` compares against, into its own venv.
#
# deface depends on opencv-python (with GUI libraries), which would overwrite
# the appliance's opencv-python-headless if both lived in one environment, so
# it gets a venv of its own, .venv-deface/ in the repository (git-ignored),
# where `dmask bench` finds it. Pinned for comparable figures over time.
#
# Usage: tools/install_deface.sh [VENV_DIR]
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$repo/.venv-deface}
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "deface==1.5.0"
"$venv/bin/deface" --version
echo "deface installed in $venv; dmask bench finds $repo/.venv-deface by itself, otherwise pass --deface $venv/bin/deface"
