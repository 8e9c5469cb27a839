#!/usr/bin/env bash
# `npm test`: every check, each part with its own time budget so a hang fails fast and says where.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh

part() {
  local name=$1 budget=$2
  shift 2
  echo
  echo "==> $name (budget ${budget}s)"
  local start=$SECONDS status=0
  timeout --foreground "$budget" "$@" || status=$?
  if [ "$status" -eq 124 ]; then echo "FAILED: $name exceeded its ${budget}s budget" >&2; exit 1; fi
  if [ "$status" -ne 0 ]; then echo "FAILED: $name (exit $status)" >&2; exit "$status"; fi
  echo "<== $name passed in $((SECONDS - start))s"
}

if [ "$(id -u)" -ne 0 ]; then
  echo "npm test runs kernel tests (network namespaces, real rules): run it as root" >&2
  exit 1
fi

part "typecheck" 180 npx tsc -p tsconfig.json
part "lint" 180 npx eslint .
part "unit tests" 300 npx vitest run --project unit
part "kernel tests (namespaces, real rules and traffic)" 600 npx vitest run --project kernel
part "IPVS VM tests (a Debian kernel with ip_vs under qemu)" 600 bash scripts/ipvs-vm/run-tests.sh
# The bench's smoke run: tiny N, every native backend, results into a temporary folder (never bench/results); no timing assertions.
part "bench smoke (npm run bench -- --quick)" 270 bash -c 'out=$(mktemp -d); npm run --silent bench -- --quick --no-vm --out "$out"; status=$?; rm -rf "$out"; exit $status'
