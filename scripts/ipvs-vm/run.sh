#!/usr/bin/env bash
# run.sh SCRIPT [ARGS...] — boot a Debian 6.1 kernel (with IPVS) in QEMU, run the
# bash SCRIPT inside as root, stream its stdout+stderr here, exit with its code.
#   124 = timed out, 125 = the VM died without reporting an exit code.
# The script starts in the caller's $PWD when that path exists inside, else in /.
# Env (all optional):
#   IPVS_VM_TIMEOUT  seconds before the VM is killed (default 300)
#   IPVS_VM_ROOT     initramfs (default): minimal root (busybox, bash, ipvsadm, ipset,
#                    iptables, nft, conntrack, ip, kmod), host / read-only at /host,
#                    host node/npm/npx linked into /usr/local/bin.
#                    host: the script runs in the host's own filesystem (read-only 9p
#                    + in-memory overlay: writes are discarded), same paths and tools.
#   IPVS_VM_SHARE    host dirs (':'-separated) mounted read-only at the same path
#   IPVS_VM_OUT      host dir mounted read-write at the same path (results)
#   IPVS_VM_HOSTROOT 1 (default) share host / read-only at /host; 0 = don't
#   IPVS_VM_ENV      names of env vars (space-separated) to pass into the script
#   IPVS_VM_MEM      guest memory MiB (default 1024)   IPVS_VM_CPUS (default 2)
#   IPVS_VM_ACCEL    auto (default: kvm if /dev/kvm works and vmx/svm shown, else tcg)
#   IPVS_VM_PRELOAD  modules to load at boot (default: IPVS/ipset/netfilter set)
#   IPVS_VM_APPEND   extra kernel command line
#   IPVS_VM_DEBUG    1 = print the guest console (kernel log) to stderr at the end
#   IPVS_VM_KEEP     1 = keep the run directory (script, out, console.log)
#   IPVS_VM_CACHE    kernel/initramfs cache (default $HOME/.cache/kplane-ipvs-vm)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${IPVS_VM_CACHE:-${HOME:-/root}/.cache/kplane-ipvs-vm}"
die() { printf 'ipvs-vm: %s\n' "$*" >&2; exit 125; }

[ $# -ge 1 ] || { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2; }
SCRIPT="$1"; shift
[ -f "$SCRIPT" ] && [ -r "$SCRIPT" ] || die "no such script: $SCRIPT"
TIMEOUT="${IPVS_VM_TIMEOUT:-300}"
MODE="${IPVS_VM_ROOT:-initramfs}"
case "$MODE" in initramfs|host) ;; *) die "IPVS_VM_ROOT must be initramfs or host" ;; esac
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "IPVS_VM_TIMEOUT must be whole seconds"

# setup.sh knows the recipe: it returns at once when the cache is current, else builds it
IPVS_VM_CACHE="$CACHE" bash "$HERE/setup.sh" >&2 || die "setup.sh failed"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: run setup.sh"

RUN="$(mktemp -d "${TMPDIR:-/tmp}/ipvs-vm.XXXXXX")"
C="$RUN/ctl"; mkdir -p "$C"
QPID=""; TPID=""
cleanup() {
  [ -z "$QPID" ] || kill "$QPID" 2>/dev/null || true
  [ -z "$TPID" ] || kill "$TPID" 2>/dev/null || true
  [ "${IPVS_VM_KEEP:-0}" = 1 ] && printf 'ipvs-vm: kept %s\n' "$RUN" >&2 || rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cp "$SCRIPT" "$C/script"
if [ $# -gt 0 ]; then printf '%s\0' "$@" > "$C/args"; else : > "$C/args"; fi
printf '%s\n' "$MODE" > "$C/mode"
printf '%s\n' "$PWD" > "$C/cwd"
: > "$C/out"
{
  for v in ${IPVS_VM_ENV:-}; do
    [[ "$v" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "bad name in IPVS_VM_ENV: $v"
    if [ -n "${!v+x}" ]; then printf 'export %s=%q\n' "$v" "${!v}"; fi
  done
} > "$C/env"
[ -z "${IPVS_VM_PRELOAD:-}" ] || printf '%s\n' "$IPVS_VM_PRELOAD" > "$C/preload"

VIRTFS=(-virtfs "local,path=$C,mount_tag=ivmctl,security_model=none")
: > "$C/mounts"
if [ "${IPVS_VM_HOSTROOT:-1}" = 1 ] || [ "$MODE" = host ]; then
  VIRTFS+=(-virtfs "local,path=/,mount_tag=ivmhost,security_model=none,readonly=on,multidevs=remap")
  printf 'ivmhost\t/host\tro\n' >> "$C/mounts"
fi
n=0
add_share() { # dir ro|rw
  local d
  d="$(cd "$1" 2>/dev/null && pwd -P)" || die "no such directory: $1"
  [[ "$d" != *$'\t'* && "$d" != *,* ]] || die "unsupported character in path: $d"
  n=$((n + 1))
  if [ "$2" = rw ]; then
    VIRTFS+=(-virtfs "local,path=$d,mount_tag=ivm$n,security_model=none,multidevs=remap")
  else
    VIRTFS+=(-virtfs "local,path=$d,mount_tag=ivm$n,security_model=none,readonly=on,multidevs=remap")
  fi
  printf 'ivm%s\t%s\t%s\n' "$n" "$d" "$2" >> "$C/mounts"
}
if [ -n "${IPVS_VM_SHARE:-}" ]; then
  IFS=: read -r -a shares <<< "$IPVS_VM_SHARE"
  for s in "${shares[@]}"; do [ -z "$s" ] || add_share "$s" ro; done
fi
if [ -n "${IPVS_VM_OUT:-}" ]; then mkdir -p "$IPVS_VM_OUT"; add_share "$IPVS_VM_OUT" rw; fi

ACCEL="${IPVS_VM_ACCEL:-auto}"
if [ "$ACCEL" = auto ]; then
  # /dev/kvm alone is not enough: without vmx/svm visible (e.g. inside a Firecracker
  # VM) KVM guests hang in early boot, so use KVM only when the CPU shows them.
  if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then ACCEL=kvm; else ACCEL=tcg; fi
fi
case "$ACCEL" in
  kvm) ACCEL_ARGS=(-accel kvm -accel "tcg,tb-size=256" -cpu max) ;;   # falls back to tcg
  tcg) ACCEL_ARGS=(-accel "tcg,tb-size=256" -cpu max) ;;
  *) die "IPVS_VM_ACCEL must be auto, kvm or tcg" ;;
esac

KERNEL="$CACHE/vmlinux"   # ELF with a PVH entry: no BIOS, no decompression
[ -s "$KERNEL" ] || KERNEL="$CACHE/vmlinuz"
APPEND="console=ttyS0 loglevel=4 quiet norandmaps panic=-1 rdinit=/init cryptomgr.notests tsc=reliable"
APPEND+=" no_timer_check i8042.noaux i8042.nokbd i8042.nopnp random.trust_cpu=on ${IPVS_VM_APPEND:-}"

set +e
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 -nodefaults -display none -no-reboot \
  -machine q35 "${ACCEL_ARGS[@]}" -m "${IPVS_VM_MEM:-1024}" -smp "${IPVS_VM_CPUS:-2}" \
  -kernel "$KERNEL" -initrd "$CACHE/initramfs.cpio" -append "$APPEND" \
  -serial "file:$RUN/console.log" -nic none "${VIRTFS[@]}" \
  </dev/null >"$RUN/qemu.log" 2>&1 &
QPID=$!
tail -n +1 -s 0.1 -f --pid="$QPID" "$C/out" &
TPID=$!
wait "$QPID"; qrc=$?
QPID=""
wait "$TPID" 2>/dev/null
TPID=""
set -e

show_console() {
  { echo "---- ipvs-vm: guest console ----"; tr -d '\r' < "$RUN/console.log" 2>/dev/null | tail -n "${1:-40}"
    if [ -s "$RUN/qemu.log" ]; then echo "---- ipvs-vm: qemu ----"; tail -n 20 "$RUN/qemu.log"; fi; } >&2
}
[ "${IPVS_VM_DEBUG:-0}" != 1 ] || show_console 100000

if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  printf 'ipvs-vm: timed out after %ss\n' "$TIMEOUT" >&2
  exit 124
fi
rc="$(cat "$C/rc" 2>/dev/null || true)"
if ! [[ "$rc" =~ ^[0-9]+$ ]]; then
  # fallback: the exit line on the console
  rc="$(tr -d '\r' < "$RUN/console.log" 2>/dev/null | sed -n 's/^ipvs-vm: exit=\([0-9]\+\)$/\1/p' | tail -n1)"
fi
if ! [[ "$rc" =~ ^[0-9]+$ ]]; then
  printf 'ipvs-vm: VM stopped without an exit code (qemu rc=%s)\n' "$qrc" >&2
  [ "${IPVS_VM_DEBUG:-0}" = 1 ] || show_console 40
  exit 125
fi
exit "$rc"
