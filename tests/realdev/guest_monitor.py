"""Runs INSIDE the realdev guest: the real ``maid-smart-monitor`` process, cycle by cycle,
against the emulated disks, with host-style I/O (``dd``) in between; records everything as
JSON for tests/realdev/test_monitor_realdev.py, which asserts on it.

Scenario (one boot, one database on the guest's tmpfs, ``mounted_only = false``):
  c1 fresh database -> c2 nothing happened -> dd on the SATA disk -> c3 -> c4 nothing
  happened -> dd on the SCSI disk -> c5; then --summary, --export, the seed's SQL.
Each cycle is a separate one-shot process (as from cron), so the policy memory kept in
the database is exercised too. The monitor's smartctl is a logging wrapper around the real
one: every call's argv, exit code and the /proc/diskstats of the disks around it are kept,
so the tests can see which ``-d`` type each disk got and that no SMART command moved the
counters. Standard library only.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import signal
import sqlite3
import subprocess
import time
import traceback
from pathlib import Path

WORK = Path("/tmp/mon")
CALLS = WORK / "calls"
DB = WORK / "monitor.db"
CONFIG = WORK / "config.ini"
WRAPPER = WORK / "smartctl-logged"
DISK_RE = r" (sd[a-z]+|nvme[0-9]+n[0-9]+) "

WRAPPER_SH = """#!/bin/sh
# Logs one smartctl call (argv, rc, diskstats of the disks before and after), then
# answers exactly what the real smartctl answered.
f=$(mktemp -p {calls} call.XXXXXX)
{{ printf 'ARG %s\\n' "$@"; echo "T0 $(date +%s.%N)";
   grep -E '{disk_re}' /proc/diskstats | sed 's/^/BEFORE /'; }} > "$f"
{real} "$@" > "$f.out" 2> "$f.err"
rc=$?
{{ echo "RC $rc"; echo "T1 $(date +%s.%N)";
   grep -E '{disk_re}' /proc/diskstats | sed 's/^/AFTER /'; }} >> "$f"
cat "$f.out"; cat "$f.err" >&2
exit $rc
"""

LINE_RE = re.compile(r"devices read: (\d+), skipped: (\d+)(?: \(([^)]*)\))?, failed: (\d+)")


def diskstats() -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for line in Path("/proc/diskstats").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 14 and re.fullmatch(r"sd[a-z]+|nvme\d+n\d+", parts[2]):
            out[parts[2]] = [int(x) for x in parts[3:]]
    return out


def delta(before: dict[str, list[int]], after: dict[str, list[int]]) -> dict[str, list[int]]:
    return {
        k: [a - b for a, b in zip(after[k], before.get(k, [0] * len(after[k])), strict=False)]
        for k in after
    }


def _stats_lines(lines: list[str], prefix: str) -> dict[str, list[int]]:
    out = {}
    for line in lines:
        if line.startswith(prefix + " "):
            parts = line.split()[1:]
            out[parts[2]] = [int(x) for x in parts[3:]]
    return out


def collect_calls(consume: bool = True) -> list[dict[str, object]]:
    """The smartctl calls the monitor made since the last consuming collect, oldest first.
    ``consume=False`` peeks (for polling a running daemon) and skips unfinished calls."""
    calls = []
    for f in sorted(CALLS.glob("call.??????"), key=lambda p: p.stat().st_mtime_ns):
        lines = f.read_text().splitlines()
        rc = next((int(ln[3:]) for ln in lines if ln.startswith("RC ")), None)
        if rc is None and not consume:
            continue
        t0 = next((float(ln[3:]) for ln in lines if ln.startswith("T0 ")), 0.0)
        t1 = next((float(ln[3:]) for ln in lines if ln.startswith("T1 ")), 0.0)
        before, after = _stats_lines(lines, "BEFORE"), _stats_lines(lines, "AFTER")
        calls.append({
            "argv": [ln[4:] for ln in lines if ln.startswith("ARG ")],
            "rc": rc,
            "seconds": round(t1 - t0, 3),
            "t0": t0,
            "delta": delta(before, after),
            "stdout": Path(f"{f}.out").read_text(errors="replace")[-50000:],
        })  # fmt: skip
        if consume:
            for p in (f, Path(f"{f}.out"), Path(f"{f}.err")):
                p.unlink()
    calls.sort(key=lambda c: c["t0"])
    return calls


def wait_for(predicate, timeout: float, step: float = 0.2):  # noqa: ANN001, ANN201
    """Poll ``predicate`` until it returns something truthy or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def count_cycles(db: Path) -> int:
    try:
        return int(query("SELECT count(*) AS n FROM cycles", db=db)[0]["n"])
    except sqlite3.Error:
        return 0  # not created yet


def run(argv: list[str]) -> dict[str, object]:
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return {
        "argv": argv,
        "rc": proc.returncode,
        "stdout": proc.stdout,
        "stderr": proc.stderr,
        "seconds": round(time.monotonic() - start, 3),
    }


def query(sql: str, params: tuple = (), db: Path = DB) -> list[dict[str, object]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, params)]
    finally:
        con.close()


def names_by_kind() -> dict[str, str]:
    """Which /dev name is which emulated disk, from sysfs only (names vary per boot)."""
    names = {}
    for block in sorted(Path("/sys/block").iterdir()):
        if block.name.startswith("sd"):
            vendor = (block / "device/vendor").read_text().strip()
            names["sata" if vendor == "ATA" else "scsi"] = f"/dev/{block.name}"
        elif block.name.startswith("nvme"):
            names["nvme"] = "/dev/" + re.sub(r"n\d+$", "", block.name)
    return names


class Scenario:
    """The monitor's one-shot cycles and the host-style I/O between them, recorded."""

    def __init__(self, bin_dir: Path, share: Path, seed_sql: Path | None) -> None:
        self.share = share
        self.seed_sql = seed_sql
        CALLS.mkdir(parents=True, exist_ok=True)
        real = shutil.which("smartctl") or "/usr/sbin/smartctl"
        WRAPPER.write_text(WRAPPER_SH.format(calls=CALLS, disk_re=DISK_RE, real=real))
        WRAPPER.chmod(0o755)
        # interval = 1: the least time between two reads of one disk, so the non-rotational
        # disk is due every cycle; mounted_only = false: nothing is mounted in this guest.
        CONFIG.write_text(
            f"[database]\npath = {DB}\n"
            f"[monitoring]\ninterval = 1\nmounted_only = false\nsmartctl = {WRAPPER}\n"
        )
        self.base = [
            str(bin_dir / "maid-smart-monitor"),
            "--config",
            str(CONFIG),
            "--log-level",
            "info",
        ]
        self.names = names_by_kind()
        self.result: dict = {"names": self.names, "cycles": [], "actions": []}

    def cycle(self, label: str) -> None:
        before = diskstats()
        res = run(self.base)
        after = diskstats()
        last = query("SELECT max(id) AS id FROM cycles")[0]["id"]
        match = LINE_RE.search(str(res["stdout"]))
        res.update(
            label=label,
            diskstats_delta=delta(before, after),
            calls=collect_calls(),
            checks=query("SELECT * FROM checks WHERE cycle_id = ?", (last,)) if last else [],
            cycle_id=last,
            line=None if not match else {
                "read": int(match.group(1)), "skipped": int(match.group(2)),
                "why": match.group(3), "failed": int(match.group(4)),
            },
        )  # fmt: skip
        self.result["cycles"].append(res)

    def host_io(self, kind: str) -> None:
        """What a user of the disk does: a direct read, which the kernel counts."""
        block = self.names[kind].rsplit("/", 1)[1]
        before = diskstats()
        res = run(["dd", f"if=/dev/{block}", "of=/dev/null", "bs=64k", "count=4", "skip=100",
                   "iflag=direct", "status=none"])  # fmt: skip
        res.update(kind=kind, diskstats_delta=delta(before, diskstats()))
        self.result["actions"].append(res)

    def run_all(self) -> None:
        self.cycle("c1-fresh")
        self.cycle("c2-idle")
        self.host_io("sata")
        self.cycle("c3-after-dd-sata")
        self.cycle("c4-idle")
        self.host_io("scsi")
        self.cycle("c5-after-dd-scsi")
        self.reports()
        self.daemon()
        self.wrong_type()

    def wrong_type(self) -> None:
        """An operator's --devices with the wrong type (sat) for the SCSI disk: smartctl's
        ATA power check then answers "SLEEP mode" for ever, even right after the disk served
        host I/O. Recorded: what the monitor makes of it (first look, dd, second look)."""
        db = WORK / "wrongtype.db"
        cfg = WORK / "wrongtype.ini"
        cfg.write_text(
            f"[database]\npath = {db}\n[monitoring]\ninterval = 1\nmounted_only = false\n"
            f"smartctl = {WRAPPER}\n"
        )
        collect_calls()
        argv = [self.base[0], "--config", str(cfg), "--log-level", "info",
                "--devices", f"{self.names['scsi']}:sat"]  # fmt: skip
        out: dict = {"runs": []}
        self.result["wrong_type"] = out
        for step in ("first-look", "after-dd"):
            if step == "after-dd":
                self.host_io("scsi")
            res = run(argv)
            res["label"] = step
            res["calls"] = collect_calls()
            out["runs"].append(res)
        out["checks"] = query("SELECT * FROM checks ORDER BY rowid", db=db)

    def daemon(self) -> None:
        """--daemon on a fresh database: one full cycle at start (interval = 1 h), then
        /proc/diskstats sampled every second. Host I/O on an idle rotational disk must be
        followed by one read within seconds, and that read must not trigger another."""
        db = WORK / "daemon.db"
        cfg = WORK / "daemon.ini"
        cfg.write_text(
            f"[database]\npath = {db}\n[monitoring]\ninterval = 3600\nsample_interval = 1\n"
            f"mounted_only = false\nsmartctl = {WRAPPER}\n"
        )
        collect_calls()
        sata = self.names["sata"]
        out: dict = {}
        self.result["daemon"] = out
        start = time.monotonic()
        argv = [self.base[0], "--config", str(cfg), "--log-level", "debug", "--daemon"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out["ready"] = bool(wait_for(lambda: count_cycles(db) >= 1, 90))
            out["ready_seconds"] = round(time.monotonic() - start, 2)
            time.sleep(3)  # a few ticks with nothing to do
            out["calls_before_io"] = collect_calls(consume=False)
            io_at = time.time()  # wall clock, as the wrapper's T0 (date +%s.%N)
            self.host_io("sata")

            def sata_calls() -> list[dict[str, object]]:
                return [c for c in collect_calls(consume=False) if c["argv"][-1:] == [sata]]

            first = wait_for(sata_calls, 30)
            out["read_latency"] = round(first[0]["t0"] - io_at, 2) if first else None
            time.sleep(4)  # would the monitor's own read make the disk look busy again?
        finally:
            stop_at = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                stdout, stderr = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                stdout, stderr = proc.communicate()
            out["stop_seconds"] = round(time.monotonic() - stop_at, 2)
            out.update(rc=proc.returncode, stdout=stdout[-5000:], stderr=stderr[-20000:])
            out["calls"] = collect_calls()
            out["cycles"] = count_cycles(db)
            out["checks"] = query("SELECT * FROM checks ORDER BY rowid", db=db)

    def reports(self) -> None:
        r = self.result
        r["summary"] = run(self.base + ["--summary"])
        export_file = WORK / "export.csv"
        export = run(self.base + ["--export", str(export_file), "--days", "1"])
        if export_file.exists():
            with export_file.open(newline="") as fh:
                export["rows"] = list(csv.DictReader(fh))
        r["export"] = export
        r["calls_after_cycles"] = collect_calls()  # --summary/--export must call none
        r["disks"] = query("SELECT * FROM disks ORDER BY device")
        r["readings"] = query(
            "SELECT id, disk_id, device, timestamp, exit_status, smart_passed, temperature, "
            "power_on_hours, power_cycle_count FROM readings ORDER BY id"
        )
        r["smart_data"] = query(
            "SELECT s.device, r.disk_id, s.attribute_id, s.attribute_name, s.raw_value, "
            "s.value, s.worst, s.thresh, s.reading_id FROM smart_data s "
            "JOIN readings r ON r.id = s.reading_id ORDER BY s.id"
        )
        # A clean single-file copy for the host side (the live one is WAL, on tmpfs).
        src = sqlite3.connect(str(DB))
        dst = sqlite3.connect(str(self.share / "monitor.db"))
        with dst:
            src.backup(dst)
        src.close()
        dst.close()
        if self.seed_sql and self.seed_sql.exists():
            r["seed_sql_in_guest"] = run_seed_sql(self.seed_sql.read_text(), self.names["sata"])


def main() -> int:
    """Run the scenario; the JSON is written even when a step raises (with the traceback),
    so a failing test shows how far the guest got."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, type=Path, help="the venv's bin/")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--seed-sql", type=Path)
    args = ap.parse_args()
    scenario = Scenario(args.bin, args.out.parent, args.seed_sql)
    try:
        scenario.run_all()
    except Exception:
        scenario.result["error"] = traceback.format_exc()
    args.out.write_text(json.dumps(scenario.result, indent=1, default=str))
    return 0


def run_seed_sql(text: str, device: str) -> list[dict[str, object]]:
    """The seed's statements, unchanged, against the live database written in the guest."""
    out = []
    con = sqlite3.connect(str(DB))
    try:
        for stmt in split_sql(text):
            params = (device,) if "?" in stmt else ()
            try:
                rows = [list(r) for r in con.execute(stmt, params).fetchall()]
                out.append({"sql": stmt, "ok": True, "rows": rows})
            except sqlite3.Error as exc:
                out.append({"sql": stmt, "ok": False, "error": str(exc)})
        con.commit()
    finally:
        con.close()
    return out


def split_sql(text: str) -> list[str]:
    """Statements of a .sql file, comments dropped (the file has no ';' inside strings)."""
    body = "\n".join(ln for ln in text.splitlines() if not ln.strip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


if __name__ == "__main__":
    raise SystemExit(main())
