"""The embedded store: one SQLite file in WAL mode, standard library only.

WAL lets the web server and ``--summary`` read while the daemon writes; the busy
timeout turns short lock contention into a wait instead of an error. A file that is
not a usable database is moved aside (never overwritten) and a fresh one created.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields
from typing import Any

from maid_smart_monitor.model import (
    CheckOutcome,
    DiskMemory,
    Finding,
    NvmeHealth,
    ScsiHealth,
    Severity,
    SmartRecord,
)
from maid_smart_monitor.storage import rows
from maid_smart_monitor.storage.base import (
    CorruptDatabase,
    DatabaseFull,
    DatabaseLocked,
    DiskStatus,
    SchemaTooNew,
    StoreError,
    Summary,
    parse_utc,
    utc_text,
)
from maid_smart_monitor.storage.reads import SharedReads
from maid_smart_monitor.storage.schema import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)

_CORRUPT_MARKERS = ("not a database", "malformed", "file is encrypted", "corrupt")


def translate(exc: sqlite3.Error, path: str) -> StoreError:
    """Turn sqlite3's one-size exception into the named error callers branch on."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return DatabaseLocked(f"database {path} is locked by another process: {exc}")
    if "full" in text:
        return DatabaseFull(f"database {path}: disk is full: {exc}")
    if any(m in text for m in _CORRUPT_MARKERS):
        return CorruptDatabase(f"database {path} is corrupt: {exc}")
    if "readonly" in text or "unable to open" in text:
        return StoreError(f"database {path} cannot be written: {exc}")
    return StoreError(f"database {path}: {exc}")


def move_aside(path: str) -> str:
    """Rename a damaged database (and its WAL/SHM) to ``<path>.corrupt-<UTC time>``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = f"{path}.corrupt-{stamp}"
    n = 1
    while os.path.exists(target):
        target = f"{path}.corrupt-{stamp}.{n}"
        n += 1
    os.rename(path, target)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.rename(path + suffix, target + suffix)
    return target


class SQLiteStore(SharedReads):
    """The :class:`~maid_smart_monitor.storage.base.Store` on SQLite (alert and disk-name
    lookups: :class:`~maid_smart_monitor.storage.reads.SharedReads`)."""

    _PH = "?"

    def __init__(
        self,
        path: str,
        *,
        busy_timeout: float = 10.0,
        readonly: bool = False,
        on_corrupt: str = "move",  # "move": move aside and start fresh; "raise"
    ) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.readonly = readonly
        self.moved_aside: str | None = None
        self._lock = threading.RLock()
        self._identity: tuple[int, int] | None = None
        try:
            self._conn = self._connect()
        except CorruptDatabase as exc:
            if on_corrupt != "move" or readonly or path == ":memory:":
                raise
            self.moved_aside = move_aside(path)
            log.error(
                "%s; moved it aside to %s and created a new, empty database",
                exc,
                self.moved_aside,
            )
            self._conn = self._connect()

    # ------------------------------------------------------------------ plumbing

    def _connect(self) -> sqlite3.Connection:
        memory = self.path == ":memory:"
        if not memory and not self.readonly:
            parent = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(parent, exist_ok=True)
        target = f"file:{self.path}?mode=ro" if self.readonly else self.path
        try:
            conn = sqlite3.connect(
                target,
                timeout=self.busy_timeout,
                uri=self.readonly,
                check_same_thread=False,
                isolation_level=None,  # explicit BEGIN/COMMIT below
            )
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc
        conn.row_factory = sqlite3.Row
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            if not memory and not self.readonly:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            if version > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"database {self.path} has schema version {version}, newer than this "
                    f"monitor's {SCHEMA_VERSION}: upgrade maid-smart-monitor"
                )
            if not self.readonly:
                self._migrate(conn, version)
        except sqlite3.Error as exc:
            conn.close()
            raise translate(exc, self.path) from exc
        except StoreError:
            conn.close()
            raise
        if not memory:
            st = os.stat(self.path)
            self._identity = (st.st_dev, st.st_ino)
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection, version: int) -> None:
        for number, (name, sql) in enumerate(MIGRATIONS, start=1):
            if number <= version:
                continue
            log.info("Applying database migration %s", name)
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(sql):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def reopen_if_replaced(self) -> bool:
        """Reconnect when the file was deleted or replaced under a long-running daemon.

        A deleted file would otherwise keep receiving writes on an unlinked inode,
        which is data loss that nobody sees.
        """
        if self.path == ":memory:":
            return False
        try:
            st = os.stat(self.path)
            same = (st.st_dev, st.st_ino) == self._identity
        except FileNotFoundError:
            same = False
        if same:
            return False
        log.warning("Database %s was removed or replaced; opening it afresh", self.path)
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
        self._conn = self._connect()
        return True

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise translate(exc, self.path) from exc
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise translate(exc, self.path) from exc
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise translate(exc, self.path) from exc

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        found = self._query(sql, params)
        return found[0][0] if found else None

    def execute_script(self, sql: str) -> None:
        """Run user SQL (the seed's maintenance statements); for tools and tests."""
        with self._lock:
            try:
                self._conn.executescript(sql)
            except sqlite3.Error as exc:
                raise translate(exc, self.path) from exc

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._conn.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ readings

    def save_reading(self, record: SmartRecord, device: str, now: str) -> int | None:
        """Store one good reading; returns its id, or None when it has no identity.

        A reading without serial or WWN cannot be tied to a disk, so storing it would
        start a history that no later reading can continue.
        """
        ident = record.identity
        disk_id = record.disk_id
        if not record.ok or ident is None or disk_id is None:
            return None
        details = rows.details_json(record)
        facts = rows.identity_values(record)
        with self._tx() as db:
            row = db.execute("SELECT device FROM disks WHERE disk_id = ?", (disk_id,)).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO disks (disk_id, device, dev_type, model, serial, wwn, firmware,"
                    " protocol, capacity_bytes, rotation_rate, form_factor, first_seen,"
                    " last_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (disk_id, device, *facts, now, now),
                )
            else:
                if row["device"] != device:
                    # The disk moved (/dev/sdc at the last boot, /dev/sdf now): its history
                    # follows it, so the seed's "WHERE device = ?" keeps meaning this disk.
                    log.info("Disk %s moved from %s to %s", disk_id, row["device"], device)
                    db.execute(
                        "UPDATE smart_data SET device = ? WHERE reading_id IN"
                        " (SELECT id FROM readings WHERE disk_id = ?)",
                        (device, disk_id),
                    )
                    db.execute(
                        "UPDATE health_alerts SET device = ? WHERE disk_id = ?",
                        (device, disk_id),
                    )
                db.execute(
                    "UPDATE disks SET device = ?, dev_type = ?, model = ?, serial = ?, wwn = ?,"
                    " firmware = ?, protocol = ?, capacity_bytes = ?, rotation_rate = ?,"
                    " form_factor = ?, last_seen = ? WHERE disk_id = ?",
                    (device, *facts, now, disk_id),
                )
            cur = db.execute(
                "INSERT INTO readings (disk_id, device, timestamp, exit_status, smart_passed,"
                " temperature, power_on_hours, power_cycle_count, details)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                rows.reading_values(record, disk_id, device, now, details),
            )
            reading_id = cur.lastrowid
            db.executemany(
                "INSERT INTO smart_data (device, timestamp, attribute_id, attribute_name,"
                " raw_value, value, worst, thresh, raw_string, when_failed, reading_id)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                rows.attribute_values(record, device, now, reading_id),
            )
        return reading_id

    def last_record(self, disk_id: str) -> SmartRecord | None:
        """The disk's latest stored reading, rebuilt (health compares against it)."""
        found = self._query(
            "SELECT r.*, d.dev_type, d.model, d.serial, d.wwn, d.firmware, d.protocol,"
            " d.capacity_bytes, d.rotation_rate, d.form_factor FROM readings r"
            " JOIN disks d USING (disk_id) WHERE r.disk_id = ?"
            " ORDER BY r.timestamp DESC, r.id DESC LIMIT 1",
            (disk_id,),
        )
        if not found:
            return None
        r = found[0]
        attrs = self._query(
            "SELECT attribute_id, attribute_name, raw_value, value, worst, thresh, raw_string,"
            " when_failed FROM smart_data WHERE reading_id = ? ORDER BY attribute_id",
            (r["id"],),
        )
        return rows.smart_record(r, attrs, json.loads(r["details"]) if r["details"] else {})

    def last_read_time(self, disk_id: str) -> str | None:
        found = self._query("SELECT max(timestamp) FROM readings WHERE disk_id = ?", (disk_id,))
        return found[0][0] if found else None

    # ------------------------------------------------------------------ cycles

    def record_cycle(
        self, outcomes: Sequence[CheckOutcome], started: str, finished: str, duration: float
    ) -> int:
        counts = rows.outcome_counts(outcomes)
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO cycles (started, finished, duration, counts) VALUES (?,?,?,?)",
                (started, finished, duration, json.dumps(counts, sort_keys=True)),
            )
            cycle_id = cur.lastrowid or 0
            db.executemany(
                "INSERT INTO checks (cycle_id, device_key, device, disk_id, result, reason,"
                " last_read_age) VALUES (?,?,?,?,?,?,?)",
                [(cycle_id, *rows.check_values(o)) for o in outcomes],
            )
        return cycle_id

    def prune_checks(self, keep_cycles: int) -> int:
        """Drop per-device check rows of all but the newest ``keep_cycles`` cycles."""
        with self._tx() as db:
            cur = db.execute(
                "DELETE FROM checks WHERE cycle_id <= (SELECT max(id) FROM cycles) - ?",
                (keep_cycles,),
            )
            return cur.rowcount

    def last_checks(self) -> dict[str, sqlite3.Row]:
        """The latest check row per device key (what the monitor last did with each)."""
        return self.latest_checks()

    # ------------------------------------------------------------------ policy memory

    def load_memory(self) -> dict[str, DiskMemory]:
        return {r["key"]: rows.disk_memory(r) for r in self._query("SELECT * FROM disk_memory")}

    def save_memory(self, memories: Iterable[DiskMemory]) -> None:
        values = [rows.memory_values(m) for m in memories]
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO disk_memory (key, disk_id, last_read, last_attempt,"
                " io_reads, io_writes, last_io_seen, power_check_supported, consecutive_skips,"
                " last_result, deliberate_wakes, last_look, first_seen)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                values,
            )

    # ------------------------------------------------------------------ alerts

    def insert_alert(self, disk_id: str, device: str, finding: Finding, now: str) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO health_alerts (device, timestamp, alert_type, severity, message,"
                " value, resolved, last_seen, disk_id) VALUES (?,?,?,?,?,?,0,?,?)",
                (
                    device, now, finding.rule_id, finding.severity.value, finding.message,
                    finding.value, now, disk_id,
                ),
            )
            return cur.lastrowid or 0

    def update_alert(
        self,
        alert_id: int,
        *,
        severity: Severity | None = None,
        message: str | None = None,
        value: float | None = None,
        last_seen: str | None = None,
        notify_count: int | None = None,
        last_notified: str | None = None,
    ) -> None:
        sets = rows.alert_changes(
            severity=severity, message=message, value=value, last_seen=last_seen,
            notify_count=notify_count, last_notified=last_notified,
        )
        if not sets:
            return
        # Column names come from rows.alert_changes' fixed dict, never from callers.
        assignments = ", ".join(f"{k} = ?" for k in sets)
        with self._tx() as db:
            db.execute(
                f"UPDATE health_alerts SET {assignments} WHERE id = ?",
                (*sets.values(), alert_id),
            )

    def resolve_alert(self, alert_id: int, now: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE health_alerts SET resolved = 1, resolved_at = ? WHERE id = ?",
                (now, alert_id),
            )

    def acknowledge_alert(self, alert_id: int, note: str, now: str) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE health_alerts SET acknowledged = 1, ack_note = ?, ack_at = ?"
                " WHERE id = ? AND resolved = 0",
                (note, now, alert_id),
            )
            return cur.rowcount == 1

    def record_notification(
        self,
        alert_id: int | None,
        event: str,
        channel: str,
        ok: bool,
        error: str | None,
        attempts: int,
        now: str,
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO notifications (alert_id, event, channel, ok, error, attempts,"
                " timestamp) VALUES (?,?,?,?,?,?,?)",
                (alert_id, event, channel, int(ok), error, attempts, now),
            )

    # ------------------------------------------------------------------ fleet views

    def latest(self) -> list[DiskStatus]:
        """Every known disk with its latest reading, latest check and open alerts.

        The same as :meth:`fleet_status`: a disk seen under two device keys (it moved
        from /dev/sdc to /dev/sdf) shows its newest check and the deliberate wakes of
        all its keys summed (each key's policy memory counts the wakes under it).
        """
        return self.fleet_status()

    def summary(self, now: str | None = None, stale_after: float | None = None) -> Summary:
        total = self._query("SELECT count(*) FROM disks")[0][0]
        by_device = [
            (r["device"], r["n"])
            for r in self._query(
                "SELECT device, count(*) AS n FROM health_alerts WHERE resolved = 0"
                " GROUP BY device ORDER BY device"
            )
        ]
        last_checks: dict[str, int] = {}
        for r in self.last_checks().values():
            last_checks[r["result"]] = last_checks.get(r["result"], 0) + 1
        stale: list[tuple[str, float]] = []
        if stale_after is not None:
            ref = parse_utc(now or utc_text())
            for r in self._query(
                "SELECT d.device, max(r.timestamp) AS t FROM disks d"
                " JOIN readings r USING (disk_id) GROUP BY d.disk_id ORDER BY d.device"
            ):
                age = (ref - parse_utc(r["t"])).total_seconds()
                if age > stale_after:
                    stale.append((r["device"], age))
        last = self._query("SELECT max(finished) FROM cycles")[0][0]
        return Summary(total, by_device, last_checks, stale, last)

    def iter_export(self, since: str) -> Iterator[tuple]:
        """Every stored value since ``since``, oldest first, one row at a time.

        ATA attributes come from ``smart_data``; NVMe and SCSI health-log fields (which
        have no attribute id) come from the readings' details, named ``nvme.<field>``.
        The cursor is iterated, never fetched whole, so memory stays flat.
        """
        sql = (
            "SELECT s.timestamp, s.device, s.attribute_id, s.attribute_name, s.raw_value,"
            " s.value, s.worst, s.thresh, s.raw_string, r.disk_id FROM smart_data s"
            " JOIN readings r ON r.id = s.reading_id WHERE s.timestamp >= ?"
            " UNION ALL"
            # the disk's current name, as smart_data.device has it (history follows the disk)
            " SELECT r.timestamp, d.device, NULL, s.key || '.' || j.key, j.value, NULL, NULL,"
            " NULL, NULL, r.disk_id FROM readings r JOIN disks d ON d.disk_id = r.disk_id,"
            " json_each(r.details) s, json_each(s.value) j"
            " WHERE r.timestamp >= ? AND s.key IN ('nvme', 'scsi') AND j.value IS NOT NULL"
            " ORDER BY 1, 2, 3, 4"
        )
        with self._lock:
            try:
                cur = self._conn.execute(sql, (since, since))
                while True:
                    batch = cur.fetchmany(1000)
                    if not batch:
                        return
                    for row in batch:
                        yield tuple(row)
            except sqlite3.Error as exc:
                raise translate(exc, self.path) from exc

    def history(
        self, disk_id: str, metric: str, since: str, until: str | None = None
    ) -> list[tuple[str, float | None]]:
        """A time series for one disk.

        ``metric``: ``temperature``, ``power_on_hours``, ``power_cycle_count``,
        ``attr:<id>`` (raw value), or ``nvme.<field>`` / ``scsi.<field>``.
        """
        inner, prefix = self._series_sql(metric)  # the one place metric names are checked
        found = self._query(
            f"SELECT t, v FROM ({inner}) ORDER BY t",
            (*prefix, disk_id, since, until or "9999-12-31 23:59:59"),
        )
        return [(r[0], r[1]) for r in found]

    def stats(self) -> dict[str, int]:
        """Row counts and file size, for sizing and benchmarks."""
        out = {
            t: self._query(f"SELECT count(*) FROM {t}")[0][0]
            for t in ("disks", "readings", "smart_data", "health_alerts", "checks", "cycles")
        }
        if self.path != ":memory:":
            page = self._query("PRAGMA page_size")[0][0]
            count = self._query("PRAGMA page_count")[0][0]
            out["bytes"] = page * count
        return out


    # ---- read-only views for web and metrics
    # Added for the dashboard, the REST API and /metrics (maid_smart_monitor.web,
    # maid_smart_monitor.metrics). Read-only, parameterised SQL only; each view answers
    # with a few indexed queries, so a page or a scrape over 1,000 disks and a year of
    # history does not scan the history tables.

    def latest_checks(self) -> dict[str, sqlite3.Row]:
        """The rows of :meth:`last_checks`, found by one index seek per device key.

        A loose index scan over ``idx_checks_key`` (recursive CTE: next key, then that
        key's newest cycle) instead of grouping every stored check row: the checks table
        holds ``keep_check_cycles`` cycles of every device (millions of rows).
        """
        found = self._query(
            "WITH RECURSIVE k(key) AS ("
            " SELECT min(device_key) FROM checks"
            " UNION ALL"
            " SELECT (SELECT min(device_key) FROM checks WHERE device_key > k.key)"
            " FROM k WHERE k.key IS NOT NULL)"
            " SELECT c.*, cy.finished FROM k"
            " JOIN checks c ON c.device_key = k.key"
            "  AND c.cycle_id = (SELECT max(cycle_id) FROM checks WHERE device_key = k.key)"
            " JOIN cycles cy ON cy.id = c.cycle_id"
        )
        return {r["device_key"]: r for r in found}

    def fleet_status(self, disk_id: str | None = None) -> list[DiskStatus]:
        """Every known disk (or one) with its latest reading, latest check and open
        alerts, in a few indexed queries (views run it per request).

        A disk seen under two device keys (moved from /dev/sdc to /dev/sdf): its newest
        check wins and its deliberate wakes are summed over the keys, as on PostgreSQL.
        """
        where, params = ("WHERE d.disk_id = ?", (disk_id,)) if disk_id is not None else ("", ())
        disks = self._query(
            "SELECT d.*, r.timestamp AS last_read, r.smart_passed, r.temperature,"
            " r.power_on_hours, r.power_cycle_count FROM disks d"
            " LEFT JOIN readings r ON r.id = ("
            "   SELECT id FROM readings WHERE disk_id = d.disk_id"
            "   ORDER BY timestamp DESC, id DESC LIMIT 1)"
            f" {where} ORDER BY d.device, d.disk_id",
            params,
        )
        if not disks:
            return []
        alerts = rows.open_alert_counts(self._query(
            "SELECT disk_id, severity, count(*) AS n FROM health_alerts WHERE resolved = 0"
            + (" AND disk_id = ?" if disk_id is not None else "")
            + " GROUP BY disk_id, severity",
            params,
        ))
        checks = rows.newest_check_per_disk(self.latest_checks().values())
        wakes = {
            r["disk_id"]: r["n"]
            for r in self._query(
                "SELECT disk_id, sum(deliberate_wakes) AS n FROM disk_memory"
                " WHERE disk_id IS NOT NULL GROUP BY disk_id"
            )
        }
        return rows.disk_statuses(disks, checks, alerts, wakes)

    def latest_snapshots(self) -> dict[str, dict[str, Any]]:
        """Per disk, from its newest reading: exit status, form factor, NVMe/SCSI health
        logs and the ATA attribute rows (what ``/metrics`` exports), in two queries."""
        newest = (
            " FROM disks d JOIN readings r ON r.id = ("
            "   SELECT id FROM readings WHERE disk_id = d.disk_id"
            "   ORDER BY timestamp DESC, id DESC LIMIT 1)"
        )
        out: dict[str, dict[str, Any]] = {}
        for r in self._query(
            "SELECT d.disk_id, d.form_factor, r.exit_status, r.details" + newest
        ):
            details = json.loads(r["details"]) if r["details"] else {}
            out[r["disk_id"]] = {
                "exit_status": r["exit_status"],
                "form_factor": r["form_factor"],
                "nvme": details.get("nvme"),
                "scsi": details.get("scsi"),
                "attributes": [],
            }
        for r in self._query(
            "SELECT d.disk_id, s.attribute_id, s.attribute_name, s.value, s.worst, s.thresh,"
            " s.raw_value, s.when_failed" + newest
            + " JOIN smart_data s ON s.reading_id = r.id ORDER BY d.disk_id, s.attribute_id"
        ):
            snap = out.get(r["disk_id"])
            if snap is not None:
                snap["attributes"].append(dict(r))
        return out

    def _series_sql(self, metric: str) -> tuple[str, tuple[Any, ...]]:
        """SQL of (t, v) rows of one metric for parameters (disk_id, since, until), with
        the parameters that precede those; the metric names of :meth:`history`."""
        if metric in ("temperature", "power_on_hours", "power_cycle_count"):
            return (
                f"SELECT timestamp AS t, {metric} AS v FROM readings WHERE disk_id = ?"
                " AND timestamp >= ? AND timestamp <= ?",
                (),
            )
        if metric.startswith("attr:") and metric[5:].isdigit() and len(metric) <= 9:
            return (
                "SELECT r.timestamp AS t, s.raw_value AS v FROM readings r JOIN smart_data s"
                " ON s.reading_id = r.id AND s.attribute_id = ? WHERE r.disk_id = ?"
                " AND r.timestamp >= ? AND r.timestamp <= ?",
                (int(metric[5:]),),
            )
        if metric.startswith(("nvme.", "scsi.")):
            group, _, name = metric.partition(".")
            allowed = {f.name for f in fields(NvmeHealth if group == "nvme" else ScsiHealth)}
            if name in allowed:
                return (
                    "SELECT timestamp AS t, json_extract(details, ?) AS v FROM readings"
                    " WHERE disk_id = ? AND timestamp >= ? AND timestamp <= ?",
                    (f"$.{group}.{name}",),
                )
        raise ValueError(f"unknown metric {metric!r}")

    def history_buckets(
        self, disk_id: str, metric: str, since: str, until: str, bucket_seconds: int
    ) -> list[tuple[str, float, float, float, int]]:
        """A series cut into time buckets: (mean time, mean, min, max, count) per bucket.

        Downsampling happens in SQLite, so a year of 5-minute readings (105,000 rows)
        reaches Python as a few hundred rows. A bucket holding one reading is that
        reading exactly. Readings without a value for the metric are left out.
        """
        if bucket_seconds < 1:
            raise ValueError("bucket_seconds must be at least 1")
        inner, prefix = self._series_sql(metric)
        sql = (
            "SELECT datetime(CAST(avg(e) AS INTEGER), 'unixepoch') AS t, avg(v), min(v),"
            " max(v), count(*) FROM ("
            # julianday() is the cheapest text-to-time conversion in SQLite (strftime
            # costs a third more per row); rounded, it is exact to the second.
            f"  SELECT CAST(round((julianday(t) - 2440587.5) * 86400) AS INTEGER) AS e, v"
            f"  FROM ({inner}) WHERE v IS NOT NULL)"
            " GROUP BY (e - CAST(round((julianday(?) - 2440587.5) * 86400) AS INTEGER)) / ?"
            " ORDER BY 1"
        )
        found = self._query(sql, (*prefix, disk_id, since, until, since, bucket_seconds))
        return [(r[0], r[1], r[2], r[3], r[4]) for r in found]

    def check_totals(self, after_cycle: int = 0) -> tuple[int, dict[str, int]]:
        """Checks per result summed over the cycles after ``after_cycle``, and the newest
        cycle id: counters that stay monotonic although per-device checks are pruned
        (each cycle keeps its counts)."""
        last = self._query("SELECT max(id) FROM cycles")[0][0] or 0
        totals: dict[str, int] = {}
        if last > after_cycle:
            for r in self._query(
                "SELECT j.key AS result, sum(j.value) AS n FROM cycles c, json_each(c.counts) j"
                " WHERE c.id > ? AND c.id <= ? GROUP BY j.key",
                (after_cycle, last),
            ):
                totals[r["result"]] = int(r["n"] or 0)
        return last, totals

    def last_cycle(self) -> dict[str, Any] | None:
        """The newest recorded cycle: id, started, finished, duration, counts."""
        found = self._query(
            "SELECT id, started, finished, duration, counts FROM cycles ORDER BY id DESC LIMIT 1"
        )
        if not found:
            return None
        r = found[0]
        return {
            "id": r["id"], "started": r["started"], "finished": r["finished"],
            "duration": r["duration"], "counts": json.loads(r["counts"] or "{}"),
        }


# ---------------------------------------------------------------------- helpers


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip() and not _only_comments(s)]


def _only_comments(chunk: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in chunk.splitlines())
