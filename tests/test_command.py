"""smartctl argv builders: the flags that keep sleeping disks asleep are always there."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from maid_smart_monitor.model import DiskRef
from maid_smart_monitor.smartctl.command import (
    STANDBY_EXIT,
    info_argv,
    read_argv,
    scan_argv,
    version_argv,
)

SATA = DiskRef("/dev/sda", "sat", block="sda")
MEGARAID = DiskRef("/dev/bus/0", "megaraid,3")
NVME = DiskRef("/dev/nvme0", "nvme", block="nvme0n1")


@pytest.mark.parametrize(
    ("builder", "dev", "kwargs", "expected"),
    [
        (
            read_argv,
            SATA,
            {},
            ["smartctl", "--json=c", "-a", "-d", "sat", "-n", "standby,3", "/dev/sda"],
        ),
        (
            read_argv,
            MEGARAID,
            {},
            ["smartctl", "--json=c", "-a", "-d", "megaraid,3", "-n", "standby,3", "/dev/bus/0"],
        ),
        (
            read_argv,
            NVME,
            {"power_check": False},
            ["smartctl", "--json=c", "-a", "-d", "nvme", "/dev/nvme0"],
        ),
        (
            info_argv,
            SATA,
            {},
            ["smartctl", "--json=c", "-i", "-d", "sat", "-n", "standby,3", "/dev/sda"],
        ),
        (
            info_argv,
            SATA,
            {"power_check": False},
            ["smartctl", "--json=c", "-i", "-d", "sat", "/dev/sda"],
        ),
    ],
    ids=["read", "read-megaraid", "read-deliberate-wake", "info", "info-no-check"],
)
def test_device_argv(builder, dev, kwargs, expected):
    assert builder("smartctl", dev, **kwargs) == expected


def test_standby_exit_code_cannot_come_from_smartctl_itself():
    # 3 = bits 0 and 1. smartctl exits 1 on a bad command line before it opens anything,
    # so bit 1 never comes with bit 0 except through our own "-n standby,3".
    assert STANDBY_EXIT == 3
    assert read_argv("/usr/sbin/smartctl", SATA)[-3:-1] == ["-n", f"standby,{STANDBY_EXIT}"]


@pytest.mark.parametrize("builder", [read_argv, info_argv])
@pytest.mark.parametrize(
    "dev",
    [
        DiskRef("/dev/sda", ""),
        DiskRef("/dev/sda", "   "),
        DiskRef("/dev/sda", "-a"),
        DiskRef("/dev/sda", "sat -T permissive"),
        DiskRef("", "sat"),
        DiskRef("-xall", "sat"),
        DiskRef("/dev/sda", "auto"),
        DiskRef("/dev/sda", "test"),
        DiskRef("/dev/sda", "scsi+auto"),
    ],
    ids=[
        "empty-type",
        "blank-type",
        "option-as-type",
        "space-in-type",
        "no-path",
        "option-as-path",
        "auto-type",
        "test-type",
        "auto-subtype",
    ],
)
def test_refuses_argv_that_would_autodetect_or_inject(builder, dev):
    with pytest.raises(ValueError):
        builder("smartctl", dev)


def test_scan_never_opens_devices():
    argv = scan_argv("/usr/sbin/smartctl")
    assert argv == ["/usr/sbin/smartctl", "--scan", "--json=c"]
    assert "--scan-open" not in argv


def test_version_argv():
    assert version_argv("smartctl") == ["smartctl", "--json=c", "--version"]


def _smartctl() -> str | None:
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
    return shutil.which("smartctl", path=path)


@pytest.mark.skipif(_smartctl() is None, reason="smartmontools is not installed")
def test_real_smartctl_accepts_our_argv():
    """The installed smartctl parses every argv we build: a bad flag would exit with bit 0."""
    smartctl = _smartctl()
    assert smartctl is not None
    missing = DiskRef("/dev/maid-test-no-such-disk", "sat")
    for argv in (
        read_argv(smartctl, missing),
        read_argv(smartctl, missing, power_check=False),
        info_argv(smartctl, missing),
    ):
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        assert proc.returncode & 1 == 0, (argv, proc.stdout)
        assert proc.returncode & 2, (argv, proc.stdout)  # open failed: no such device
    for argv in (scan_argv(smartctl), version_argv(smartctl)):
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        assert proc.returncode == 0, (argv, proc.stdout, proc.stderr)
        assert proc.stdout.lstrip().startswith("{")


@pytest.mark.parametrize("dev_type", ["auto", "test", "sat+auto"])
def test_autodetect_refusal_names_the_reason(dev_type):
    with pytest.raises(ValueError, match="autodetect"):
        read_argv("smartctl", DiskRef("/dev/sda", dev_type))


def test_sat_auto_is_not_autodetection():
    """``sat,auto`` only reads the INQUIRY vendor (no spin-up): allowed."""
    assert read_argv("smartctl", DiskRef("/dev/sda", "sat,auto"))[3:5] == ["-d", "sat,auto"]
