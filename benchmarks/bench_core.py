"""Cost of the Python side per disk read (parse + store) and bytes per stored reading.

Run: .venv/bin/python benchmarks/bench_core.py [--readings N]

Baselines in the same run: ``json.loads`` of the same text (the floor any JSON consumer
pays) and the smartctl process start itself (``smartctl --version``), so the figures are
ratios that survive a noisy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from maid_smart_monitor.model import DiskRef
from maid_smart_monitor.smartctl.parse import parse_output
from maid_smart_monitor.storage.base import utc_text
from maid_smart_monitor.storage.sqlite import SQLiteStore

REC = Path(__file__).resolve().parents[1] / "src" / "maid_smart_monitor" / "sim" / "recordings"
SAMPLES = {
    "ATA HDD": "ata/smartctl_exporter__sat-Seagate_Exos_X16-ST16000NM001G-2KK103-sda.json",
    "ATA SSD": "ata/smartctl_exporter__sat-Samsung_based_SSDs-SAMSUNG_MZ7LH480HAHQ-00005-sda.json",
    "NVMe": "nvme/beszel__nvme0.json",
    "SAS": "scsi/telegraf-scsi_extended.json",
}


def timed(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--readings", type=int, default=2000, help="readings stored per sample")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-core-")
    print(f"{'sample':<9} {'attrs':>5} {'json.loads':>11} {'parse':>9} {'store':>9} "
          f"{'parse/json':>10} {'bytes/reading':>13}")
    for label, rel in SAMPLES.items():
        text = (REC / rel).read_text()
        doc = json.loads(text)
        dev = DiskRef(doc["device"]["name"], doc["device"]["type"])
        code = doc["smartctl"]["exit_status"]
        t_json = timed(lambda text=text: json.loads(text), 500)
        t_parse = timed(lambda text=text, dev=dev, code=code: parse_output(text, code, dev), 500)
        rec = parse_output(text, code, dev)
        path = os.path.join(tmp, label.replace(" ", "_") + ".db")
        store = SQLiteStore(path)
        store.save_reading(rec, dev.label, utc_text(0))  # first reading creates the disk row
        empty = os.path.getsize(path) + _wal(path)
        store.execute_script("PRAGMA wal_checkpoint(TRUNCATE);")
        base_bytes = store.stats()["bytes"]
        t0 = time.perf_counter()
        for i in range(args.readings):
            store.save_reading(rec, dev.label, utc_text(1_000_000 + i * 300))
        t_store = (time.perf_counter() - t0) / args.readings
        store.execute_script("PRAGMA wal_checkpoint(TRUNCATE);")
        per_reading = (store.stats()["bytes"] - base_bytes) / args.readings
        store.close()
        del empty
        print(f"{label:<9} {len(rec.attributes):>5} {t_json * 1e6:>9.0f}us {t_parse * 1e6:>7.0f}us "
              f"{t_store * 1e6:>7.0f}us {t_parse / t_json:>9.1f}x {per_reading:>13.0f}")
    smartctl = shutil.which("smartctl") or "/usr/sbin/smartctl"
    if os.path.exists(smartctl):
        t_proc = timed(lambda: subprocess.run([smartctl, "--version"], capture_output=True), 20)
        print(f"\nbaseline: one smartctl process start (--version): {t_proc * 1e3:.1f} ms")
    years = 5
    per_day = 86400 / 300
    print(f"sizing: 1 ATA HDD read every 300 s for {years} years = "
          f"{per_day * 365 * years:,.0f} readings")
    shutil.rmtree(tmp)
    sys.stdout.flush()


def _wal(path: str) -> int:
    return os.path.getsize(path + "-wal") if os.path.exists(path + "-wal") else 0


if __name__ == "__main__":
    main()
