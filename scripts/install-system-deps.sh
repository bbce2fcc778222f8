#!/usr/bin/env bash
# Debian packages the tests use: Chromium for the page tests (and npm, which installs the
# axe-core they inject), zbar/poppler/librsvg to decode the printed QR codes, systemd-analyze to
# check the unit, DejaVu for accents on PNG labels, strace to see that an answer leaves after its
# fsync, wrk to load the device in `make bench`; debootstrap and systemd-nspawn when the real-install
# test is asked for.
# Installs only what is missing, so a prepared machine pays nothing.
set -euo pipefail

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v npm >/dev/null || need+=(npm)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
command -v rsvg-convert >/dev/null || need+=(librsvg2-bin)
command -v systemd-analyze >/dev/null || need+=(systemd)
ldconfig -p | grep -q libzbar.so || need+=(libzbar0)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v strace >/dev/null || need+=(strace)
command -v wrk >/dev/null || need+=(wrk)
# The opt-in real-install test (tests/test_install_systemd.py) boots a Debian tree it bootstraps.
if [ "${RESTAI_EDGE_SYSTEMD_TEST:-}" = 1 ]; then
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v systemd-nspawn >/dev/null || need+=(systemd-container)
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing Debian packages: ${need[*]}"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
