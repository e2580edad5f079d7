"""Alert lifecycle: pure planning on literals, then a disk's history on a real SQLite file."""

from __future__ import annotations

import inspect
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from conftest import record_from
from maid_smart_monitor import alerts
from maid_smart_monitor.alerts import AlertStore, handle_reading, plan, repeat_due, worsened
from maid_smart_monitor.health import evaluate
from maid_smart_monitor.model import Alert, Attribute, Finding, ReadState, Severity, SmartRecord
from maid_smart_monitor.risk import estimate
from maid_smart_monitor.storage.sqlite import SQLiteStore

W, C = Severity.WARNING, Severity.CRITICAL
T0 = datetime(2025, 3, 1, 0, 0, tzinfo=timezone.utc)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def text(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S")


def stored(
    rule_id: str, severity: Severity = W, value: float | None = 1.0, *, id: int = 1,
    notify_count: int = 1, last_notified: datetime | None = T0, acknowledged: bool = False,
    disk_id: str = "wwn-0x1",
) -> Alert:
    return Alert(
        id=id, disk_id=disk_id, device="/dev/sdb", rule_id=rule_id, severity=severity,
        message="m", value=value, first_seen=text(T0), last_seen=text(T0),
        acknowledged=acknowledged, notify_count=notify_count,
        last_notified=text(last_notified) if last_notified else None,
    )


def kinds(actions) -> list[tuple[str, str]]:
    return sorted((a.kind, a.rule_id) for a in actions)


# ---------------------------------------------------------------------------
# Pure planning


def test_open_update_resolve():
    f = Finding("pending", W, "3 pending", 3.0)
    got = plan([], [f], disk_id="wwn-0x1", device="/dev/sdb", now=T0)
    assert kinds(got) == [("open", "pending")]
    assert got[0].notify and got[0].at == "2025-03-01 00:00:00"

    same = plan([stored("pending", W, 3.0)], [f], disk_id="wwn-0x1", device="/dev/sdb", now=at(1))
    assert kinds(same) == [("update", "pending")] and not same[0].notify

    gone = plan([stored("pending", W, 3.0)], [], disk_id="wwn-0x1", device="/dev/sdb", now=at(2))
    assert kinds(gone) == [("resolve", "pending")] and gone[0].notify


@pytest.mark.parametrize(
    ("rule_id", "old_sev", "old", "new_sev", "new", "expected"),
    [
        ("pending", W, 3, C, 5, "escalate"),  # severity rose
        ("pending", C, 3, C, 5, "escalate"),  # still growing
        ("pending", C, 5, W, 5, "update"),  # stopped growing: severity drops quietly
        ("temperature", W, 52, W, 54, "update"),  # 2 °C is not material
        ("temperature", W, 52, W, 57, "escalate"),  # 5 °C is
        ("temperature", W, 57, W, 52, "update"),  # cooler is better
        ("nvme_spare", C, 9, C, 3, "escalate"),  # spare: lower is worse
        ("nvme_critical_warning", C, 16, C, 16, "update"),
        ("nvme_critical_warning", C, 16, C, 20, "escalate"),  # a new bit
        ("smart_failed", C, 1, C, 1, "update"),
    ],
)
def test_escalation(rule_id, old_sev, old, new_sev, new, expected):
    a = stored(rule_id, old_sev, float(old))
    f = Finding(rule_id, new_sev, "now", float(new))
    [act] = plan([a], [f], disk_id="wwn-0x1", device="/dev/sdb", now=at(1))
    assert act.kind == expected


@pytest.mark.parametrize(
    ("policy", "count", "since_h", "due"),
    [
        ("once", 1, 24 * 30, False),
        ("daily", 1, 23.9, False),
        ("daily", 1, 24, True),
        ("daily", 5, 24, True),
        ("diminishing", 1, 24, True),  # 1 day after the first message
        ("diminishing", 2, 47, False),
        ("diminishing", 2, 48, True),  # then 2 days
        ("diminishing", 3, 95, False),
        ("diminishing", 3, 96, True),  # then 4
        ("diminishing", 4, 192, True),  # then 8
        ("once", 0, 0, True),  # never announced: due whatever the policy
    ],
)
def test_repeat_policy(policy, count, since_h, due):
    a = stored("pending", notify_count=count, last_notified=T0)
    assert repeat_due(a, at(since_h), policy) is due


def test_acknowledged_alerts_do_not_repeat_but_still_escalate_and_resolve():
    a = stored("pending", W, 3.0, acknowledged=True, last_notified=T0)
    f = Finding("pending", W, "3 pending", 3.0)
    [act] = plan([a], [f], disk_id="wwn-0x1", device="/dev/sdb", now=at(24 * 9),
                 repeat="daily")
    assert act.kind == "update"
    worse = Finding("pending", C, "grew", 6.0)
    [act] = plan([a], [worse], disk_id="wwn-0x1", device="/dev/sdb", now=at(1))
    assert act.kind == "escalate" and act.notify
    [act] = plan([a], [], disk_id="wwn-0x1", device="/dev/sdb", now=at(1))
    assert act.kind == "resolve" and act.notify


def test_plan_keys_by_disk_identity_not_device():
    mine = stored("pending", value=3.0, disk_id="wwn-0x1")
    other = stored("pending", id=2, disk_id="wwn-0x2")
    acts = plan([mine, other], [Finding("pending", W, "3", 3.0)], disk_id="wwn-0x1",
                device="/dev/sdq", now=at(1))
    assert [(a.kind, a.alert.id if a.alert else None) for a in acts] == [("update", 1)]


def test_duplicate_open_alerts_are_closed_quietly():
    a, b = stored("pending", id=1), stored("pending", id=2)
    acts = plan([b, a], [Finding("pending", W, "3", 1.0)], disk_id="wwn-0x1",
                device="/dev/sdb", now=at(1))
    assert [(x.kind, x.alert.id, x.notify) for x in acts] == [
        ("resolve", 2, False), ("update", 1, False)
    ]


def test_bad_policy_is_refused():
    with pytest.raises(ValueError, match="diminishing"):
        plan([], [], disk_id="d", device="/dev/sda", now=T0, repeat="weekly")  # type: ignore


def test_worsened_without_values():
    assert not worsened("pending", None, 3.0)
    assert not worsened("pending", 3.0, None)


# ---------------------------------------------------------------------------
# A disk's history on a real SQLite file

BASE = "ata/smartctl_exporter__WDC_WD20EFRX-68EUZN0_17.json"  # a healthy real WD Red


def reading(base: SmartRecord, *, realloc: int, pending: int, temp: int,
            device: str = "/dev/sdb") -> SmartRecord:
    """The real recording with attributes 5, 197 and 194 set as the history needs."""
    def setv(a: Attribute) -> Attribute:
        if a.id == 5:
            return replace(a, raw_value=realloc, raw_packed=realloc, raw_string=str(realloc))
        if a.id == 197:
            return replace(a, raw_value=pending, raw_packed=pending, raw_string=str(pending))
        if a.id == 194:
            return replace(a, raw_value=temp, raw_packed=temp, raw_string=f"{temp} (Min/Max 20/70)")
        return a

    return replace(base, attributes=tuple(setv(a) for a in base.attributes), temperature=temp,
                   device=replace(base.device, path=device))


@pytest.fixture
def store(db_path):
    s = SQLiteStore(db_path)
    yield s
    s.close()


def test_sqlite_store_matches_the_alert_store_protocol(store):
    """The lifecycle codes against AlertStore; the real store must keep the same signatures."""
    names = [n for n in vars(AlertStore) if not n.startswith("_") and callable(
        getattr(AlertStore, n))]
    assert sorted(names) == ["acknowledge_alert", "insert_alert", "open_alerts",
                             "record_notification", "resolve_alert", "update_alert"]
    for name in names:
        want = inspect.signature(getattr(AlertStore, name))
        got = inspect.signature(getattr(SQLiteStore, name))
        assert [(p.name, p.kind, p.default) for p in got.parameters.values()] == [
            (p.name, p.kind, p.default) for p in want.parameters.values()], name
    assert store.open_alerts() == []


def test_history_walk(store, db_path):
    """Pending sectors appear, grow and get remapped (reallocation starts, grows, stops);
    the temperature spikes and recovers; the disk naps, is renamed, is acknowledged."""
    base = record_from(BASE, "/dev/sdb", "sat")
    assert base.state is ReadState.OK and evaluate(base) == []
    disk_id = base.disk_id
    assert disk_id

    steps = [
        # hours, realloc, pending, temp, device, expected events (event, rule, severity)
        (0, 0, 0, 34, "/dev/sdb", []),
        (1, 0, 2, 35, "/dev/sdb", [("open", "pending", C)]),  # pending sectors appear
        (2, 0, 6, 35, "/dev/sdb", [("escalate", "pending", C)]),  # and grow
        (3, 0, 6, 36, "/dev/sdb", []),  # stop growing: warning, quietly
        (4, 4, 2, 36, "/dev/sdb", [("open", "reallocated", C)]),  # remapping starts
        (5, 6, 0, 36, "/dev/sdb", [("resolve", "pending", W), ("escalate", "reallocated", C)]),
        (6, 6, 0, 36, "/dev/sdb", []),  # reallocation stopped: warning, no message
        (7, 6, 0, 55, "/dev/sdb", [("open", "temperature", W)]),  # fan died
        (8, 6, 0, 57, "/dev/sdb", []),  # +2 °C: not material
        (9, 6, 0, 63, "/dev/sdb", [("escalate", "temperature", C)]),
        (10, 6, 0, 40, "/dev/sdb", [("resolve", "temperature", C)]),  # fan replaced
        # reallocated was announced twice (open, escalate at 5 h): the next reminder
        # comes 2 days later, the one after that 4 days later (diminishing).
        (29, 6, 0, 34, "/dev/sdb", []),
        # After a reboot the disk is /dev/sdq: same identity, same alerts.
        (52, 6, 0, 34, "/dev/sdq", []),
        (53, 6, 0, 34, "/dev/sdq", [("repeat", "reallocated", W)]),
        (148, 6, 0, 34, "/dev/sdq", []),
        (149, 6, 0, 34, "/dev/sdq", [("repeat", "reallocated", W)]),
    ]
    alert_ids: dict[str, int] = {}
    previous: SmartRecord | None = None
    for hours, realloc, pending, temp, dev, expected in steps:
        rec = reading(base, realloc=realloc, pending=pending, temp=temp, device=dev)
        findings = evaluate(rec, previous)
        events = handle_reading(store, rec, findings, device=dev, now=at(hours),
                                repeat="diminishing", risk=estimate(rec))
        got = [(e.event, e.rule_id, e.severity) for e in events]
        assert sorted(got) == sorted(expected), f"at {hours} h"
        for e in events:
            assert e.disk_id == disk_id and e.device == dev
            assert e.model == "WDC WD20EFRX-68EUZN0" and e.serial == rec.identity.serial
            assert e.at == text(at(hours))
            if e.event == "open":
                alert_ids[e.rule_id] = e.alert_id
            else:
                assert e.alert_id == alert_ids[e.rule_id]
        # one open alert per (disk, rule), always
        open_rules = [a.rule_id for a in store.open_alerts(disk_id)]
        assert len(open_rules) == len(set(open_rules))
        previous = rec

    # A spun-down disk is not judged: its alert neither repeats nor resolves.
    nap = SmartRecord(base.device, ReadState.STANDBY, power_mode="STANDBY")
    assert handle_reading(store, nap, evaluate(nap, previous), device="/dev/sdq",
                          now=at(24 * 30), repeat="daily") == []
    [realloc_alert] = store.open_alerts(disk_id)
    assert (realloc_alert.rule_id, realloc_alert.severity, realloc_alert.value) == (
        "reallocated", W, 6.0)
    assert realloc_alert.notify_count == 4  # open, escalate, two reminders
    assert realloc_alert.last_notified == text(at(149))
    assert realloc_alert.last_seen == text(at(149))

    # Acknowledged: reminders stop; growth is still announced.
    assert alerts.acknowledge(store, realloc_alert.id, "RMA opened", now=at(150))
    rec = reading(base, realloc=6, pending=0, temp=34, device="/dev/sdq")
    assert handle_reading(store, rec, evaluate(rec, previous), device="/dev/sdq",
                          now=at(24 * 40), repeat="daily") == []
    worse = reading(base, realloc=9, pending=0, temp=34, device="/dev/sdq")
    [e] = handle_reading(store, worse, evaluate(worse, rec), device="/dev/sdq",
                         now=at(24 * 41), repeat="daily")
    assert (e.event, e.severity, e.value, e.previous_value) == ("escalate", C, 9.0, 6.0)
    assert e.acknowledged and e.ack_note == "RMA opened"

    # The database keeps the whole story, in the seed's columns.
    db = sqlite3.connect(db_path)  # read the seed's table as its users' scripts do
    rows = db.execute(
        "SELECT device, alert_type, severity, resolved, resolved_at FROM health_alerts"
        " ORDER BY id"
    ).fetchall()
    assert rows == [
        ("/dev/sdb", "pending", "warning", 1, text(at(5))),
        ("/dev/sdb", "reallocated", "critical", 0, None),
        ("/dev/sdb", "temperature", "critical", 1, text(at(10))),
    ]
    assert db.execute(
        "SELECT device, COUNT(*) FROM health_alerts WHERE resolved = 0 GROUP BY device"
    ).fetchall() == [("/dev/sdb", 1)]
    db.close()


def test_temperature_hovering_at_the_limit_opens_once_and_resolves_once(store):
    base = record_from(BASE, "/dev/sdb", "sat")
    events = []
    previous = None
    for hour, temp in enumerate([45, 50, 49, 50, 49, 49, 50, 48, 49, 47, 51]):
        rec = reading(base, realloc=0, pending=0, temp=temp)
        active = {a.rule_id for a in store.open_alerts(rec.disk_id)}
        findings = evaluate(rec, previous, active=active)
        events += [(hour, e.event) for e in handle_reading(
            store, rec, findings, device="/dev/sdb", now=at(hour))]
        previous = rec
    # opens at 50, holds through 49 and 50, resolves at 48; 49 alone does not reopen
    assert events == [(1, "open"), (7, "resolve"), (10, "open")]


def test_acknowledge_needs_a_note_and_an_open_alert(store):
    with pytest.raises(ValueError, match="note"):
        alerts.acknowledge(store, 1, "  ", now=T0)
    assert alerts.acknowledge(store, 12345, "who?", now=T0) is False


def test_reading_without_identity_changes_nothing(store):
    base = record_from(BASE, "/dev/sdb", "sat")
    anon = replace(reading(base, realloc=0, pending=5, temp=30), identity=None)
    assert handle_reading(store, anon, evaluate(anon), device="/dev/sdb", now=T0) == []
    assert store.open_alerts() == []
