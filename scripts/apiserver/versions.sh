# Versions of the reference peers (sourced by the other scripts). kubernetes v1.37.2 is the newest
# release whose go.mod asks for Go ≤ 1.26 (the machine's Go); etcd 3.7 is what it is tested with.
KUBERNETES_VERSION="${KUBERNETES_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
APISERVER_CACHE="${APISERVER_CACHE:-$repo_root/.cache/apiserver}"
export KUBERNETES_VERSION ETCD_VERSION APISERVER_CACHE
