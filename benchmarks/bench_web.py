"""Dashboard, API and /metrics response times for 1,000 disks with a year of history.

Run: .venv/bin/python benchmarks/bench_web.py [--disks 1000] [--per-day 1] [--dense 2]
     [--db PATH] [--rebuild] [--repeat 5]

The database is written with bulk inserts in the store's own schema: ``--disks`` disks
with a year of readings (``--per-day`` a day, each with a real drive's 17 ATA
attributes), ``--dense`` of them read every 10 minutes for the year (52,560 readings:
the worst case for a disk page), a week of 5-minute cycles of per-device checks (what
``keep_check_cycles`` keeps), open and resolved alerts. It is kept at ``--db`` and
reused when its parameters match.

Every figure is the median of ``--repeat`` requests to the real waitress server on
127.0.0.1, sent like a browser (gzip accepted), and is compared with a trivial
response of the same server (a static file): the ratio is what the page itself costs.
The goal from the issue: every dashboard page under one second.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sqlite3
import statistics
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from maid_smart_monitor.storage.base import utc_text
from maid_smart_monitor.storage.sqlite import SQLiteStore
from maid_smart_monitor.web import BackgroundServer
from maid_smart_monitor.web.app import App

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

DAY = 86400.0
NOW = 1768478400.0  # 2026-01-15T12:00:00Z: the app's clock, so ranges hit the data
RECORDING = "ata/smartctl_exporter__WDC_WD20EFRX-68EUZN0_17.json"
CYCLES = 2016  # one week of 5-minute cycles
RESULTS = (["skipped-standby"] * 70 + ["skipped-idle"] * 20 + ["read"] * 8 + ["error"]
           + ["woken"])


def attributes() -> list[tuple]:
    from conftest import record_from

    rec = record_from(RECORDING)
    return [(a.id, a.name, a.value, a.worst, a.thresh, a.raw_value, a.raw_string)
            for a in rec.attributes]


def build(path: str, disks: int, per_day: float, dense: int) -> dict:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    SQLiteStore(path).close()  # the store's schema
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -400000")
    # Indexes are dropped for the bulk load and created again from the schema's SQL.
    index_sql = [r[0] for r in conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        " AND tbl_name IN ('readings', 'smart_data', 'checks')")]
    for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name IN ('readings', 'smart_data', 'checks')").fetchall():
        conn.execute(f'DROP INDEX "{name}"')
    rnd = random.Random(42)
    attrs = attributes()
    start = NOW - 365 * DAY
    conn.execute("BEGIN")
    reading_id = 0
    n_smart = 0
    ids = []
    for d in range(disks):
        disk_id = f"wwn-0x5000c500{d:08x}"
        device = f"/dev/sd{d:04d}"
        ids.append((disk_id, device))
        conn.execute(
            "INSERT INTO disks (disk_id, device, dev_type, model, serial, wwn, firmware,"
            " protocol, capacity_bytes, rotation_rate, form_factor, first_seen, last_seen)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (disk_id, device, "sat", "WDC WD20EFRX-68EUZN0", f"WD-{d:08d}", disk_id[4:],
             "82.00A82", "ATA", 2000398934016, 5400, "3.5 inches", utc_text(start),
             utc_text(NOW)))
        step = 600.0 if d < dense else DAY / per_day
        t = start + rnd.random() * step
        temp = rnd.randint(28, 40)
        hours = rnd.randint(1000, 40000)
        pending = 0
        readings, smart = [], []
        while t < NOW - 60:
            reading_id += 1
            temp = min(55, max(22, temp + rnd.choice((-1, 0, 0, 1))))
            if d % 50 == 7 and rnd.random() < 0.002:
                pending += 1
            ts = utc_text(t)
            readings.append((reading_id, disk_id, device, ts, 0, 1, temp, hours, 120, None))
            for a_id, name, value, worst, thresh, raw, raw_string in attrs:
                if a_id == 194:
                    raw, raw_string = temp, str(temp)
                elif a_id == 9:
                    raw, raw_string = hours, str(hours)
                elif a_id == 197:
                    raw, raw_string = pending, str(pending)
                smart.append((device, ts, a_id, name, raw, value, worst, thresh, raw_string,
                              None, reading_id))
            t += step
            hours += int(step // 3600)
        conn.executemany("INSERT INTO readings (id, disk_id, device, timestamp, exit_status,"
                         " smart_passed, temperature, power_on_hours, power_cycle_count,"
                         " details) VALUES (?,?,?,?,?,?,?,?,?,?)", readings)
        conn.executemany("INSERT INTO smart_data (device, timestamp, attribute_id,"
                         " attribute_name, raw_value, value, worst, thresh, raw_string,"
                         " when_failed, reading_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)", smart)
        n_smart += len(smart)
        if pending:
            conn.execute(
                "INSERT INTO health_alerts (device, timestamp, alert_type, severity, message,"
                " value, resolved, last_seen, disk_id) VALUES (?,?,?,?,?,?,0,?,?)",
                (device, utc_text(NOW - 30 * DAY), "pending",
                 "critical" if pending > 2 else "warning", f"{pending} pending sectors",
                 pending, utc_text(NOW - DAY), disk_id))
        if d % 10 == 3:  # history: a resolved temperature alert
            conn.execute(
                "INSERT INTO health_alerts (device, timestamp, alert_type, severity, message,"
                " value, resolved, resolved_at, last_seen, disk_id)"
                " VALUES (?,?,?,?,?,?,1,?,?,?)",
                (device, utc_text(NOW - 90 * DAY), "temperature", "warning", "hot", 51,
                 utc_text(NOW - 89 * DAY), utc_text(NOW - 89 * DAY), disk_id))
    for c in range(1, CYCLES + 1):
        finished = NOW - (CYCLES - c) * 300 - 60
        counts: dict[str, int] = {}
        rows = []
        for disk_id, device in ids:
            result = rnd.choice(RESULTS)
            counts[result] = counts.get(result, 0) + 1
            rows.append((c, device + ":sat", device, disk_id, result, "benchmark", None))
        conn.execute("INSERT INTO cycles (id, started, finished, duration, counts)"
                     " VALUES (?,?,?,?,?)", (c, utc_text(finished - 20), utc_text(finished),
                                             20.0, json.dumps(counts)))
        conn.executemany("INSERT INTO checks (cycle_id, device_key, device, disk_id, result,"
                         " reason, last_read_age) VALUES (?,?,?,?,?,?,?)", rows)
    conn.executemany(
        "INSERT INTO disk_memory (key, disk_id, deliberate_wakes) VALUES (?,?,?)",
        [(device + ":sat", disk_id, 1 if i % 97 == 0 else 0)
         for i, (disk_id, device) in enumerate(ids)])
    conn.execute("COMMIT")
    for sql in index_sql:
        conn.execute(sql)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    return {"readings": reading_id, "smart_data": n_smart}


def timed_get(url: str, repeat: int) -> tuple[float, int, int]:
    """Median seconds, status and transferred bytes of GET ``url``."""
    times, size, status = [], 0, 0
    for _ in range(repeat):
        req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
        t0 = time.perf_counter()
        with urllib.request.urlopen(req, timeout=120) as resp:
            body = resp.read()
            status = resp.status
        times.append(time.perf_counter() - t0)
        size = len(body)
    return statistics.median(times), status, size


def page_with_images(base: str, path: str, repeat: int) -> tuple[float, int]:
    """Median seconds until a page and every chart image it links have arrived, the
    images fetched six at a time as a browser does."""
    times, images = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        with urllib.request.urlopen(base + path, timeout=120) as resp:
            html = resp.read().decode()
        srcs = [s.replace("&amp;", "&") for s in re.findall(r'<img class="plot" src="([^"]+)"',
                                                             html)]
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda s: urllib.request.urlopen(base + s, timeout=120).read(),
                          srcs))
        times.append(time.perf_counter() - t0)
        images = len(srcs)
    return statistics.median(times), images


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--disks", type=int, default=1000)
    ap.add_argument("--per-day", type=float, default=1.0)
    ap.add_argument("--dense", type=int, default=2)
    ap.add_argument("--db", default=str(ROOT / "artifacts" / "bench_web.db"))
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    meta_path = args.db + ".json"
    params = {"disks": args.disks, "per_day": args.per_day, "dense": args.dense, "v": 2}
    meta = json.loads(Path(meta_path).read_text()) if os.path.exists(meta_path) else {}
    if args.rebuild or meta.get("params") != params or not os.path.exists(args.db):
        os.makedirs(os.path.dirname(os.path.abspath(args.db)), exist_ok=True)
        print(f"Building {args.db} ...", flush=True)
        t0 = time.perf_counter()
        counts = build(args.db, args.disks, args.per_day, args.dense)
        meta = {"params": params, "counts": counts, "build_s": time.perf_counter() - t0}
        Path(meta_path).write_text(json.dumps(meta))
    store = SQLiteStore(args.db, readonly=True)
    stats = store.stats()
    t0 = time.perf_counter()
    slow = store.last_checks()
    t_slow = time.perf_counter() - t0
    t0 = time.perf_counter()
    fast = store.latest_checks()
    t_fast = time.perf_counter() - t0
    assert {k: dict(v) for k, v in slow.items()} == {k: dict(v) for k, v in fast.items()}
    store.close()
    print(f"Database: {stats['disks']} disks, {stats['readings']:,} readings, "
          f"{stats['smart_data']:,} attribute rows, {stats['checks']:,} check rows, "
          f"{stats['health_alerts']} alerts, {stats['bytes'] / 1e9:.2f} GB "
          f"(built in {meta['build_s']:.0f} s)")
    print(f"Latest check per device: grouping all rows (last_checks) {t_slow * 1000:.0f} ms, "
          f"loose index scan (latest_checks) {t_fast * 1000:.1f} ms "
          f"({t_slow / t_fast:.0f}x faster)")

    dense_id = "wwn-0x5000c50000000000"
    sparse_id = f"wwn-0x5000c500{args.dense:08x}"
    cases = [
        ("baseline: static file", "/static/app.css", False),
        ("fleet page (all disks)", "/", True),
        ("fleet page, critical only", "/?state=critical", True),
        ("disk page, 10-min reads, 1 year", f"/disks/{dense_id}?range=1y", True),
        ("disk page, 10-min reads, 30 days", f"/disks/{dense_id}", True),
        ("disk page, daily reads, 1 year", f"/disks/{sparse_id}?range=1y", True),
        ("chart image attr:197, 10-min, 1 year",
         f"/disks/{dense_id}/chart.svg?metric=attr:197&range=1y", False),
        ("alerts page", "/alerts", True),
        ("GET /api/health", "/api/health", False),
        ("GET /api/disks?limit=1000", "/api/disks?limit=1000", False),
        ("GET /api/disks?state=critical,warning", "/api/disks?state=critical,warning", False),
        ("GET /api/disks/{id}", f"/api/disks/{dense_id}", False),
        ("history temperature, 1 year", f"/api/disks/{dense_id}/history?since=1y", False),
        ("history attr:197, 1 year",
         f"/api/disks/{dense_id}/history?metric=attr:197&since=1y", False),
        ("GET /api/alerts?state=all", "/api/alerts?state=all", False),
        ("GET /metrics", "/metrics", False),
    ]
    server = BackgroundServer(App(args.db, clock=lambda: NOW), "127.0.0.1", 0)
    failed = []
    try:
        for _, path, _ in cases:  # warm the page cache and the per-thread connections
            timed_get(server.url + path, 1)
        base = None
        print(f"\n{'request':40} {'median':>9} {'x static':>9} {'bytes':>10}  (gzip)")
        for label, path, is_page in cases:
            secs, status, size = timed_get(server.url + path, args.repeat)
            if base is None:
                base = secs
            mark = ""
            if is_page:
                mark = "  < 1 s" if secs < 1.0 else "  OVER 1 s"
                if secs >= 1.0:
                    failed.append(label)
            assert status == 200, (path, status)
            print(f"{label:40} {secs * 1000:8.1f}ms {secs / base:8.0f}x {size:10,}{mark}")
        for label, path in (("disk page + its charts, 10-min, 1 year",
                             f"/disks/{dense_id}?range=1y"),
                            ("disk page + its charts, daily, 1 year",
                             f"/disks/{sparse_id}?range=1y")):
            secs, images = page_with_images(server.url, path, args.repeat)
            ok = secs < 1.0
            if not ok:
                failed.append(label)
            print(f"{label:40} {secs * 1000:8.1f}ms {secs / base:8.0f}x "
                  f"{images:>4} images{'  < 1 s' if ok else '  OVER 1 s'}")
    finally:
        server.close()
    print("\nAll dashboard pages under one second." if not failed
          else f"\nOver one second: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
