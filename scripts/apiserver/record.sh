#!/usr/bin/env bash
# `npm run apiserver:record`: starts the real kube-apiserver (building it on the first run), records
# its verdict on every validation-corpus case into recorded.json, and stops it again.
# Extra arguments go to the recorder (--cases DIR, --out FILE).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."
kubeconfig="$(bash "$here/apiserver.sh" up | tail -1)"
trap 'bash "$here/apiserver.sh" down' EXIT
npx tsx "$here/record-corpus.ts" --kubeconfig "$kubeconfig" "$@"
