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
export KPLANE_TEST_APISERVER_KUBECONFIG="$kubeconfig"
# The 1,000-Service test last and on its own (vitest orders files by its own measure): it leaves
# 6,000 objects for the next test's start to delete.
status=0
npx vitest run --project unit --no-file-parallelism \
  packages/core/test/kubernetes/kubernetes-source.test.ts \
  packages/core/test/kubernetes/watch-recovery.test.ts "$@" || status=$?
npx vitest run --project unit packages/core/test/kubernetes/scale.test.ts "$@" || status=$?
exit "$status"
