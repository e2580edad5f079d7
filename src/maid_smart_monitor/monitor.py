"""One monitoring cycle: discover -> power -> policy -> smartctl -> parse -> health -> store.

This module only coordinates; every decision lives in a pure module (policy, health,
alerts) and every side effect behind a seam (Runner, PowerReader, Store, Notifier).
``MAIDSmartMonitor`` keeps the seed's Python API (``MAIDSmartMonitor(db_path)``,
``check_smart_support``, ``run_monitoring_cycle``).
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import IO, Any

from maid_smart_monitor import alerts as alerts_mod
from maid_smart_monitor import config as config_mod
from maid_smart_monitor import health, policy, risk
from maid_smart_monitor.discovery import DiscoveryError, complete, discover
from maid_smart_monitor.model import (
    CheckOutcome,
    CheckResult,
    CycleReport,
    DiskMemory,
    DiskRef,
    ReadDecision,
    ReadState,
    SmartRecord,
)
from maid_smart_monitor.power import PowerReader
from maid_smart_monitor.smartctl.command import info_argv, read_argv
from maid_smart_monitor.smartctl.parse import parse_result
from maid_smart_monitor.smartctl.runner import Runner, SubprocessRunner
from maid_smart_monitor.storage.base import (
    CorruptDatabase,
    Store,
    StoreError,
    Summary,
    parse_utc,
    utc_text,
)
from maid_smart_monitor.storage.factory import is_postgres, open_store
from maid_smart_monitor.storage.sqlite import move_aside

log = logging.getLogger(__name__)

EXPORT_COLUMNS = (
    "timestamp", "device", "attribute_id", "attribute_name", "raw_value",
    "value", "worst", "thresh", "raw_string", "disk_id",
)


MAX_PENDING = 20_000  # readings held while the database is locked or full (~200 MB at most)


@dataclass
class _Pending:
    """A reading whose storing or alerting could not finish (locked or full database):
    kept with its findings and retried, so an alert it should raise is raised late, not
    lost (the next reading compares against it and would no longer see the change)."""

    record: SmartRecord
    device: str
    when: str
    findings: list[Any]
    stored: bool = False


def policy_config(settings: config_mod.Settings) -> policy.PolicyConfig:
    return policy.PolicyConfig(
        mounted_only=settings.mounted_only,
        piggyback=settings.piggyback,
        activity_window=settings.activity_window,
        max_staleness=settings.max_staleness,
        maintenance_window=settings.maintenance_window,
        min_read_interval=settings.interval,
    )


def health_config(settings: config_mod.Settings) -> health.HealthConfig:
    try:
        return health.HealthConfig.from_strings(settings.health)
    except ValueError as exc:
        raise config_mod.ConfigError(str(exc)) from None


class MAIDSmartMonitor:
    """The monitor of one node. Dependencies are passed in; defaults are the real ones."""

    def __init__(
        self,
        db_path: str | None = None,
        *,
        settings: config_mod.Settings | None = None,
        runner: Runner | None = None,
        power_reader: PowerReader | None = None,
        clock: Callable[[], float] = time.time,
        store: Store | None = None,
        notifier: Any = None,
    ) -> None:
        if settings is None:
            settings = config_mod.load(environ={})
        if db_path is not None:
            settings = settings.replace(db_path=db_path)
        self.settings = settings
        self.runner: Runner = runner or SubprocessRunner()
        self.power = power_reader or PowerReader(settings.procfs, settings.sysfs)
        self.clock = clock
        self.store: Any = store or open_store(
            settings.db_path, busy_timeout=settings.busy_timeout, node=settings.node
        )
        self.policy = policy_config(settings)
        self.health = health_config(settings)
        self.notifier = notifier
        self.devices: list[DiskRef] = []
        self._pending: list[_Pending] = []
        # Policy memory: loaded from the store once, saved after every full cycle, so a
        # daemon's frequent ticks cost no database writes and cron runs still share it.
        self._memory: dict[str, DiskMemory] | None = None

    # ------------------------------------------------------------------ seed API

    def check_smart_support(self, device: str | DiskRef) -> bool:
        """Does the disk speak SMART? Asked with ``-n standby``: never wakes it.

        A disk in standby answers nothing about SMART; that is reported as False
        *for now*, and logged, rather than spinning it up to find out.
        """
        dev = device if isinstance(device, DiskRef) else self._ref(device)
        if dev.block and self.power.runtime_status(dev.block) in ("suspended", "suspending"):
            log.info("%s is runtime-suspended; SMART support not checked (opening it would "
                     "resume it)", dev.label)
            return False
        result = self.runner.run(
            info_argv(self.settings.smartctl, dev), timeout=self.settings.smartctl_timeout
        )
        record = parse_result(result, dev)
        if record.state is ReadState.STANDBY:
            log.info("%s is in standby; SMART support not checked (would wake it)", dev.label)
            return False
        if not record.ok:
            log.warning("%s: %s", dev.label, record.error)
            return False
        return record.identity is not None and record.smart_enabled is not False

    def run_monitoring_cycle(self) -> CycleReport:
        """One full cycle over every disk; records what was done with each and why."""
        return self._cycle(full=True)

    def piggyback_tick(self) -> CycleReport:
        """The daemon's frequent, cheap look: read only disks the policy says to read now.

        Costs one /proc/diskstats read when nothing moved; disks that just served host
        I/O are read within seconds, while they are spinning anyway.
        """
        return self._cycle(full=False)

    def get_summary(self) -> Summary:
        return self.store.summary(utc_text(self.clock()), stale_after=self._stale_after())

    def print_summary(self) -> str:
        """The seed's summary lines first, then what a MAID operator needs besides."""
        s = self.get_summary()
        lines = [
            "MAID SMART Health Summary:",
            f"Total devices: {s.total_devices}",
            f"Devices with alerts: {s.devices_with_alerts}",
        ]
        lines += [f"  {device}: {n} alerts" for device, n in s.alerts_by_device]
        if s.last_checks:
            counts = ", ".join(f"{k} {v}" for k, v in sorted(s.last_checks.items()))
            lines.append(f"Last check per device: {counts}")
        if s.last_cycle:
            lines.append(f"Last cycle: {s.last_cycle} UTC")
        for device, age in s.stale_devices:
            lines.append(f"  {device}: last reading {_age(age)} old (stale)")
        return "\n".join(lines)

    def export_csv(self, target: str | IO[str], days: float = 30) -> int:
        """Write the last ``days`` of history as CSV, streaming; returns the row count."""
        since = utc_text(self.clock() - days * 86400)
        if isinstance(target, str):
            with open(target, "w", newline="", encoding="utf-8") as fh:
                return self._write_csv(fh, since)
        return self._write_csv(target, since)

    def _write_csv(self, fh: IO[str], since: str) -> int:
        writer = csv.writer(fh)
        writer.writerow(EXPORT_COLUMNS)
        n = 0
        for row in self.store.iter_export(since):
            writer.writerow(["" if v is None else v for v in row])
            n += 1
        return n

    def close(self) -> None:
        self.store.close()

    def adopt_state(self, old: MAIDSmartMonitor) -> None:
        """Take over a replaced monitor's in-process state (daemon reload): its policy
        memory, its unstored readings and its device list; nothing is lost."""
        self._memory = old._memory
        self._pending = old._pending + self._pending
        self.devices = list(old.devices)

    # ------------------------------------------------------------------ the cycle

    def discover(self) -> list[DiskRef]:
        self.devices = discover(
            self.settings.smartctl,
            self.runner,
            self.power,
            self.settings.devices,
            timeout=self.settings.smartctl_timeout,
        )
        return self.devices

    def _rediscover(self) -> None:
        """A failed scan keeps the disks already known (one error line per cycle); with
        none known yet, the error is the caller's (the one-shot CLI exits 1 with it)."""
        try:
            self.discover()
        except DiscoveryError as exc:
            if not self.devices:
                raise
            log.error("%s; keeping the %d disks found before", exc, len(self.devices))

    def _cycle(self, *, full: bool) -> CycleReport:
        started = self.clock()
        wall = time.monotonic()
        report = CycleReport(started=started)
        self._reopen_store()
        self._flush_pending()
        if full:
            self._rediscover()
        if self._memory is None:  # afterwards this process's memory is the newest
            self._memory = self._load_memory()
        memory = self._memory
        devices = list(self.devices) if full else self._tick_candidates(memory, started)
        snaps = self.power.snapshot(devices)
        decisions: dict[str, ReadDecision] = {}
        for dev in devices:
            snap = snaps[dev.key]
            decisions[dev.key] = policy.decide(snap, memory.get(dev.key), started, self.policy)
        to_read = [d for d in devices if decisions[d.key].read]
        records = self._read_all(to_read, decisions)
        blocks = [d.block for d in to_read if d.block]
        io_after = self.power.io_counters(blocks) if blocks else {}
        now = self.clock()
        now_text = utc_text(now)
        new_memory: list[DiskMemory] = []
        for dev in devices:
            decision = decisions[dev.key]
            record = records.get(dev.key)
            mem = memory.get(dev.key)
            after = io_after.get(dev.block) if dev.block else None
            updated = policy.remember(
                mem or DiskMemory(dev.key), snaps[dev.key], decision, record, now, after
            )
            if full or decision.read:
                try:
                    outcome = self._outcome(dev, decision, record, mem, now, now_text)
                except Exception as exc:
                    # A bug or a bad value in one disk's data fails that disk only, never
                    # the cycle (which would lose every other disk's reading with it).
                    log.exception("Handling the reading of %s failed", dev.label)
                    outcome = CheckOutcome(dev, CheckResult.ERROR, f"internal error: {exc}",
                                           record, _disk_id(record, mem))
                report.outcomes.append(outcome)
                if outcome.disk_id and updated.disk_id != outcome.disk_id:
                    updated = _with_disk_id(updated, outcome.disk_id)
            memory[dev.key] = updated
            new_memory.append(updated)
        report.finished = self.clock()
        report.elapsed = time.monotonic() - wall
        if full:
            self._save_cycle(report, new_memory)
        elif report.outcomes:
            self._save_cycle(report, [memory[o.device.key] for o in report.outcomes])
        self._log_cycle(report, full)
        return report

    def _tick_candidates(self, memory: dict[str, DiskMemory], now: float) -> list[DiskRef]:
        """Disks a tick may read: solid state ones, and those whose counters moved.

        One /proc/diskstats read decides; the per-disk sysfs reads of a full snapshot are
        spent only on these. A rotational disk with no host I/O cannot be read by the
        policy anyway (deliberate wakes are left to full cycles). The others were looked
        at all the same: their ``last_look`` moves, so that movement seen by a later tick
        is known to be at most one tick old.
        """
        blocks = [d.block for d in self.devices if d.block]
        io = self.power.io_counters(blocks) if blocks else {}
        out = []
        for dev in self.devices:
            mem = memory.get(dev.key)
            now_io = io.get(dev.block) if dev.block else None
            if dev.rotational is False or (
                now_io is not None and mem is not None and now_io.moved_since(mem.io_baseline)
            ):
                out.append(dev)
            elif mem is not None and now_io is not None:
                memory[dev.key] = policy.observe(mem, now_io, now)
        return out

    def _read_all(
        self, devices: Sequence[DiskRef], decisions: dict[str, ReadDecision]
    ) -> dict[str, SmartRecord]:
        """Read disks in parallel; each smartctl has its own timeout, so one hung disk
        costs its own slot, never the others' time."""

        def read(dev: DiskRef) -> SmartRecord:
            argv = read_argv(self.settings.smartctl, dev,
                             power_check=decisions[dev.key].power_check)
            try:
                result = self.runner.run(argv, timeout=self.settings.smartctl_timeout)
                return parse_result(result, dev)
            except Exception as exc:  # a runner bug must not take the cycle down
                log.exception("Reading %s failed unexpectedly", dev.label)
                return SmartRecord(dev, ReadState.COMMAND_FAILED, error=f"internal error: {exc}")

        if not devices:
            return {}
        workers = max(1, min(self.settings.concurrency, len(devices)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="smartctl") as pool:
            return dict(zip([d.key for d in devices], pool.map(read, devices), strict=True))

    def _outcome(
        self,
        dev: DiskRef,
        decision: ReadDecision,
        record: SmartRecord | None,
        mem: DiskMemory | None,
        now: float,
        now_text: str,
    ) -> CheckOutcome:
        disk_id = _disk_id(record, mem)
        last_read = mem.last_read if mem else None
        age = None if last_read is None else max(0.0, now - last_read)
        if not decision.read or record is None:
            return CheckOutcome(dev, decision.result, decision.reason, None, disk_id, age)
        if record.state is ReadState.STANDBY and policy.wrong_type_sleep(decision, record):
            reason = (
                f"answered {record.power_mode} right after host I/O: a disk that just served "
                f"I/O is not asleep, so -d {dev.dev_type} is probably the wrong type "
                "(a SCSI/SAS disk addressed as sat?)"
            )
            log.error("%s: %s", dev.label, reason)
            return CheckOutcome(dev, CheckResult.ERROR, reason, record, disk_id, age)
        if record.state is ReadState.STANDBY:
            return CheckOutcome(
                dev, CheckResult.STANDBY, f"in standby ({record.power_mode or 'low power'}); "
                "not woken", record, disk_id, age
            )
        if not record.ok:
            log.error("%s: %s", dev.label, record.error or record.state.value)
            return CheckOutcome(dev, CheckResult.ERROR, record.error or record.state.value,
                                record, disk_id, age)
        if record.disk_id is None:
            reason = "read, but smartctl reported no serial or WWN: cannot keep its history"
            log.warning("%s: %s", dev.label, reason)
            return CheckOutcome(dev, CheckResult.ERROR, reason, record, None, age)
        findings = self._judge(dev, record, now_text)
        return CheckOutcome(dev, decision.result, decision.reason, record, record.disk_id, 0.0,
                            tuple(findings))

    def _judge(self, dev: DiskRef, record: SmartRecord, now_text: str) -> list[Any]:
        """Store the reading, evaluate health against the previous one, move alerts."""
        assert record.disk_id is not None
        try:
            previous = self.store.last_record(record.disk_id)
            active = {a.rule_id for a in self.store.open_alerts(record.disk_id)}
        except StoreError as exc:
            log.error("Cannot load the previous reading of %s: %s", dev.label, exc)
            previous, active = None, set()
        findings = health.evaluate(record, previous, self.health, active=active)
        pending = _Pending(record, dev.label, now_text, findings)
        if not self._complete(pending):
            self._keep_pending(pending)
        return findings

    def _complete(self, p: _Pending) -> bool:
        """Store a judged reading, then move its alerts and notify; False: retry later."""
        if not p.stored:
            try:
                self.store.save_reading(p.record, p.device, p.when)
            except StoreError as exc:
                log.error("Cannot store the reading of %s (kept, will retry): %s",
                          p.device, exc)
                return False
            p.stored = True
        try:
            events = alerts_mod.handle_reading(
                self.store, p.record, p.findings, device=p.device,
                now=parse_utc(p.when), repeat=self.settings.repeat,
                risk=risk.estimate(p.record),
            )
        except StoreError as exc:
            log.error("Cannot update the alerts of %s (kept, will retry): %s", p.device, exc)
            return False
        if events and self.notifier is not None:
            self.notifier.send_all(events, self.store)
        return True

    # ------------------------------------------------------------------ store care

    def _reopen_store(self) -> None:
        try:
            self.store.reopen_if_replaced()
        except CorruptDatabase as exc:
            self._recover_corrupt(exc)
        except StoreError as exc:
            log.error("%s", exc)

    def _recover_corrupt(self, exc: CorruptDatabase) -> None:
        """Move a corrupt database aside (never overwrite it) and start a new one."""
        path = self.store.path
        self.store.close()
        if path != ":memory:" and not is_postgres(path):
            moved = move_aside(path)
            log.error("%s; moved it aside to %s and started a new database", exc, moved)
        self.store = open_store(path, busy_timeout=self.settings.busy_timeout,
                                node=self.settings.node)

    def _load_memory(self) -> dict[str, DiskMemory]:
        try:
            return self.store.load_memory()
        except CorruptDatabase as exc:
            self._recover_corrupt(exc)
            return {}
        except StoreError as exc:
            log.error("Cannot load the policy state (treating disks as unknown): %s", exc)
            return {}

    def _keep_pending(self, pending: _Pending) -> None:
        """Hold a reading for the next cycle; bounded, so a database that stays unusable
        for days cannot exhaust the daemon's memory (the oldest go first, and say so)."""
        self._pending.append(pending)
        excess = len(self._pending) - MAX_PENDING
        if excess > 0:
            del self._pending[:excess]
            log.error("The database has been unusable for a long time: dropped the %d oldest "
                      "unstored reading(s), keeping the newest %d", excess, MAX_PENDING)

    def _flush_pending(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        still = [p for p in pending if not self._complete(p)]
        done = len(pending) - len(still)
        if done:
            log.info("Stored %d reading(s) kept from an earlier cycle", done)
        self._pending = still + self._pending

    def _save_cycle(self, report: CycleReport, memory: Iterable[DiskMemory]) -> None:
        try:
            self.store.save_memory(memory)
            self.store.record_cycle(
                report.outcomes, utc_text(report.started), utc_text(report.finished),
                report.elapsed,
            )
            self.store.prune_checks(self.settings.keep_check_cycles)
        except CorruptDatabase as exc:
            self._recover_corrupt(exc)
        except StoreError as exc:
            log.error("Cannot record the cycle: %s", exc)

    def _log_cycle(self, report: CycleReport, full: bool) -> None:
        for o in report.outcomes:
            if o.result is CheckResult.WOKEN:
                log.warning("%s: deliberately woken: %s", o.device.label, o.reason)
        if full:
            log.info("Cycle done in %.1f s: %s", report.elapsed, report.line())
        elif report.outcomes:
            log.debug("Piggy-back reads: %s", report.line())

    # ------------------------------------------------------------------ helpers

    def _ref(self, path: str) -> DiskRef:
        for dev in self.devices:
            if path in (dev.path, dev.key, dev.label):
                return dev
        return complete(config_mod.parse_devices(path)[0], self.power)

    def _stale_after(self) -> float:
        return self.settings.max_staleness or max(7 * 86400.0, 3 * self.settings.interval)


def _disk_id(record: SmartRecord | None, mem: DiskMemory | None) -> str | None:
    """The disk's identity from this reading, else from what the policy remembers."""
    return (record.disk_id if record else None) or (mem.disk_id if mem else None)


def _with_disk_id(mem: DiskMemory, disk_id: str) -> DiskMemory:
    return replace(mem, disk_id=disk_id)


def _age(seconds: float) -> str:
    delta = timedelta(seconds=int(seconds))
    if delta.days:
        return f"{delta.days} d {delta.seconds // 3600} h"
    return f"{delta.seconds // 3600} h {delta.seconds % 3600 // 60} min"
