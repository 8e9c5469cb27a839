#!/usr/bin/env bash
# A real kube-apiserver with its etcd, on 127.0.0.1 only, as the referee for kplane's validation
# corpus and its Kubernetes-source tests. Reference tooling only: never part of `npm test`.
#
#   apiserver.sh        build (cached), start, print how to use it, stop on Ctrl-C
#   apiserver.sh up     build (cached), start in the background, return once it answers
#   apiserver.sh down   stop what `up` started
#
# Every start begins with an empty etcd, so each run sees a fresh cluster.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/apiserver/versions.sh
source "$here/versions.sh"

APISERVER_PORT="${APISERVER_PORT:-16443}"
ETCD_CLIENT_PORT="${ETCD_CLIENT_PORT:-12379}"
ETCD_PEER_PORT="${ETCD_PEER_PORT:-12380}"
# IPv6 first: the `kubernetes` Service takes the first address of the primary range, which
# leaves 10.96.0.1 free for the objects of the tests and the corpus (both ranges are those the
# corpus' ClusterIPs come from).
SERVICE_CIDRS="${SERVICE_CIDRS:-fd00:10:96::/108,10.96.0.0/12}"
# More kube-apiserver flags, space-separated (e2e.sh passes --watch-cache=false for one pass).
read -r -a extra_args <<< "${APISERVER_ARGS:-}"
run_dir="$APISERVER_CACHE/run"
pki="$APISERVER_CACHE/pki"
token_file="$pki/token"

# Certificates and keys made once and kept: a CA, the serving certificate for 127.0.0.1, the
# service-account signing key and one admin token.
make_pki() {
  [[ -f "$pki/done" ]] && return
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=kplane-reference-ca \
      -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout serving.key -out serving.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > serving.ext
    openssl x509 -req -in serving.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile serving.ext -out serving.crt 2>/dev/null
    openssl genrsa -out service-account.key 2048 2>/dev/null
    openssl rsa -in service-account.key -pubout -out service-account.pub 2>/dev/null
    openssl rand -hex 16 > token
    echo "$(cat token),admin,admin,system:masters" > tokens.csv
    touch done
  )
}

write_kubeconfig() {
  cat > "$run_dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: reference
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $pki/ca.crt
users:
- name: admin
  user:
    token: $(cat "$token_file")
contexts:
- name: reference
  context: { cluster: reference, user: admin }
current-context: reference
EOF
}

# Waits until `url` answers 200 with the admin token (or the process `pid` dies).
wait_ready() {
  local url="$1" pid="$2" name="$3" log="$4"
  for _ in $(seq 1 240); do
    if curl -fsS --cacert "$pki/ca.crt" -H "Authorization: Bearer $(cat "$token_file")" "$url" >/dev/null 2>&1; then return; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited during start; last lines of $log:" >&2
      tail -20 "$log" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "$name did not become ready in 120 s; see $log" >&2
  exit 1
}

up() {
  if [[ -f "$run_dir/apiserver.pid" ]] && kill -0 "$(cat "$run_dir/apiserver.pid")" 2>/dev/null; then
    echo "already running (pid $(cat "$run_dir/apiserver.pid")); kubeconfig: $run_dir/kubeconfig" >&2
    return
  fi
  local bin_dir
  bin_dir="$(bash "$here/build.sh" | tail -1)"
  make_pki
  rm -rf "$run_dir"
  mkdir -p "$run_dir"

  "$bin_dir/etcd" --name reference --data-dir "$run_dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "reference=http://127.0.0.1:$ETCD_PEER_PORT" \
    > "$run_dir/etcd.log" 2>&1 &
  echo $! > "$run_dir/etcd.pid"
  wait_ready_etcd

  # --endpoint-reconciler-type=none: the `kubernetes` Service would otherwise get an endpoint on
  # 127.0.0.1, which EndpointSlice validation refuses (loopback).
  "$bin_dir/kube-apiserver" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
    --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --tls-cert-file="$pki/serving.crt" --tls-private-key-file="$pki/serving.key" \
    --token-auth-file="$pki/tokens.csv" --authorization-mode=AlwaysAllow \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$pki/service-account.pub" --service-account-signing-key-file="$pki/service-account.key" \
    --service-cluster-ip-range="$SERVICE_CIDRS" --service-node-port-range=30000-32767 \
    --endpoint-reconciler-type=none --profiling=false ${extra_args[@]+"${extra_args[@]}"} \
    > "$run_dir/apiserver.log" 2>&1 &
  echo $! > "$run_dir/apiserver.pid"
  write_kubeconfig
  wait_ready "https://127.0.0.1:$APISERVER_PORT/readyz" "$(cat "$run_dir/apiserver.pid")" kube-apiserver "$run_dir/apiserver.log"
  # The default namespace is made by a controller shortly after /readyz; the corpus needs it.
  wait_ready "https://127.0.0.1:$APISERVER_PORT/api/v1/namespaces/default/serviceaccounts" "$(cat "$run_dir/apiserver.pid")" kube-apiserver "$run_dir/apiserver.log"
}

wait_ready_etcd() {
  local pid
  pid="$(cat "$run_dir/etcd.pid")"
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health" >/dev/null 2>&1; then return; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "etcd exited during start; last lines of $run_dir/etcd.log:" >&2
      tail -20 "$run_dir/etcd.log" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "etcd did not become ready in 60 s; see $run_dir/etcd.log" >&2
  exit 1
}

down() {
  for name in apiserver etcd; do
    local pid_file="$run_dir/$name.pid"
    [[ -f "$pid_file" ]] || continue
    local pid
    pid="$(cat "$pid_file")"
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pid_file"
  done
}

usage() {
  cat <<EOF
kube-apiserver $KUBERNETES_VERSION (etcd $ETCD_VERSION) listening on https://127.0.0.1:$APISERVER_PORT
  kubeconfig:  $run_dir/kubeconfig
  token:       $(cat "$token_file")
  CA:          $pki/ca.crt
  logs:        $run_dir/apiserver.log, $run_dir/etcd.log
  try:         curl --cacert $pki/ca.crt -H "Authorization: Bearer \$(cat $token_file)" https://127.0.0.1:$APISERVER_PORT/version
  record:      npm run apiserver:record     (the validation corpus' verdicts → recorded.json)
  end to end:  npm run apiserver:e2e        (the Kubernetes-source tests against this server)
EOF
}

case "${1:-foreground}" in
  up) up; echo "$run_dir/kubeconfig" ;;
  down) down ;;
  foreground)
    trap down EXIT
    up
    usage
    echo "Ctrl-C stops both."
    wait "$(cat "$run_dir/apiserver.pid")" || true
    ;;
  *) echo "usage: $0 [up|down]" >&2; exit 2 ;;
esac
