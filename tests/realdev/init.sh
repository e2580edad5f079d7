#!/bin/busybox sh
# /init of the realdev initramfs (tests/realdev/setup.sh packs it; see tests/realdev/qemu.py).
# Loads the storage + 9p modules, mounts the host's root read-only at /host and the writable
# result share at /share, prepares /host as a chroot (proc, sys, dev, tmp, run), runs
# /share/guest.sh inside it with the host's own tools, writes its exit code, powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "REALDEV: init $(cut -d' ' -f1 /proc/uptime)" > /dev/console

for m in $(cat /lib/modules/order); do
    insmod "/lib/modules/$m" 2>/dev/null || echo "REALDEV: insmod $m failed" > /dev/console
done

fail() { echo "REALDEV: FATAL $*" > /dev/console; poweroff -f; }
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 host /host || fail "mount host"
mount -t 9p -o trans=virtio,version=9p2000.L,rw share /share || fail "mount share"

mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mount -t tmpfs tmpfs /host/run
# The guest needs a writable /tmp, but a checkout (and its .venv) may live under the
# host's /tmp (CI clones into a temporary folder): keep the host's /tmp directories
# visible, read-only, inside the new tmpfs.
mkdir -p /host/run/hosttmp
mount --bind /host/tmp /host/run/hosttmp
mount -t tmpfs -o mode=1777 tmpfs /host/tmp
for d in /host/run/hosttmp/*; do
    name=${d##*/}
    [ -d "$d" ] && [ "$name" != realdev ] || continue
    mkdir -p "/host/tmp/$name" && mount --bind "$d" "/host/tmp/$name"
done
mkdir -p /host/tmp/realdev
mount --bind /share /host/tmp/realdev

# Give the SCSI/NVMe probes a moment to create their nodes (async probing).
i=0
while [ "$i" -lt 50 ]; do
    [ -e /dev/nvme0n1 ] && ls /sys/block | grep -q '^sd' && break
    sleep 0.1
    i=$((i + 1))
done

echo "REALDEV: script-start $(cut -d' ' -f1 /proc/uptime)" > /dev/console
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LC_ALL=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 REALDEV_SHARE=/tmp/realdev \
    chroot /host /bin/sh /tmp/realdev/guest.sh > /share/out.log 2>&1
rc=$?
echo "$rc" > /share/rc
echo "REALDEV: script-end rc=$rc $(cut -d' ' -f1 /proc/uptime)" > /dev/console
sync
umount /host/tmp/realdev
umount /share
poweroff -f
