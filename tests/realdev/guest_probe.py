"""Runs INSIDE the realdev guest (chroot of the host root): what the real kernel and the real
smartctl do with the emulated disks, recorded as JSON for tests/realdev/test_realdev.py.

Why a probe apart from the monitor: it pins the facts the monitor relies on (scan types,
sysfs vendor, which -d type gives the ATA table, the wrong-type "SLEEP mode" trap, and
whether SMART passthrough moves /proc/diskstats while dd does), so a failing monitor test can
be told apart from a changed kernel or smartctl. Standard library only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

SMARTCTL = "smartctl"


def diskstats() -> dict[str, list[int]]:
    """/proc/diskstats per device name -> the numeric fields after the name."""
    stats: dict[str, list[int]] = {}
    for line in Path("/proc/diskstats").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 14:
            stats[parts[2]] = [int(x) for x in parts[3:]]
    return stats


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return None


def sysfs_info(block: str) -> dict[str, str | None]:
    base = Path("/sys/block") / block
    return {
        "vendor": read_text(base / "device/vendor"),
        "model": read_text(base / "device/model"),
        "serial": read_text(base / "device/serial"),  # NVMe controllers have it here
        "rotational": read_text(base / "queue/rotational"),
    }


def smartctl(args: list[str]) -> dict[str, object]:
    start = time.monotonic()
    proc = subprocess.run([SMARTCTL, *args], capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    try:
        parsed = json.loads(proc.stdout)
    except ValueError:
        parsed = None
    return {
        "argv": args,
        "rc": proc.returncode,
        "json": parsed,
        "stderr": proc.stderr,
        "seconds": round(elapsed, 3),
    }


def counted(block: str, action: list[str]) -> dict[str, object]:
    """Run ``action`` and report how the device's diskstats moved (reads, sectors, writes)."""
    before = diskstats().get(block, [])
    start = time.monotonic()
    proc = subprocess.run(action, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    after = diskstats().get(block, [])
    delta = [a - b for a, b in zip(after, before, strict=False)]
    return {
        "argv": action,
        "rc": proc.returncode,
        "before": before,
        "after": after,
        "delta": delta,
        "seconds": round(elapsed, 3),
        "stdout": proc.stdout[-20000:],
    }


def block_of(name: str) -> str:
    """/dev/nvme0 (controller, as smartctl names it) -> nvme0n1; /dev/sda -> sda."""
    base = name.rsplit("/", 1)[-1]
    return base + "n1" if base.startswith("nvme") and "n" not in base[4:] else base


def main(out: Path) -> int:
    result: dict[str, object] = {
        "uname": subprocess.run(
            ["uname", "-r"], capture_output=True, text=True, check=False
        ).stdout.strip()
    }
    scan = smartctl(["--scan", "-j"])
    result["scan"] = scan
    devices = (scan["json"] or {}).get("devices", [])  # type: ignore[union-attr]
    per_dev: dict[str, object] = {}
    for dev in devices:
        name = dev["name"]
        block = block_of(name)
        info: dict[str, object] = {"scan": dev, "block": block, "sysfs": sysfs_info(block)}
        if block.startswith("nvme"):
            info["sysfs"]["serial"] = read_text(Path("/sys/class/nvme/nvme0/serial"))  # type: ignore[index]
            right = "nvme"
        else:
            right = "sat" if info["sysfs"]["vendor"] == "ATA" else "scsi"  # type: ignore[index]
        info["type"] = right
        # Full read with the right type, counted: does SMART passthrough move diskstats?
        info["smart_read"] = counted(block, [SMARTCTL, "-x", "-j", "-d", right, name])
        info["power_check"] = counted(
            block, [SMARTCTL, "-j", "-d", right, "-n", "standby,3", "-i", name]
        )
        if right == "sat":
            # The trap: the SATA disk read as scsi (what --scan says) has no ATA table.
            info["as_scsi"] = smartctl(["-x", "-j", "-d", "scsi", name])
        if right == "scsi":
            # The other trap: an ATA power check on a SCSI disk answers "SLEEP mode".
            info["as_sat_power"] = smartctl(["-j", "-d", "sat", "-n", "standby,3", "-i", name])
        info["dd_read"] = counted(
            block,
            [
                "dd",
                f"if=/dev/{block}",
                "of=/dev/null",
                "bs=4096",
                "count=16",
                "iflag=direct",
                "status=none",
            ],
        )
        per_dev[name] = info
    result["devices"] = per_dev
    out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
