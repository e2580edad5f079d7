"""Boot a real Debian kernel under QEMU with emulated SATA, SCSI and NVMe disks.

Why: recorded smartctl outputs prove the parser, not that the monitor, as a process, finds
disks, talks to them and reads their I/O counters correctly on a real kernel. No disks exist
on CI machines, but QEMU (TCG, no KVM needed) emulates disks that the real smartctl reads.

The guest runs the *host's* userland: the host root is shared read-only over 9p and the guest
chroots into it (tests/realdev/init.sh), so the host's smartctl, Python and the project's venv
run unchanged against the guest's /dev/sdX and /dev/nvme0. A second, writable 9p share
carries the script in and the results out. Prepare with ``bash tests/realdev/setup.sh``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
SETUP = HERE / "setup.sh"
QEMU = "qemu-system-x86_64"


@dataclass(frozen=True)
class Disk:
    """One emulated disk. ``kind`` is the bus: "sata" (AHCI), "scsi" (virtio-scsi) or "nvme"."""

    kind: str
    serial: str
    model: str = ""
    size: str = "1G"
    rotation_rate: int = 0  # SATA/SCSI: 1 = non-rotational, 0 = not reported, else RPM


# The disks every realdev test boots with. Serials are what the monitor must store as identity.
SATA = Disk("sata", serial="MAIDSATA0001", model="MAID Test SATA HDD", rotation_rate=7200)
SCSI = Disk("scsi", serial="MAIDSCSI0002", rotation_rate=10000)
NVME = Disk("nvme", serial="MAIDNVME0003")
DEFAULT_DISKS: tuple[Disk, ...] = (SATA, SCSI, NVME)


class GuestError(RuntimeError):
    """The guest did not boot, did not run the script, or did not power off in time."""


@dataclass
class GuestResult:
    """What one boot produced. ``share`` is the writable directory the guest saw."""

    returncode: int
    output: str
    console: str
    share: Path
    boot_seconds: float  # host wall clock, QEMU start -> guest script start
    script_seconds: float  # host wall clock, guest script start -> script end
    total_seconds: float  # host wall clock, QEMU start -> QEMU exit
    qemu_argv: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Kernel:
    version: str
    package: str
    kernel: Path
    initrd: Path


def qemu_available() -> str | None:
    """None when QEMU can boot here, else the reason it cannot (for pytest.skip)."""
    if shutil.which(QEMU) is None:
        return f"{QEMU} not installed (run tests/realdev/setup.sh)"
    return None


def load_kernel(run_setup: bool = True) -> Kernel:
    """The kernel + initramfs prepared by setup.sh (running it first: it is idempotent)."""
    if run_setup:
        proc = subprocess.run(
            ["bash", str(SETUP)], capture_output=True, text=True, timeout=900, check=False
        )
        if proc.returncode != 0:
            raise GuestError(f"setup.sh failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    env_file = CACHE / "env"
    if not env_file.exists():
        raise GuestError(f"{env_file} missing: run tests/realdev/setup.sh")
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return Kernel(
        version=values["KVER"],
        package=values["KPKG"],
        kernel=Path(values["KERNEL"]),
        initrd=Path(values["INITRD"]),
    )


def qemu_version() -> str:
    out = subprocess.run([QEMU, "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"version (\S+)", out.stdout)
    return match.group(1) if match else out.stdout.splitlines()[0]


def _disk_args(disks: Sequence[Disk], workdir: Path) -> list[str]:
    args: list[str] = []
    if any(d.kind == "sata" for d in disks):
        args += ["-device", "ahci,id=ahci"]
    if any(d.kind == "scsi" for d in disks):
        args += ["-device", "virtio-scsi-pci,id=vs"]
    sata_port = 0
    for i, disk in enumerate(disks):
        image = workdir / f"disk{i}-{disk.kind}.img"
        with image.open("wb") as fh:  # sparse, like `truncate -s`
            fh.truncate(_size_bytes(disk.size))
        drive = f"d{i}"
        args += ["-drive", f"if=none,id={drive},file={image},format=raw,cache=unsafe"]
        if disk.kind == "sata":
            dev = f"ide-hd,drive={drive},bus=ahci.{sata_port},serial={disk.serial}"
            if disk.model:
                dev += f",model={disk.model}"
            if disk.rotation_rate:
                dev += f",rotation_rate={disk.rotation_rate}"
            sata_port += 1
        elif disk.kind == "scsi":
            dev = f"scsi-hd,drive={drive},bus=vs.0,serial={disk.serial}"
            if disk.rotation_rate:
                dev += f",rotation_rate={disk.rotation_rate}"
        elif disk.kind == "nvme":
            dev = f"nvme,drive={drive},serial={disk.serial}"
        else:
            raise ValueError(f"unknown disk kind {disk.kind!r}")
        args += ["-device", dev]
    return args


def _size_bytes(size: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if size[-1:].upper() in units:
        return int(size[:-1]) * units[size[-1].upper()]
    return int(size)


def build_argv(kernel: Kernel, disks: Sequence[Disk], workdir: Path, share: Path) -> list[str]:
    """The QEMU command line: TCG only (`-cpu max`), serial console on stdout, no reboot."""
    return [
        QEMU,
        "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "1024",
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-serial", "stdio", "-monitor", "none",
        "-kernel", str(kernel.kernel), "-initrd", str(kernel.initrd),
        "-append", "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init",
        "-virtfs",
        "local,path=/,mount_tag=host,security_model=passthrough,readonly=on,multidevs=remap",
        "-virtfs", f"local,path={share},mount_tag=share,security_model=passthrough",
        *_disk_args(disks, workdir),
    ]  # fmt: skip


def run_in_guest(
    script: str,
    disks: Sequence[Disk] = DEFAULT_DISKS,
    files: dict[str, str | bytes] | None = None,
    timeout: float = 240.0,
    kernel: Kernel | None = None,
    workdir: Path | None = None,
) -> GuestResult:
    """Boot once, run ``script`` (sh, inside the chroot of the host root), power off.

    ``files`` are written to the share first; the script sees the share as $REALDEV_SHARE
    (/tmp/realdev) and its own stdout+stderr come back as ``output``. Raises GuestError when
    the guest does not reach the script or QEMU outlives ``timeout`` (it is then killed).
    """
    kernel = kernel or load_kernel()
    own_dir = workdir is None
    root = Path(tempfile.mkdtemp(prefix="realdev-")) if workdir is None else workdir
    share = root / "share"
    share.mkdir(parents=True, exist_ok=True)
    (share / "guest.sh").write_text(script)
    for name, content in (files or {}).items():
        path = share / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    argv = build_argv(kernel, disks, root, share)

    start = time.monotonic()
    marks: dict[str, float] = {}
    console: list[str] = []
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            console.append(line)
            match = re.search(r"REALDEV: (script-start|script-end)", line)
            if match:
                marks[match.group(1)] = time.monotonic()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        reader.join(5)
        raise GuestError(
            f"guest still running after {timeout:.0f}s; console tail:\n" + "\n".join(console[-40:])
        ) from None
    reader.join(5)
    end = time.monotonic()
    text = "\n".join(console)
    rc_file = share / "rc"
    if "script-start" not in marks or not rc_file.exists():
        raise GuestError(f"guest did not run the script (qemu rc {proc.returncode}):\n{text}")
    output = (share / "out.log").read_text(errors="replace") if (share / "out.log").exists() else ""
    result = GuestResult(
        returncode=int(rc_file.read_text().strip() or "-1"),
        output=output,
        console=text,
        share=share,
        boot_seconds=marks["script-start"] - start,
        script_seconds=marks.get("script-end", end) - marks["script-start"],
        total_seconds=end - start,
        qemu_argv=argv,
    )
    if own_dir:
        # Disk images are sparse but can be large once written; keep only the share.
        for image in root.glob("disk*.img"):
            image.unlink()
    return result


if __name__ == "__main__":  # manual probe: python tests/realdev/qemu.py 'smartctl --scan -j'
    import sys

    res = run_in_guest(" ".join(sys.argv[1:]) or "smartctl --scan -j")
    print(res.output)
    print(
        f"rc={res.returncode} boot={res.boot_seconds:.1f}s script={res.script_seconds:.1f}s "
        f"total={res.total_seconds:.1f}s share={res.share}",
        file=sys.stderr,
    )
    os._exit(res.returncode)
