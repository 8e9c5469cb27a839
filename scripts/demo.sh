#!/usr/bin/env bash
# `npm run demo [-- --backend iptables] [-- --keep]`: kplane in a sandbox of network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "The demo builds network namespaces and programs their rules: run it as root." >&2
  exit 1
fi
bash scripts/ensure-deps.sh
exec npx tsx --conditions kplane-source examples/demo/run-demo.ts "$@"
