#!/bin/sh
# Install MediaPipe, the runtime `dmask bench --against-mediapipe` compares
# inference against, into its own venv.
#
# mediapipe depends on opencv-contrib-python and an older protobuf, which the
# appliance must not carry, so it gets a venv of its own, .venv-mediapipe/ in
# the repository (git-ignored), where `dmask bench` finds it. The same
# release the models come from (models/MODELS.md), pinned for comparable
# figures over time.
#
# Usage: tools/install_mediapipe.sh [VENV_DIR]
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$repo/.venv-mediapipe}
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "mediapipe==0.10.14" "numpy<2"
"$venv/bin/python" -c "import mediapipe; print('mediapipe', mediapipe.__version__)"
echo "mediapipe installed in $venv; dmask bench --against-mediapipe finds $repo/.venv-mediapipe by itself, otherwise pass --mediapipe-python $venv/bin/python"
