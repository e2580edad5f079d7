#!/usr/bin/env bash
# Prepare everything the real-device tests need to boot a Debian kernel under QEMU:
#   - host packages (qemu-system-x86, busybox-static, cpio, kmod, smartmontools),
#   - a Debian linux-image-*-amd64 kernel, downloaded with `apt-get download` and unpacked
#     with `dpkg -x` into tests/realdev/.cache/ (never installed on the host),
#   - a busybox initramfs holding only the storage + 9p modules and their dependencies.
# Idempotent: a second run with everything in place does no network access and takes ~0 s.
# Writes tests/realdev/.cache/env (KVER, KERNEL, INITRD) for tests/realdev/qemu.py.
#
# Environment: REALDEV_KERNEL_PKG=linux-image-6.1.0-NN-amd64 pins the kernel package
# (default: whatever Debian's linux-image-amd64 meta package points at).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="$HERE/.cache"
mkdir -p "$CACHE"

log() { printf '[realdev-setup] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- host packages
NEED_PKGS=(qemu-system-x86 busybox-static cpio kmod smartmontools xz-utils)
missing=()
for p in "${NEED_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
APT_UPDATED=0
apt_update_once() {
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        apt-get update -qq
        APT_UPDATED=1
    fi
}
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing: ${missing[*]}"
    if [ -n "$SUDO" ]; then
        $SUDO apt-get update -qq
    else
        apt_update_once
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# ---------------------------------------------------------------- kernel package
KPKG="${REALDEV_KERNEL_PKG:-}"
if [ -z "$KPKG" ] && [ -f "$CACHE/env" ]; then
    # Reuse the kernel already unpacked: keeps re-runs offline and results comparable.
    KPKG="$(sed -n 's/^KPKG=//p' "$CACHE/env")"
fi
if [ -z "$KPKG" ]; then
    resolve() { apt-cache depends linux-image-amd64 2>/dev/null \
        | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1; }
    KPKG="$(resolve)"
    if [ -z "$KPKG" ]; then apt_update_once; KPKG="$(resolve)"; fi
fi
[ -n "$KPKG" ] || { log "cannot resolve the Debian kernel package"; exit 1; }
KVER="${KPKG#linux-image-}"
KDIR="$CACHE/kernel-$KVER"

if [ ! -f "$KDIR/boot/vmlinuz-$KVER" ]; then
    log "downloading $KPKG"
    mkdir -p "$CACHE/debs"
    ( cd "$CACHE/debs" && { apt-get download "$KPKG" 2>/dev/null \
        || { apt_update_once; apt-get download "$KPKG"; }; } )
    deb="$(ls -1 "$CACHE/debs/${KPKG}_"*.deb | tail -n1)"
    rm -rf "$KDIR.tmp"
    dpkg -x "$deb" "$KDIR.tmp"
    mv "$KDIR.tmp" "$KDIR"
    rm -f "$deb"
fi
MODDIR="$KDIR/lib/modules/$KVER"
if [ ! -s "$MODDIR/modules.dep" ]; then
    log "depmod $KVER"
    depmod -b "$KDIR" "$KVER"
fi

# ---------------------------------------------------------------- initramfs
WANT_MODULES=(ahci nvme sd_mod sg virtio_pci virtio_scsi 9pnet_virtio 9p)
INITRD="$CACHE/initramfs-$KVER.cpio.gz"
STAMP_SRC="$(cat "$HERE/setup.sh" "$HERE/init.sh"; echo "$KVER"; command -v busybox)"
STAMP="$(printf '%s' "$STAMP_SRC" | sha256sum | cut -c1-16)"
if [ ! -f "$INITRD" ] || [ "$(cat "$INITRD.stamp" 2>/dev/null)" != "$STAMP" ]; then
    log "building initramfs for $KVER"
    ROOT="$CACHE/initramfs-root"
    rm -rf "$ROOT"
    mkdir -p "$ROOT"/{bin,proc,sys,dev,host,share,tmp,lib/modules}
    cp "$(command -v busybox)" "$ROOT/bin/busybox"
    install -m 0755 "$HERE/init.sh" "$ROOT/init"
    : > "$ROOT/lib/modules/order"
    for m in "${WANT_MODULES[@]}"; do
        # modprobe resolves modules.dep for us and prints the insmod lines in load order.
        modprobe -d "$KDIR" -S "$KVER" --show-depends "$m" | while read -r kind path _rest; do
            [ "$kind" = insmod ] || continue          # "builtin X": nothing to load
            name="$(basename "$path")"
            name="${name%.xz}"
            grep -qx "$name" "$ROOT/lib/modules/order" && continue
            case "$path" in
                *.xz) xz -dc "$path" > "$ROOT/lib/modules/$name" ;;
                *) cp "$path" "$ROOT/lib/modules/$name" ;;
            esac
            echo "$name" >> "$ROOT/lib/modules/order"
        done
    done
    log "modules: $(tr '\n' ' ' < "$ROOT/lib/modules/order")"
    ( cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -1 ) > "$INITRD.tmp"
    mv "$INITRD.tmp" "$INITRD"
    echo "$STAMP" > "$INITRD.stamp"
    rm -rf "$ROOT"
fi

cat > "$CACHE/env" <<EOF
KPKG=$KPKG
KVER=$KVER
KERNEL=$KDIR/boot/vmlinuz-$KVER
INITRD=$INITRD
EOF
log "ready: $KPKG ($(qemu-system-x86_64 --version | head -n1))"
