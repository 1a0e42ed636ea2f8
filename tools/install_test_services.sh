#!/usr/bin/env bash
# What the tests start, from Debian: the PACS they deliver to, Orthanc with
# its DICOMweb plug-in (tests/orthanc.py starts it on loopback, never as a
# service), the viewers they read its files with, dcmtk (dcmdump) and
# dicom3tools (dciodvfy), and the browser that logs in to dmask view,
# Chromium with its chromedriver (tests/test_view.py, through Selenium).
# Already there: nothing is done. Needs root or sudo (apt-get).
set -euo pipefail
packages=(orthanc orthanc-dicomweb dcmtk dicom3tools chromium chromium-driver)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# policy-rc.d 101: the package's own Orthanc service is not started (the tests
# start theirs); a machine's own policy-rc.d is left as it is
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d > /dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
