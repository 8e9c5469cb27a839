#!/bin/bash
# PID 1 inside the ipvs-vm guest (copied to /init of the initramfs by setup.sh).
# Mounts the run's control share (9p tag "ivmctl") at /run/ivm, which holds:
#   script  args (NUL separated)  env (bash)  cwd  mounts (tag<TAB>path<TAB>ro|rw)
#   mode (initramfs|host)  out (script stdout+stderr, written here)  rc (written here)
# then runs the script and powers off. Not meant to be run by hand.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LC_ALL=C
KVER="$(cat /etc/ipvs-vm-kernel)"
M9P="trans=virtio,version=9p2000.L,msize=512000"

say() { echo "ipvs-vm: $*" >/dev/console 2>/dev/null || true; }
halt() { sync; poweroff -f; sleep 5; echo o >/proc/sysrq-trigger; exit 1; }
fail() { say "init failed: $*"; halt; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
ln -sf /proc/self/fd /dev/fd; ln -sf fd/0 /dev/stdin; ln -sf fd/1 /dev/stdout; ln -sf fd/2 /dev/stderr
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/netns /run/ivm /sys/fs/cgroup
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null || true
mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
hostname ipvs-vm
ip link set lo up
echo /sbin/modprobe > /proc/sys/kernel/modprobe 2>/dev/null || true

modprobe -a virtio_pci 9pnet_virtio 9p || fail "cannot load 9p modules"
mount -t 9p -o "$M9P,cache=none" ivmctl /run/ivm || fail "cannot mount control share"
C=/run/ivm
MODE="$(cat "$C/mode" 2>/dev/null || echo initramfs)"

# extra 9p shares: read-only ones use the page cache (host files assumed static
# during the run); read-write ones go straight through.
mount_share() { # tag dir mode
  local tag="$1" dir="$2" mode="$3"
  mkdir -p "$dir" || return 1
  if [ "$mode" = rw ]; then mount -t 9p -o "$M9P,cache=none" "$tag" "$dir"
  else mount -t 9p -o "$M9P,cache=loose,ro" "$tag" "$dir"; fi
}
SHARES=()
if [ -f "$C/mounts" ]; then
  while IFS=$'\t' read -r tag dir mode; do
    [ -n "$tag" ] || continue
    if [ "$tag" = ivmhost ]; then
      mount_share ivmhost /host ro || fail "cannot mount host root"
    elif [ "$MODE" = host ]; then
      mount_share "$tag" "/run/ivm-shares/$tag" "$mode" || fail "cannot mount $dir"
      SHARES+=("$tag"$'\t'"$dir")
    else
      mount_share "$tag" "$dir" "$mode" || fail "cannot mount $dir"
    fi
  done < "$C/mounts"
fi

# kernel modules for the dataplane (the rest autoload through modprobe); br_netfilter so that, as
# on a Kubernetes node, bridged pod-to-pod replies pass the node's netfilter hooks (un-NAT); sctp for
# SCTP sockets in the test pods
PRELOAD="ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh nf_conntrack nf_defrag_ipv4 nf_defrag_ipv6 libcrc32c
 nfnetlink ip_set ip_set_hash_ip ip_set_hash_ipport ip_set_hash_ipportip ip_set_hash_ipportnet
 ip_set_hash_net ip_set_bitmap_port veth dummy nf_nat nf_tables nft_compat nft_chain_nat x_tables
 xt_set xt_mark xt_MASQUERADE xt_conntrack xt_comment xt_addrtype nf_conntrack_netlink bridge br_netfilter sctp"
[ ! -f "$C/preload" ] || PRELOAD="$(cat "$C/preload")"
# shellcheck disable=SC2086
modprobe -a $PRELOAD 2>/dev/console || say "warning: some modules failed to load"

# the host's node/npm (dynamically linked against the same glibc the guest carries)
if [ -d /host ]; then
  for n in node npm npx corepack; do
    [ ! -e "/host/usr/bin/$n" ] || ln -sf "/host/usr/bin/$n" "/usr/local/bin/$n"
  done
fi

ROOT=/
if [ "$MODE" = host ]; then
  # host root (read-only 9p) + tmpfs upper = a writable copy of the host's filesystem
  [ -d /host/usr ] || fail "host mode needs the host root share"
  mkdir -p /run/ovl /newroot
  mount -t tmpfs -o mode=755 tmpfs /run/ovl
  mkdir -p /run/ovl/upper /run/ovl/work
  mount -t overlay overlay -o lowerdir=/host,upperdir=/run/ovl/upper,workdir=/run/ovl/work,metacopy=off /newroot \
    || mount -t overlay overlay -o lowerdir=/host,upperdir=/run/ovl/upper,workdir=/run/ovl/work /newroot \
    || fail "overlay mount failed"
  ROOT=/newroot
  # copy up small files that libc opens again and again (getprotobyname etc.), so
  # they come from RAM and not through 9p (ipset restore: 9 s -> 1.4 s)
  for f in /etc/protocols /etc/services /etc/hosts /etc/nsswitch.conf /etc/passwd /etc/group \
           /etc/resolv.conf /etc/host.conf /etc/ld.so.cache /etc/localtime /etc/ethertypes; do
    [ ! -f "$ROOT$f" ] || touch -c "$ROOT$f" 2>/dev/null || true
  done
  mount -t proc proc $ROOT/proc
  mount -o rbind /sys $ROOT/sys
  mount -o rbind /dev $ROOT/dev
  # /tmp stays the host's (through the overlay: readable, writes stay in the VM)
  mount -t tmpfs -o mode=755 tmpfs $ROOT/run
  mkdir -p $ROOT/run/netns $ROOT/run/ivm $ROOT/lib/modules/"$KVER"
  mount -o bind /run/ivm $ROOT/run/ivm
  mount -o bind /lib/modules/"$KVER" $ROOT/lib/modules/"$KVER"
  for s in "${SHARES[@]}"; do
    tag="${s%%$'\t'*}"; dir="${s#*$'\t'}"
    mkdir -p "$ROOT$dir" && mount -o bind "/run/ivm-shares/$tag" "$ROOT$dir" || fail "cannot bind $dir"
  done
fi

# ---- run the script
args=()
if [ -s "$C/args" ]; then mapfile -d '' -t args < "$C/args"; fi
cwd="$(cat "$C/cwd" 2>/dev/null || echo /)"
export IPVS_VM=1 IPVS_VM_KERNEL="$KVER"
say "running script (mode=$MODE)"
chroot "$ROOT" /bin/bash -c '
  [ ! -f /run/ivm/env ] || . /run/ivm/env
  cd "$1" 2>/dev/null || cd /
  shift
  exec /bin/bash /run/ivm/script "$@"
' ivm-run "$cwd" "${args[@]}" </dev/null >>"$C/out" 2>&1
rc=$?
echo "$rc" > "$C/rc.tmp" && mv -f "$C/rc.tmp" "$C/rc"
say "exit=$rc"
halt
