#!/usr/bin/env bash
# Install layerping (and pip itself, when a fresh Debian machine has none). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -m pip --version >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
fi
# Debian's own python3 refuses system-wide installs (PEP 668) unless told otherwise.
python3 -m pip install -q --disable-pip-version-check "${@:-.}" 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check --break-system-packages "${@:-.}"
