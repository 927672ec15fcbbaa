#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine as root: installs what the tests need
# (when missing), then runs ruff, mypy --strict and pytest (unit, engine, lab and CLI tests).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pair in ip:iproute2 ping:iputils-ping tcpdump:tcpdump tshark:tshark nft:nftables setpriv:util-linux \
            fping:fping nmap:nmap; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if ((${#need[@]})); then
    echo "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

bash scripts/install.sh -e '.[test]'

echo "== ruff"; python3 -m ruff check src tests bench
echo "== mypy --strict"; python3 -m mypy --strict src/layerping
echo "== pytest"; python3 -m pytest -q -p no:cacheprovider "$@"
