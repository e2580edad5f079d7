"""One boot for the whole realdev run: a session fixture boots the guest once, runs the probe
(and the monitor scenario) inside it, and every test asserts on what that boot recorded.

Why one boot: under TCG a boot is ~10-20 s and each smartctl call ~1 s, so per-test boots
would blow the ~5 minute budget; the scenarios are cycles of one long-lived guest anyway.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import qemu

REPO = Path(__file__).resolve().parents[2]
GUEST_PROBE = Path(__file__).resolve().parent / "guest_probe.py"
GUEST_MONITOR = Path(__file__).resolve().parent / "guest_monitor.py"
SEED_SQL = REPO.parent / "shared" / "seed" / "queries.sql"

_TIMINGS: list[str] = []


def venv_bin() -> Path:
    """The bin/ of the interpreter running pytest: the project's venv, visible in the guest
    at the same path because the guest chroots into the host root."""
    return Path(sys.executable).parent


def _guest_script(monitor: bool) -> str:
    py = sys.executable
    lines = [
        "cd /tmp",
        f"{py} {GUEST_PROBE} $REALDEV_SHARE/probe.json > $REALDEV_SHARE/probe.log 2>&1",
        'echo "probe rc=$?"',
    ]
    if monitor:
        lines += [
            f"{py} {GUEST_MONITOR} --bin {venv_bin()} --out $REALDEV_SHARE/monitor.json "
            f"--seed-sql {SEED_SQL} > $REALDEV_SHARE/monitor.log 2>&1",
            'echo "monitor rc=$?"',
        ]
    return "\n".join(lines) + "\n"


def monitor_cli_present() -> bool:
    return (venv_bin() / "maid-smart-monitor").exists() and (
        REPO / "src" / "maid_smart_monitor" / "cli.py"
    ).exists()


@pytest.fixture(scope="session")
def guest() -> Iterator[dict[str, object]]:
    """Boot once; return {"result": GuestResult, "probe": dict, "monitor": dict | None}."""
    try:
        kernel = qemu.load_kernel(run_setup=True)
    except qemu.GuestError as exc:
        reason = qemu.qemu_available()
        if reason:  # setup could not install QEMU here (no root / no package registry)
            pytest.skip(f"QEMU cannot run here: {reason}; setup: {exc}")
        raise
    reason = qemu.qemu_available()
    if reason:
        pytest.skip(f"QEMU cannot run here: {reason}")
    monitor = monitor_cli_present() and GUEST_MONITOR.exists()
    result = qemu.run_in_guest(_guest_script(monitor), kernel=kernel, timeout=420)
    probe_file = result.share / "probe.json"
    if not probe_file.exists():
        log_file = result.share / "probe.log"
        log = log_file.read_text() if log_file.exists() else ""
        pytest.fail(f"guest probe wrote nothing:\n{result.output}\n{log}\n{result.console}")
    probe = json.loads(probe_file.read_text())
    mon = None
    if monitor:
        mon_file = result.share / "monitor.json"
        log = (result.share / "monitor.log").read_text(errors="replace")
        mon = json.loads(mon_file.read_text()) if mon_file.exists() else {"error": log}
        mon["log"] = log
    smartctl_version = ".".join(str(x) for x in probe["scan"]["json"]["smartctl"]["version"])
    _TIMINGS.append(
        f"realdev: kernel {probe['uname']} ({kernel.package}), smartctl {smartctl_version}, "
        f"QEMU {qemu.qemu_version()} (TCG)"
    )
    _TIMINGS.append(
        f"realdev: boot {result.boot_seconds:.1f}s, guest script {result.script_seconds:.1f}s, "
        f"total {result.total_seconds:.1f}s"
    )
    if mon and "cycles" in mon:
        for cyc in mon["cycles"]:
            _TIMINGS.append(f"realdev: one-shot cycle {cyc['label']}: {cyc['seconds']:.2f}s")
    daemon = (mon or {}).get("daemon")
    if daemon:
        _TIMINGS.append(
            f"realdev: daemon first cycle done {daemon.get('ready_seconds')}s after start; "
            f"piggy-back read {daemon.get('read_latency')}s after dd; "
            f"stopped {daemon.get('stop_seconds')}s after SIGTERM"
        )
    yield {"result": result, "probe": probe, "monitor": mon}
    if os.environ.get("REALDEV_KEEP"):
        print(f"realdev: guest share kept at {result.share}")
    else:
        shutil.rmtree(result.share.parent, ignore_errors=True)


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if _TIMINGS:
        terminalreporter.section("realdev timings")
        for line in _TIMINGS:
            terminalreporter.write_line(line)
