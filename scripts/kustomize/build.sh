#!/usr/bin/env bash
# Builds kustomize from its Go module (the release below) into the reference-build cache, for the
# deploy tests on a machine with neither kustomize nor kubectl (packages/core/test/kubernetes/
# deploy-manifests.test.ts needs one on PATH; npm test never builds it). A second run only checks that the binary exists. Prints
# the binary's path on its last line. Test tooling only: never part of the product.
set -euo pipefail

apiserver="$(cd "$(dirname "${BASH_SOURCE[0]}")/../apiserver" && pwd)"
# shellcheck source=scripts/apiserver/versions.sh
source "$apiserver/versions.sh"
# shellcheck source=scripts/apiserver/go-build.sh
source "$apiserver/go-build.sh"

# The newest release whose go.mod asks for Go <= 1.26 (the machine's Go).
KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.8.2}"
output="$APISERVER_CACHE/bin/kustomize-$KUSTOMIZE_VERSION/kustomize"
build sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION" sigs.k8s.io/kustomize/kustomize/v5 "$output"
echo "$output"
