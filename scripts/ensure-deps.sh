#!/usr/bin/env bash
# Installs what kplane's commands need when it is missing: npm dependencies (and the build they
# trigger), and, as root on Debian, the kernel tools. Safe to run again: it only acts on what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund
elif [ ! -f packages/core/dist/cli/main.js ]; then
  echo "==> npm run build"
  npm run build
fi

# Debian packages: the tools every backend drives, plus what tests and the demo send traffic with.
want=(nftables iptables ipset ipvsadm conntrack iproute2 iperf3 procps kmod "$@")
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "missing Debian packages: ${missing[*]} (run as root on Debian, or install them yourself)" >&2
    exit 1
  fi
  echo "==> apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
fi
