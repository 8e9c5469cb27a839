#!/usr/bin/env bash
# `npm run apiserver:e2e`: the Kubernetes-source tests (informers, watch restarts, 1,000 Services)
# against a real kube-apiserver instead of the in-repo fake. Starts it (building it on the first
# run), runs the tests one file at a time (they share the one cluster), and stops it.
# Extra arguments go to vitest (-t NAME, --reporter verbose).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."
kubeconfig="$(bash "$here/apiserver.sh" up | tail -1)"
trap 'bash "$here/apiserver.sh" down' EXIT
KPLANE_TEST_APISERVER_KUBECONFIG="$kubeconfig" npx vitest run --project unit --no-file-parallelism \
  packages/core/test/kubernetes/kubernetes-source.test.ts \
  packages/core/test/kubernetes/watch-recovery.test.ts \
  packages/core/test/kubernetes/scale.test.ts \
  "$@"
