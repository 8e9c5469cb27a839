#!/usr/bin/env bash
# measure-sync.sh [N...] — the ipvs backend's sync times in the VM's IPVS kernel (full sync of N
# services, one change, a restarted agent's full sync), printed as a table. Default N: 1000 10000.
set -euo pipefail

if [ "${IPVS_VM:-}" != 1 ]; then
  HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  cd "$HERE/../.."
  [ "$(id -u)" = 0 ] || { echo "measure-sync.sh: run as root" >&2; exit 1; }
  export IPVS_VM_ROOT=host IPVS_VM_TIMEOUT="${IPVS_VM_TIMEOUT:-900}" IPVS_VM_MEM="${IPVS_VM_MEM:-2048}"
  exec bash "$HERE/run.sh" "$HERE/measure-sync.sh" "$@"
fi

exec node --conditions=kplane-source --import tsx packages/backend-ipvs/test/measure-sync.vm.ts "$@"
