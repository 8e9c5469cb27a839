#!/usr/bin/env bash
# run-tests.sh [VITEST ARGS...] — kplane's IPVS tests (`*.vm.test.ts`) in a VM with a real IPVS kernel,
# part of `npm test`. On the host it prepares the VM (installs qemu and downloads the kernel package
# when missing, through setup.sh) and runs itself inside it in host mode (the host's node and
# node_modules, read-only, writes discarded). Fails loudly when the VM cannot run.
set -euo pipefail

if [ "${IPVS_VM:-}" != 1 ]; then
  HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  cd "$HERE/../.."
  [ "$(id -u)" = 0 ] || { echo "run-tests.sh: run as root (qemu shares the host's / with the VM)" >&2; exit 1; }
  # The VM stops a little before the `npm test` budget of this part, so a timeout says where it was.
  export IPVS_VM_ROOT=host IPVS_VM_TIMEOUT="${IPVS_VM_TIMEOUT:-570}"
  exec bash "$HERE/run.sh" "$HERE/run-tests.sh" "$@"
fi

# ---- inside the VM (the caller's working directory: the repository root)
echo "ipvs-vm: kernel $(uname -r), $(nproc) cpus; running the IPVS tests"
exec node node_modules/vitest/vitest.mjs run --config packages/backend-ipvs/vitest.vm.config.ts "$@"
