"""Alert lifecycle: open, update, escalate, repeat, resolve; one open alert per (disk, rule).

Planning is separate from doing (as sqlite-utils' ``transform_sql``/``transform``):
``plan`` is pure and decides what happens to each alert given this reading's
findings; ``apply`` performs those actions on a store and returns the events to
notify. Alerts are keyed by the disk's identity (``disk_id``), so a disk that comes
back as ``/dev/sdq`` after a reboot keeps its alerts.

Repeats follow smartd's ``-M once|daily|diminishing``: ``diminishing`` waits 1, 2,
4, 8... days between reminders. An acknowledged alert is not repeated, but its
escalation and resolution are still announced.

Only call this for a reading that was judged (state OK): a standby or unreadable
disk has no findings, and treating "no findings" as "all clear" would resolve its
alerts while nobody looked. ``handle_reading`` enforces that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from maid_smart_monitor.model import Alert, Finding, Identity, Severity, SmartRecord
from maid_smart_monitor.risk import Risk
from maid_smart_monitor.storage.base import AlertStore, parse_utc, utc_text

__all__ = ["AlertStore", "REPEAT_POLICIES", "handle_reading", "plan", "apply", "acknowledge"]

RepeatPolicy = Literal["once", "daily", "diminishing"]
REPEAT_POLICIES: tuple[str, ...] = ("once", "daily", "diminishing")
ActionKind = Literal["open", "update", "escalate", "repeat", "resolve"]
EventKind = Literal["open", "escalate", "repeat", "resolve"]

@dataclass(frozen=True)
class AlertAction:
    """One planned change. ``alert`` is the stored alert (None when opening);
    ``finding`` is this reading's finding (None when resolving)."""

    kind: ActionKind
    disk_id: str
    device: str
    rule_id: str
    at: str
    finding: Finding | None = None
    alert: Alert | None = None
    notify: bool = True

    def __post_init__(self) -> None:
        if self.kind == "update":
            object.__setattr__(self, "notify", False)


@dataclass(frozen=True)
class NotifyEvent:
    """What a notification says: one alert opening, worsening, repeating or clearing."""

    event: EventKind
    alert_id: int
    disk_id: str
    device: str
    rule_id: str
    severity: Severity
    message: str
    value: float | None
    at: str
    first_seen: str
    previous_severity: Severity | None = None
    previous_value: float | None = None
    acknowledged: bool = False
    ack_note: str | None = None
    notify_count: int = 1
    model: str | None = None
    serial: str | None = None
    risk: Risk | None = field(default=None, compare=False)


# ---------------------------------------------------------------------------
# Pure planning

# rule id -> (direction, minimum change): +1 = higher is worse, -1 = lower is worse,
# 0 = the value never "worsens" (only severity can). Counters default to (+1, 1): any
# growth of a bad-sector count is news.
WORSENING: dict[str, tuple[int, float]] = {
    "temperature": (1, 5.0),
    "nvme_wear": (1, 5.0),
    "nvme_spare": (-1, 5.0),
    "attr_below_threshold": (-1, 1.0),
    "attr_failed_past": (0, 0.0),
    "smart_failed": (0, 0.0),
    "selftest_errors": (0, 0.0),
}


def worsened(rule_id: str, old: float | None, new: float | None) -> bool:
    """Has the value got materially worse since the alert last stored it?"""
    if old is None or new is None:
        return False
    if rule_id == "nvme_critical_warning":  # a bit mask: worse when a new bit is set
        return bool(int(new) & ~int(old))
    direction, step = WORSENING.get(rule_id, (1, 1.0))
    if direction == 0:
        return False
    return (new - old) * direction >= step


def repeat_due(alert: Alert, now: datetime, policy: RepeatPolicy) -> bool:
    """smartd's -M: ``once`` never repeats, ``daily`` every day, ``diminishing`` after
    1, 2, 4, 8... days. An alert never announced is always due."""
    if alert.notify_count <= 0 or not alert.last_notified:
        return True
    if policy == "once":
        return False
    days = 1 if policy == "daily" else 2 ** (alert.notify_count - 1)
    return now - parse_utc(alert.last_notified) >= timedelta(days=days)


def plan(
    open_alerts: Sequence[Alert],
    findings: Sequence[Finding],
    *,
    disk_id: str,
    device: str,
    now: datetime,
    repeat: RepeatPolicy = "once",
) -> list[AlertAction]:
    """Decide, without side effects, what this reading does to the disk's alerts."""
    if repeat not in REPEAT_POLICIES:
        raise ValueError(f"repeat policy must be one of {', '.join(REPEAT_POLICIES)}: {repeat!r}")
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    at = utc_text(now)
    mine = sorted(
        (a for a in open_alerts if a.disk_id == disk_id and not a.resolved), key=lambda a: a.id
    )
    by_rule: dict[str, Alert] = {}
    actions: list[AlertAction] = []
    for a in mine:
        if a.rule_id in by_rule:  # a duplicate left by an older version: close it quietly
            actions.append(
                AlertAction("resolve", disk_id, device, a.rule_id, at, alert=a, notify=False)
            )
        else:
            by_rule[a.rule_id] = a

    current: dict[str, Finding] = {}
    for f in findings:
        old = current.get(f.rule_id)
        if old is None or f.severity.rank > old.severity.rank:
            current[f.rule_id] = f

    for rule_id, f in current.items():
        a = by_rule.get(rule_id)
        if a is None:
            kind: ActionKind = "open"
        elif f.severity.rank > a.severity.rank or (
            f.severity.rank == a.severity.rank and worsened(rule_id, a.value, f.value)
        ):
            kind = "escalate"
        elif not a.acknowledged and repeat_due(a, now, repeat):
            kind = "repeat"
        else:
            kind = "update"
        actions.append(AlertAction(kind, disk_id, device, rule_id, at, finding=f, alert=a))

    for rule_id, a in by_rule.items():
        if rule_id not in current:
            actions.append(AlertAction("resolve", disk_id, device, rule_id, at, alert=a))
    return actions


# ---------------------------------------------------------------------------
# Doing


def _event(
    kind: EventKind,
    alert_id: int,
    act: AlertAction,
    what: Finding | Alert,
    *,
    first_seen: str,
    notify_count: int,
    identity: Identity | None,
    risk: Risk | None,
    **extra: Any,
) -> NotifyEvent:
    """The event announcing ``act``; ``what`` (this reading's finding, or the stored
    alert when resolving) gives its rule, severity, message and value."""
    return NotifyEvent(
        kind,
        alert_id,
        act.disk_id,
        act.device,
        what.rule_id,
        what.severity,
        what.message,
        what.value,
        act.at,
        first_seen=first_seen,
        notify_count=notify_count,
        model=identity.model if identity else None,
        serial=identity.serial if identity else None,
        risk=risk,
        **extra,
    )


def apply(
    store: AlertStore,
    actions: Sequence[AlertAction],
    *,
    identity: Identity | None = None,
    risk: Risk | None = None,
) -> list[NotifyEvent]:
    """Write the planned actions to the store; return the events to announce.

    ``notify_count``/``last_notified`` are stamped here, when the event is emitted (as
    smartd counts a warning once it has tried to send it); delivery failures are recorded
    per channel by the notifier, not retried across cycles.
    """
    events: list[NotifyEvent] = []
    for act in actions:
        f, a = act.finding, act.alert
        if act.kind == "open":
            assert f is not None
            alert_id = store.insert_alert(act.disk_id, act.device, f, act.at)
            store.update_alert(alert_id, notify_count=1, last_notified=act.at)
            events.append(
                _event("open", alert_id, act, f, first_seen=act.at, notify_count=1,
                       identity=identity, risk=risk)
            )
        elif act.kind in ("update", "escalate", "repeat"):
            assert f is not None and a is not None
            if act.kind == "update":
                store.update_alert(
                    a.id, severity=f.severity, message=f.message, value=f.value, last_seen=act.at
                )
                continue
            count = a.notify_count + 1
            store.update_alert(
                a.id,
                severity=f.severity,
                message=f.message,
                value=f.value,
                last_seen=act.at,
                notify_count=count,
                last_notified=act.at,
            )
            events.append(
                _event(
                    act.kind,
                    a.id,
                    act,
                    f,
                    first_seen=a.first_seen,
                    previous_severity=a.severity,
                    previous_value=a.value,
                    acknowledged=a.acknowledged,
                    ack_note=a.ack_note,
                    notify_count=count,
                    identity=identity,
                    risk=risk,
                )
            )
        elif act.kind == "resolve":
            assert a is not None
            store.resolve_alert(a.id, act.at)
            if act.notify:
                events.append(
                    _event(
                        "resolve",
                        a.id,
                        act,
                        a,
                        first_seen=a.first_seen,
                        acknowledged=a.acknowledged,
                        ack_note=a.ack_note,
                        notify_count=a.notify_count + 1,
                        identity=identity,
                        risk=risk,
                    )
                )
        else:  # pragma: no cover - Literal guards this
            raise ValueError(f"unknown alert action {act.kind!r}")
    return events


def handle_reading(
    store: AlertStore,
    record: SmartRecord,
    findings: Sequence[Finding],
    *,
    device: str,
    now: datetime,
    repeat: RepeatPolicy = "once",
    risk: Risk | None = None,
) -> list[NotifyEvent]:
    """The daemon's one call per disk per cycle: plan and apply, for judged readings only.

    A reading that is not OK (standby, timeout, open failure) or has no identity changes
    nothing: its alerts stay open, neither repeated nor resolved.
    """
    disk_id = record.disk_id
    if not record.ok or disk_id is None:
        return []
    actions = plan(
        store.open_alerts(disk_id),
        findings,
        disk_id=disk_id,
        device=device,
        now=now,
        repeat=repeat,
    )
    return apply(store, actions, identity=record.identity, risk=risk)


def acknowledge(store: AlertStore, alert_id: int, note: str, *, now: datetime) -> bool:
    """Acknowledge an open alert with a note; False if there is no such open alert."""
    note = note.strip()
    if not note:
        raise ValueError("an acknowledgement needs a note (who, and why)")
    return store.acknowledge_alert(alert_id, note, utc_text(now))
