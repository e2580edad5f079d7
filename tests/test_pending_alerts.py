"""A reading that could not be stored (locked database) keeps its findings: the alert it
should raise is raised when the database is back, not lost."""

from __future__ import annotations

import json
from collections.abc import Sequence

from conftest import FIXTURES, locked_by_another_process
from maid_smart_monitor import config
from maid_smart_monitor.model import DiskRef
from maid_smart_monitor.monitor import MAIDSmartMonitor
from maid_smart_monitor.power import PowerReader
from maid_smart_monitor.smartctl.runner import DEFAULT_TIMEOUT, RunResult

REC = "ata/smartctl_exporter__WDC_WD20EFRX-68EUZN0_17.json"


class RecordedDisk:
    """A Runner answering with a real recording whose 197 (pending) raw value we set."""

    def __init__(self) -> None:
        self.doc = json.loads((FIXTURES / REC).read_text())
        self.pending = 0

    def run(self, argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> RunResult:
        for row in self.doc["ata_smart_attributes"]["table"]:
            if row["id"] == 197:
                row["raw"] = {"value": self.pending, "string": str(self.pending)}
        return RunResult(tuple(argv), 0, json.dumps(self.doc), "", 0.01)


class Events:
    def __init__(self) -> None:
        self.sent: list = []

    def send_all(self, events, store=None):
        self.sent.extend(events)
        return []


def test_alert_of_a_reading_kept_through_a_lock_is_raised_later(tmp_path):
    db = str(tmp_path / "maid.db")
    (tmp_path / "proc").mkdir()
    (tmp_path / "sys").mkdir()
    settings = config.load(environ={}).replace(
        db_path=db, devices=(DiskRef("/dev/sdq", "sat"),), mounted_only=False,
        piggyback=False, interval=1.0, busy_timeout=0.2)
    disk, events = RecordedDisk(), Events()
    t = [1_800_000_000.0]
    m = MAIDSmartMonitor(settings=settings, runner=disk,
                         power_reader=PowerReader(str(tmp_path / "proc"),
                                                  str(tmp_path / "sys")),
                         clock=lambda: t[0], notifier=events)
    assert m.run_monitoring_cycle().read == 1  # pending 0: healthy
    assert not events.sent
    disk.pending = 8
    t[0] += 600
    with locked_by_another_process(db):
        m.run_monitoring_cycle()  # 0 -> 8 pending sectors seen, but nothing can be written
    assert not events.sent and len(m._pending) == 1
    t[0] += 600
    m.run_monitoring_cycle()
    opened = [(e.event, e.rule_id, e.severity.value) for e in events.sent]
    assert ("open", "pending", "critical") in opened  # the growth, judged when it happened
    assert m._pending == []
    m.close()
