#!/usr/bin/env bash
# Builds the real kube-proxy from the k8s.io/kubernetes module (the release of versions.sh) into a
# cache folder keyed by version, so a second run only checks that the binary exists. The bench's
# peer (`npm run bench -- --peer kube-proxy`); never part of the product or `npm test`. Prints the
# binary's path on its last line.
set -euo pipefail

apiserver="$(cd "$(dirname "${BASH_SOURCE[0]}")/../apiserver" && pwd)"
# shellcheck source=scripts/apiserver/versions.sh
source "$apiserver/versions.sh"
# shellcheck source=scripts/apiserver/go-build.sh
source "$apiserver/go-build.sh"

output="$APISERVER_CACHE/bin/kube-proxy-$KUBERNETES_VERSION/kube-proxy"
build k8s.io/kubernetes "$KUBERNETES_VERSION" k8s.io/kubernetes/cmd/kube-proxy "$output"
echo "$output"
