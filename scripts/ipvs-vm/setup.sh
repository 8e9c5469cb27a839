#!/usr/bin/env bash
# setup.sh — install what ipvs-vm needs and build the guest kernel + initramfs.
# Idempotent: apt packages are installed only when missing; the kernel and the
# initramfs are rebuilt only when missing or when this tool's recipe changed.
#
# Env:
#   IPVS_VM_CACHE    cache dir (default $HOME/.cache/kplane-ipvs-vm)
#   IPVS_VM_REBUILD  1 = rebuild the initramfs even if the cache looks complete
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${IPVS_VM_CACHE:-${HOME:-/root}/.cache/kplane-ipvs-vm}"
log() { printf '[ipvs-vm setup] %s\n' "$*" >&2; }
die() { printf '[ipvs-vm setup] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt-get, qemu with 9p)"

# ---------------------------------------------------------------- packages
# Installed on the host: the guest gets copies of these binaries + their libs.
# The kernel and busybox-static are only downloaded and unpacked into the cache
# (no host kernel/initramfs changes, no conflict with a dynamic busybox).
# python3: the SCTP tests' client and servers (Node has no SCTP sockets), run in host mode.
HOST_PKGS=(qemu-system-x86 ipvsadm ipset iptables nftables conntrack kmod iproute2
           cpio xz-utils zstd gzip binutils bash coreutils python3)

APT_UPDATED=0
apt_update_once() {
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    APT_UPDATED=1
  fi
}
# apt lists missing entirely (fresh container): update first
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then apt_update_once; fi

missing=()
for p in "${HOST_PKGS[@]}"; do
  st="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
  [ "$st" = "install ok installed" ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
    apt_update_once
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
      || die "apt-get install failed"
  fi
fi

# ---------------------------------------------------------------- recipe id
# The build is keyed by a hash of the recipe (this file + guest init); a change
# in either triggers a rebuild of the initramfs (the kernel download is kept).
RECIPE_ID="$(cat "$HERE/setup.sh" "$HERE/guest-init.sh" | sha256sum | cut -c1-16)"
mkdir -p "$CACHE"
cache_ok() {
  [ -s "$CACHE/vmlinuz" ] && [ -s "$CACHE/initramfs.cpio" ] \
    && [ "$(cat "$CACHE/stamp" 2>/dev/null || true)" = "$RECIPE_ID" ]
}
if [ "${IPVS_VM_REBUILD:-0}" != 1 ] && cache_ok; then
  log "cache up to date: $CACHE (kernel $(cat "$CACHE/kernel-version"))"
  exit 0
fi
exec 9>"$CACHE/.lock"
flock 9
# another setup.sh may have built it while we waited for the lock
if [ "${IPVS_VM_REBUILD:-0}" != 1 ] && cache_ok; then
  log "cache up to date: $CACHE (built concurrently)"
  exit 0
fi

T0=$EPOCHREALTIME
# ---------------------------------------------------------------- downloads
fetch_deb() { # $1 = package name -> path of .deb in $CACHE/debs
  local pkg="$1" f
  mkdir -p "$CACHE/debs"
  f="$(ls "$CACHE/debs/${pkg}_"*.deb 2>/dev/null | head -n1 || true)"
  if [ -z "$f" ]; then
    log "downloading $pkg"
    ( cd "$CACHE/debs" && chmod 755 . && { apt-get download -qq "$pkg" >&2 2>/dev/null \
        || { apt_update_once; apt-get download -qq "$pkg" >&2; }; } ) || die "apt-get download $pkg failed"
    f="$(ls "$CACHE/debs/${pkg}_"*.deb | head -n1)"
  fi
  printf '%s\n' "$f"
}

# kernel: the versioned package behind linux-image-amd64 (Debian 12: 6.1.x)
KPKG="$(cat "$CACHE/kernel-package" 2>/dev/null || true)"
if [ -z "$KPKG" ]; then
  KPKG="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')"
  if [ -z "$KPKG" ]; then
    apt_update_once
    KPKG="$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')"
  fi
  [ -n "$KPKG" ] || die "cannot resolve linux-image-amd64"
fi
KDEB="$(fetch_deb "$KPKG")"
BBDEB="$(fetch_deb busybox-static)"

BUILD="$CACHE/.build.$$"
rm -rf "$BUILD"; mkdir -p "$BUILD"
trap 'rm -rf "$BUILD"' EXIT

log "unpacking $(basename "$KDEB")"
mkdir -p "$BUILD/kpkg" "$BUILD/bbpkg"
dpkg-deb -x "$KDEB" "$BUILD/kpkg"
dpkg-deb -x "$BBDEB" "$BUILD/bbpkg"
KVER="$(ls "$BUILD/kpkg/lib/modules" | head -n1)"
[ -n "$KVER" ] && [ -f "$BUILD/kpkg/boot/vmlinuz-$KVER" ] || die "no kernel in $KDEB"
KMOD_SRC="$BUILD/kpkg/lib/modules/$KVER"
# module dependency data for the full tree (the .deb ships none)
depmod -b "$BUILD/kpkg" "$KVER"

# ---------------------------------------------------------------- rootfs
R="$BUILD/root"
mkdir -p "$R"/{usr/bin,usr/sbin,usr/lib,usr/lib64,usr/local/bin,etc,proc,sys,dev,tmp,run,mnt,host,root,var/run,var/tmp}
ln -s usr/bin "$R/bin"; ln -s usr/sbin "$R/sbin"; ln -s usr/lib "$R/lib"; ln -s usr/lib64 "$R/lib64"
chmod 1777 "$R/tmp" "$R/var/tmp"

# copy a host file (following symlinks) to the same path in the rootfs
put() { local src="$1" dst="${2:-$1}"; mkdir -p "$R$(dirname "$dst")"; rm -f "$R$dst"; cp -L "$src" "$R$dst"; }
declare -A LIBS_DONE=()
put_libs() { # copy the shared libs an ELF file needs
  local f="$1" lib
  while read -r lib; do
    [ -n "$lib" ] && [ -z "${LIBS_DONE[$lib]:-}" ] || continue
    LIBS_DONE[$lib]=1
    put "$lib"
  done < <(ldd "$f" 2>/dev/null | awk '/=> \//{print $3} /^\s*\/[^ ]+ \(/{print $1}')
}
put_bin() { # put_bin /path/to/binary [dest]: binary + libs
  local src="$1" dst="${2:-$1}"
  put "$src" "$dst"
  put_libs "$src"   # ldd fails quietly on scripts
}
# link name -> target inside the rootfs (absolute target)
link() { mkdir -p "$R$(dirname "$1")"; rm -f "$R$1"; ln -s "$2" "$R$1"; }

# the dynamic loader
put /lib64/ld-linux-x86-64.so.2

# bash is /bin/sh
put_bin /usr/bin/bash /usr/bin/bash; link /usr/bin/sh /usr/bin/bash

# kmod + its names
put_bin "$(readlink -f "$(command -v kmod)")" /usr/bin/kmod
for n in modprobe insmod rmmod lsmod modinfo depmod; do link /usr/sbin/$n /usr/bin/kmod; done

# networking tools (real paths; names recreated as on Debian)
for b in ip ss bridge tc ipvsadm ipset nft conntrack; do
  p="$(command -v "$b" || true)"; [ -n "$p" ] || die "host lacks $b"
  put_bin "$(readlink -f "$p")" "$p"
done
for b in ipvsadm-save ipvsadm-restore; do p="$(command -v "$b" || true)"; [ -z "$p" ] || put "$p"; done
put_bin /usr/sbin/xtables-nft-multi; put_bin /usr/sbin/xtables-legacy-multi
for t in iptables ip6tables; do
  for s in "" -save -restore; do
    link "/usr/sbin/$t-nft$s" /usr/sbin/xtables-nft-multi
    link "/usr/sbin/$t-legacy$s" /usr/sbin/xtables-legacy-multi
    # default flavour = the host's alternative (nft on Debian 12)
    if [[ "$(readlink -f "/usr/sbin/$t$s" 2>/dev/null || true)" == *legacy* ]]; then
      link "/usr/sbin/$t$s" /usr/sbin/xtables-legacy-multi
    else
      link "/usr/sbin/$t$s" /usr/sbin/xtables-nft-multi
    fi
  done
done
XTDIR=/usr/lib/x86_64-linux-gnu/xtables
if [ -d "$XTDIR" ]; then
  mkdir -p "$R$XTDIR"
  for so in "$XTDIR"/*.so; do cp -L "$so" "$R$XTDIR/"; put_libs "$so"; done
fi
# C++ runtime so the host's node (shared from /host) runs with the guest loader
for so in libstdc++.so.6 libgcc_s.so.1 libdl.so.2 libpthread.so.0 libm.so.6 libatomic.so.1; do
  for d in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu; do
    if [ -e "$d/$so" ]; then put "$d/$so" "/usr/lib/x86_64-linux-gnu/$so"; break; fi
  done
done
NODE_BIN="$(command -v node || true)"
[ -z "$NODE_BIN" ] || put_libs "$(readlink -f "$NODE_BIN")"

# busybox for everything else (never shadows a real binary copied above)
BB="$BUILD/bbpkg/bin/busybox"; [ -f "$BB" ] || BB="$BUILD/bbpkg/usr/bin/busybox"
[ -f "$BB" ] || die "busybox not found in $BBDEB"
cp "$BB" "$R/usr/bin/busybox"
while read -r app; do
  case "$app" in */sh|*/bash|*/modprobe|*/insmod|*/rmmod|*/lsmod|*/modinfo|*/depmod|*/ip) continue ;; esac
  [ -e "$R/$app" ] || [ -L "$R/$app" ] || { mkdir -p "$R/$(dirname "$app")"; ln -s /usr/bin/busybox "$R/$app"; }
done < <("$R/usr/bin/busybox" --list-full)

# /etc
for f in /etc/protocols /etc/services /etc/ethertypes /etc/nsswitch.conf /etc/ld.so.conf; do
  [ ! -e "$f" ] || put "$f"
done
[ ! -d /etc/ld.so.conf.d ] || cp -rL /etc/ld.so.conf.d "$R/etc/"
[ ! -d /etc/iproute2 ] || cp -rL /etc/iproute2 "$R/etc/"
[ ! -d /usr/share/iproute2 ] || { mkdir -p "$R/usr/share"; cp -rL /usr/share/iproute2 "$R/usr/share/"; }
printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > "$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$R/etc/group"
printf '127.0.0.1 localhost ipvs-vm\n::1 localhost ip6-localhost\n' > "$R/etc/hosts"
echo ipvs-vm > "$R/etc/hostname"
: > "$R/etc/resolv.conf"
mkdir -p "$R/etc/iproute2" "$R/var/run/netns" "$R/run/netns"
ldconfig -r "$R" 2>/dev/null || true

# ---------------------------------------------------------------- modules
# Wanted: IPVS, ipset, netfilter (iptables legacy+nft, nftables), conntrack,
# veth/dummy/bridge, 9p + overlay for host sharing, virtio transport.
want=()
for d in net/netfilter net/ipv4/netfilter net/ipv6/netfilter net/bridge fs/9p fs/netfs fs/overlayfs drivers/virtio; do
  [ -d "$KMOD_SRC/kernel/$d" ] || continue
  while read -r k; do want+=("${k#"$KMOD_SRC"/}"); done < <(find "$KMOD_SRC/kernel/$d" -name '*.ko*')
done
# inet_diag: `ss -K` (tests reset connections with it); sctp: SCTP sockets for the SCTP traffic tests
for m in net/sctp/sctp.ko net/9p/9pnet.ko net/9p/9pnet_virtio.ko drivers/net/veth.ko drivers/net/dummy.ko drivers/net/macvlan.ko \
         net/ipv4/inet_diag.ko net/ipv4/tcp_diag.ko net/ipv4/udp_diag.ko \
         drivers/net/ipvlan/ipvlan.ko drivers/net/vxlan/vxlan.ko drivers/char/virtio_console.ko lib/libcrc32c.ko \
         crypto/crc32c_generic.ko net/sched/sch_netem.ko net/sched/sch_htb.ko net/sched/cls_u32.ko; do
  for ext in "" .xz .zst .gz; do
    [ ! -f "$KMOD_SRC/kernel/$m$ext" ] || want+=("kernel/$m$ext")
  done
done
# dependency closure from modules.dep
declare -A KEEP=()
queue=("${want[@]}")
while [ "${#queue[@]}" -gt 0 ]; do
  m="${queue[0]}"; queue=("${queue[@]:1}")
  [ -z "${KEEP[$m]:-}" ] || continue
  KEEP[$m]=1
  deps="$(awk -v m="$m:" '$1==m{for(i=2;i<=NF;i++)print $i}' "$KMOD_SRC/modules.dep")"
  for dep in $deps; do [ -n "${KEEP[$dep]:-}" ] || queue+=("$dep"); done
done
KDST="$R/usr/lib/modules/$KVER"
for m in "${!KEEP[@]}"; do
  mkdir -p "$KDST/$(dirname "$m")"
  case "$m" in
    *.ko.xz)  xz -dc "$KMOD_SRC/$m" > "$KDST/${m%.xz}" ;;
    *.ko.zst) zstd -qdc "$KMOD_SRC/$m" > "$KDST/${m%.zst}" ;;
    *.ko.gz)  gzip -dc "$KMOD_SRC/$m" > "$KDST/${m%.gz}" ;;
    *)        cp "$KMOD_SRC/$m" "$KDST/$m" ;;
  esac
done
cp "$KMOD_SRC"/modules.builtin* "$KMOD_SRC/modules.order" "$KDST/" 2>/dev/null || true
depmod -b "$R" "$KVER"
log "modules: ${#KEEP[@]} ($(du -sh "$KDST" | cut -f1))"

# ---------------------------------------------------------------- init
cp "$HERE/guest-init.sh" "$R/init"; chmod 755 "$R/init"
echo "$KVER" > "$R/etc/ipvs-vm-kernel"

# ---------------------------------------------------------------- pack
# Uncompressed cpio: unpacking gzip costs ~0.4 s per boot under TCG.
( cd "$R" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet ) > "$BUILD/initramfs.cpio"
cp "$BUILD/kpkg/boot/vmlinuz-$KVER" "$BUILD/vmlinuz"
# Also unpack the bzImage to its ELF vmlinux: QEMU boots it directly through the
# PVH entry point, skipping the BIOS and the in-guest xz decompression (~2.5 s
# per boot under TCG). run.sh falls back to vmlinuz if this did not work.
rm -f "$CACHE/vmlinux"
off="$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$BUILD/vmlinuz" | head -n1 | cut -d: -f1 || true)"
if [ -n "$off" ] && tail -c +"$((off + 1))" "$BUILD/vmlinuz" > "$BUILD/vmlinux.xz" \
   && xz -dc --single-stream "$BUILD/vmlinux.xz" > "$BUILD/vmlinux" 2>/dev/null \
   && readelf -n "$BUILD/vmlinux" > "$BUILD/vmlinux.notes" 2>/dev/null \
   && grep -qE 'Xen.*0x00000012' "$BUILD/vmlinux.notes"; then   # XEN_ELFNOTE_PHYS32_ENTRY
  mv -f "$BUILD/vmlinux" "$CACHE/vmlinux"
else
  log "no PVH vmlinux (boot via bzImage, slower)"
fi
mv -f "$BUILD/vmlinuz" "$CACHE/vmlinuz"
rm -f "$CACHE/initramfs.cpio.gz"
mv -f "$BUILD/initramfs.cpio" "$CACHE/initramfs.cpio"
echo "$KVER" > "$CACHE/kernel-version"
echo "$KPKG" > "$CACHE/kernel-package"
echo "$RECIPE_ID" > "$CACHE/stamp"
log "built kernel $KVER + initramfs ($(du -h "$CACHE/initramfs.cpio" | cut -f1)) in $(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}') s -> $CACHE"
