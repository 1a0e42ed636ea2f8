#!/usr/bin/env bash
# Installs dmask as a systemd service: a dedicated user in the video group,
# a virtualenv under PREFIX, the units (daemon and live view), /etc/dmask/dmask.yaml and /etc/dmask/keys
# with tight permissions. Run as root from the repository:
#   sudo tools/install_service.sh [PREFIX]   (default /opt/dmask)
set -euo pipefail
prefix=${1:-/opt/dmask}
repo=$(cd "$(dirname "$0")/.." && pwd)

id dmask >/dev/null 2>&1 || useradd --system --home-dir /var/cache/dmask --shell /usr/sbin/nologin dmask
usermod -a -G video dmask

install -d -m 0755 "$prefix"
cp -r "$repo/dmask" "$repo/models" "$repo/kernels" "$repo/pyproject.toml" "$repo/README.md" "$prefix/"
python3 -m venv --system-site-packages "$prefix/venv"
"$prefix/venv/bin/pip" install --quiet -e "$prefix"   # editable: models/ and kernels/ stay beside the package

install -d -m 0750 -o root -g dmask /etc/dmask
install -d -m 0750 -o root -g dmask /etc/dmask/keys
[ -e /etc/dmask/dmask.yaml ] || install -m 0640 -o root -g dmask "$repo/systemd/dmask.yaml" /etc/dmask/dmask.yaml
[ -e /etc/dmask/keys/server.key_secret ] || "$prefix/venv/bin/dmask" keys generate /etc/dmask/keys --name server
chown root:dmask /etc/dmask/keys/server.key_secret && chmod 0640 /etc/dmask/keys/server.key_secret
install -d -m 0750 -o root -g dmask /etc/dmask/keys/clients
# the provenance key's folder (output.provenance_key_file): only the user that records and exports reads it
install -d -m 0700 -o dmask -g dmask /var/lib/dmask

for unit in dmask.service dmask-view.service; do
    sed "s|@PREFIX@|$prefix|g" "$repo/systemd/$unit" > "/etc/systemd/system/$unit"
done
systemctl daemon-reload
echo "installed; put client public keys in /etc/dmask/keys/clients, edit /etc/dmask/dmask.yaml, then: systemctl enable --now dmask"
echo "for the live view: dmask view add-user NAME --config /etc/dmask/dmask.yaml, then: systemctl enable --now dmask-view"
