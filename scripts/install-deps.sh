#!/usr/bin/env bash
# System packages Vane builds against (OpenBLAS, libhdf5, pkg-config), tools its tests use (hdf5-tools), and pip
# for fetching the default model. Installs only what is missing.
set -euo pipefail
need=()
for pkg in libopenblas-dev libhdf5-dev hdf5-tools pkg-config; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
# Any working `python3 -m pip` will do (Debian's, or a pyenv one).
python3 -m pip --version >/dev/null 2>&1 || need+=(python3 python3-pip)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
