#!/usr/bin/env bash
# Builds kube-apiserver and etcd from their Go modules into a cache folder keyed by version, so a
# second run only checks that the binaries exist. Reference tooling only: never part of the product
# or `npm test`. Prints the folder holding the binaries on its last line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/apiserver/versions.sh
source "$here/versions.sh"

bin_dir="$APISERVER_CACHE/bin/kubernetes-$KUBERNETES_VERSION-etcd-$ETCD_VERSION"
# shellcheck source=scripts/apiserver/go-build.sh
source "$here/go-build.sh"

mkdir -p "$bin_dir"
build k8s.io/kubernetes "$KUBERNETES_VERSION" k8s.io/kubernetes/cmd/kube-apiserver "$bin_dir/kube-apiserver"
build go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3 "$bin_dir/etcd"
echo "$bin_dir"
