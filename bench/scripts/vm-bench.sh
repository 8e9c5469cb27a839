#!/usr/bin/env bash
# Runs inside the IPVS VM (scripts/ipvs-vm/run.sh, IPVS_VM_ROOT=host, started by the bench): the
# bench's ipvs part on a kernel with ip_vs. The host reads its JSON lines and the results it writes.
set -euo pipefail
exec node --conditions=kplane-source --import tsx bench/src/main.ts --inner "$@"
