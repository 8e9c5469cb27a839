#!/usr/bin/env bash
# selftest.sh — end-to-end check of ipvs-vm. On the host: `bash selftest.sh`
# (boots the VM through run.sh and runs this same file inside it).
# Inside the VM: IPVS NAT service on a dummy kplane-ipvs0 VIP with two "pods" in
# network namespaces, ipset + iptables masquerade the kube-proxy way, round-robin
# check, timings of `ipvsadm -R` (1000 services) and `ipset restore` (10000
# entries), and `node -e` from the host.
set -euo pipefail

if [ "${IPVS_VM:-}" != 1 ]; then
  HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  t0=$EPOCHREALTIME
  set +e
  bash "$HERE/run.sh" "$HERE/selftest.sh" "$@"
  rc=$?
  set -e
  printf 'selftest: exit %s, wall %.1f s (boot + test, %s)\n' "$rc" \
    "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')" \
    "$(grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ] && echo "kvm if not overridden" || echo tcg)"
  exit "$rc"
fi

# ------------------------------------------------------------ inside the VM
ms() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%d", (b-a)*1000}'; }
step() { printf '== %s\n' "$*"; }
fails=0
check() { # check DESC CMD...
  local d="$1"; shift
  if "$@"; then printf 'PASS %s\n' "$d"; else printf 'FAIL %s\n' "$d"; fails=$((fails + 1)); fi
}

step "kernel $(uname -r), $(nproc) cpus, $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) MiB"
modprobe -a ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh nf_conntrack ip_set ip_set_hash_ipport veth dummy \
  xt_set xt_mark xt_MASQUERADE nft_compat nft_chain_nat
check "ip_vs loaded" grep -q '^ip_vs ' /proc/modules

NODE="$(command -v node || true)"
if [ -n "$NODE" ]; then
  out="$(node -e 'console.log("node", process.version, 6*7)')"
  echo "$out"
  check "node -e runs inside the VM" [ "${out##* }" = 42 ]
else
  check "node available (host /usr/bin/node via /host)" false
fi

step "kplane-ipvs0 + two pods"
ip link add kplane-ipvs0 type dummy
ip addr add 10.96.0.10/32 dev kplane-ipvs0
ip link set kplane-ipvs0 up
for i in 1 2; do
  ip netns add "pod$i"
  ip link add "veth-pod$i" type veth peer name eth0 netns "pod$i"
  ip addr add "10.0.$i.1/24" dev "veth-pod$i"
  ip link set "veth-pod$i" up
  ip -n "pod$i" link set lo up
  ip -n "pod$i" addr add "10.0.$i.2/24" dev eth0
  ip -n "pod$i" link set eth0 up
  ip -n "pod$i" route add default via "10.0.$i.1"
  if [ -n "$NODE" ]; then   # replies "<pod> <client address>"
    ip netns exec "pod$i" node -e '
      const name = process.argv[1];
      require("net").createServer(s => s.end(name + " " + s.remoteAddress + "\n")).listen(8080, "0.0.0.0");
    ' "pod$i" &
  else
    ip netns exec "pod$i" busybox nc -ll -p 8080 -e echo "pod$i ?" &
  fi
done
sysctl -qw net.ipv4.ip_forward=1
sysctl -qw net.ipv4.vs.conntrack=1
ask() { # ask IP PORT -> first line of the reply
  timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" && IFS= read -r -t 4 line <&3 && printf "%s\n" "$line"' ask "$1" "$2"
}
t=$EPOCHREALTIME
for i in 1 2; do
  until ask "10.0.$i.2" 8080 >/dev/null 2>&1; do
    sleep 0.2
    [ "$(ms "$t")" -lt 30000 ] || { echo "pod$i responder did not come up"; break; }
  done
done
echo "responders up after $(ms "$t") ms"

step "IPVS service 10.96.0.10:80 rr, NAT (-m) to both pods"
ipvsadm -A -t 10.96.0.10:80 -s rr
ipvsadm -a -t 10.96.0.10:80 -r 10.0.1.2:8080 -m
ipvsadm -a -t 10.96.0.10:80 -r 10.0.2.2:8080 -m
# kube-proxy style masquerade: mark traffic to cluster IPs (ipset), MASQUERADE in POSTROUTING
ipset create KUBE-CLUSTER-IP hash:ip,port
ipset add KUBE-CLUSTER-IP 10.96.0.10,tcp:80
iptables -t nat -N KUBE-SERVICES
iptables -t nat -N KUBE-POSTROUTING
iptables -t nat -A OUTPUT -j KUBE-SERVICES
iptables -t nat -A PREROUTING -j KUBE-SERVICES
iptables -t nat -A KUBE-SERVICES -m comment --comment "cluster IPs" \
  -m set --match-set KUBE-CLUSTER-IP dst,dst -j MARK --set-xmark 0x4000/0x4000
iptables -t nat -A POSTROUTING -j KUBE-POSTROUTING
iptables -t nat -A KUBE-POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE
ipvsadm -Ln

replies=()
for _ in 1 2 3 4 5 6; do replies+=("$(ask 10.96.0.10 80 || echo none)"); done
printf 'reply: %s\n' "${replies[@]}"
all="${replies[*]}"
check "pod1 answered through the VIP" grep -q pod1 <<< "$all"
check "pod2 answered through the VIP" grep -q pod2 <<< "$all"
check "every connection answered" bash -c '! grep -q none <<< "$1"' x "$all"
if [ -n "$NODE" ]; then
  check "pods saw the masqueraded source (10.0.x.1)" bash -c '! grep -qv " 10\.0\.[12]\.1$" <<< "$1"' x \
    "$(printf '%s\n' "${replies[@]}")"
fi
conntrack -L 2>/dev/null | grep -c 'dport=80' | sed 's/^/conntrack entries for :80: /' || true

step "ipvsadm -R: 1000 services x 2 real servers"
rules="$(mktemp)"
for i in $(seq 0 999); do
  vip="10.97.$((i / 250)).$((i % 250 + 1)):80"
  printf -- '-A -t %s -s rr\n-a -t %s -r 10.0.1.2:8080 -m -w 1\n-a -t %s -r 10.0.2.2:8080 -m -w 1\n' "$vip" "$vip" "$vip"
done > "$rules"
t=$EPOCHREALTIME
ipvsadm -R < "$rules"
IPVS_MS="$(ms "$t")"
n="$(ipvsadm -Ln | grep -c '^TCP')"
echo "ipvsadm -R 1000 services (3000 lines): ${IPVS_MS} ms; services now: $n"
check "1001 IPVS services present" [ "$n" = 1001 ]
t=$EPOCHREALTIME; ipvsadm -Sn > /dev/null; echo "ipvsadm -Sn: $(ms "$t") ms"

step "ipset restore: 10000 entries"
set_file="$(mktemp)"
{
  echo "create KUBE-TEST hash:ip,port family inet hashsize 1024 maxelem 65536"
  for i in $(seq 0 9999); do
    printf 'add KUBE-TEST 10.%d.%d.%d,tcp:%d\n' $((100 + i / 62500)) $((i / 250 % 250)) $((i % 250 + 1)) $((80 + i % 3))
  done
} > "$set_file"
t=$EPOCHREALTIME
ipset restore < "$set_file"
SET_MS="$(ms "$t")"
n="$(ipset list KUBE-TEST -t | awk -F': ' '/Number of entries/{print $2}')"
echo "ipset restore 10000 entries: ${SET_MS} ms; entries: $n"
check "10000 ipset entries present" [ "$n" = 10000 ]

step "summary"
echo "TIMING ipvsadm_restore_1000_services_ms=$IPVS_MS ipset_restore_10000_entries_ms=$SET_MS"
mapfile -t bg < <(jobs -p); [ "${#bg[@]}" = 0 ] || kill "${bg[@]}" 2>/dev/null || true
if [ "$fails" = 0 ]; then echo "SELFTEST PASS"; else echo "SELFTEST FAIL ($fails)"; exit 1; fi
