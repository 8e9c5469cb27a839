#!/usr/bin/env bash
# `npm run bench [-- --quick|--full|--help ...]`: every backend side by side as the service count grows
# (bench/README.md). As root: it builds network namespaces and programs their rules, nothing outside them.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "The bench builds network namespaces and programs their rules: run it as root." >&2
  exit 1
fi
bash scripts/ensure-deps.sh
exec node --conditions=kplane-source --import tsx bench/src/main.ts "$@"
