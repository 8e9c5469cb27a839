#!/usr/bin/env bash
# `npm run apiserver:e2e`: the Kubernetes-source tests (informers, watch restarts, 1,000 Services)
# against a real kube-apiserver instead of the in-repo fake. Starts it (building it on the first
# run), runs the tests one file at a time (they share the one cluster), and stops it.
# Extra arguments go to vitest (--reporter verbose).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."
trap 'bash "$here/apiserver.sh" down' EXIT
status=0
vitest() { npx vitest run --project unit --no-file-parallelism "$@" || status=$?; }

# 1. The API server as it runs in clusters (with its watch cache): every test but those that
#    compact the history on demand, which a watch cache does not allow.
KPLANE_TEST_APISERVER_KUBECONFIG="$(bash "$here/apiserver.sh" up | tail -1)"
export KPLANE_TEST_APISERVER_KUBECONFIG
vitest packages/core/test/kubernetes/kubernetes-source.test.ts packages/core/test/kubernetes/watch-recovery.test.ts \
  -t '^(?!.*compaction)' "$@"
# 2. Without its watch cache, watches are served from etcd, and compacting etcd gives a watch from
#    before the compaction the API server's own 410 Gone.
bash "$here/apiserver.sh" down
KPLANE_TEST_APISERVER_KUBECONFIG="$(APISERVER_ARGS=--watch-cache=false bash "$here/apiserver.sh" up | tail -1)"
export KPLANE_TEST_ETCD_URL="http://127.0.0.1:${ETCD_CLIENT_PORT:-12379}"
vitest packages/core/test/kubernetes/watch-recovery.test.ts -t 'compaction' "$@"
unset KPLANE_TEST_ETCD_URL
# 3. The 1,000-Service test on its own, on a fresh server with its watch cache.
bash "$here/apiserver.sh" down
KPLANE_TEST_APISERVER_KUBECONFIG="$(bash "$here/apiserver.sh" up | tail -1)"
vitest packages/core/test/kubernetes/scale.test.ts "$@"
exit "$status"
