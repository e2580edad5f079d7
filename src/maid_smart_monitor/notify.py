"""Notifications: pure message formatting, and an apprise-backed ``Notifier``.

The formatting functions and the URL builders are pure (no I/O) and tested with
literals. Delivery goes through apprise (the ``[alerts]`` extra), imported only
when a channel is configured, so the core monitor runs without it.

Channels come from the seed's ``[alerts]`` section: ``webhook_url`` /
``MAID_WEBHOOK_URL`` (Slack and Discord webhook URLs are understood natively by
apprise; any other http(s) URL becomes a generic JSON POST, apprise ``json://`` /
``jsons://``, carrying the alert's fields as top-level keys), ``email_alerts`` with
``smtp_server``/``smtp_port`` and credentials, plus any list of apprise URLs.

A failed delivery is retried with exponential back-off (bounded attempts and total
time, injectable sleep and clock), recorded per channel, and never raised: a dead
mail server must not stop monitoring.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlencode, urlsplit

from maid_smart_monitor.alerts import REPEAT_POLICIES, AlertStore, NotifyEvent, RepeatPolicy
from maid_smart_monitor.model import Severity

log = logging.getLogger(__name__)

SmtpSecurity = Literal["starttls", "ssl", "none"]


class NotifyConfigError(ValueError):
    """An alert setting cannot be turned into a working channel (names the setting)."""


class AppriseMissing(RuntimeError):
    """Notifications are configured but apprise is not installed."""


@dataclass(frozen=True)
class AlertSettings:
    """The knobs of the seed's ``[alerts]`` section plus what delivery needs.

    ``config.py`` builds this from defaults, config.ini, ``MAID_*`` variables and flags.
    """

    enable_webhooks: bool = True
    webhook_url: str | None = None
    email_alerts: bool = False
    smtp_server: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_security: SmtpSecurity = "starttls"
    smtp_verify: bool = True  # check the server's certificate (off: self-signed relays)
    email_from: str | None = None
    email_to: tuple[str, ...] = ()
    apprise_urls: tuple[str, ...] = ()
    repeat: RepeatPolicy = "once"
    notify_resolved: bool = True
    max_attempts: int = 4
    backoff_initial: float = 1.0  # seconds before the first retry
    backoff_factor: float = 2.0
    backoff_max_total: float = 30.0  # seconds of waiting per message and channel, at most
    timeout: float = 10.0  # connect/read timeout per attempt
    dead_cooldown: float = 300.0  # a channel that failed all attempts: no back-off for this long
    batch_budget: float = 120.0  # seconds one deliver() call may spend before skipping the rest

    def __post_init__(self) -> None:
        if self.repeat not in REPEAT_POLICIES:
            raise NotifyConfigError(
                f"alerts.repeat must be one of {', '.join(REPEAT_POLICIES)}: {self.repeat!r}"
            )
        if self.smtp_security not in ("starttls", "ssl", "none"):
            raise NotifyConfigError(
                f"alerts.smtp_security must be starttls, ssl or none: {self.smtp_security!r}"
            )
        if self.max_attempts < 1:
            raise NotifyConfigError(f"alerts.max_attempts must be >= 1: {self.max_attempts}")
        if not 1 <= self.smtp_port <= 65535:
            raise NotifyConfigError(f"alerts.smtp_port must be 1-65535: {self.smtp_port}")
        if self.backoff_initial < 0 or self.backoff_factor < 1 or self.backoff_max_total < 0:
            raise NotifyConfigError("alerts back-off settings must be non-negative (factor >= 1)")

    @property
    def enabled(self) -> bool:
        return bool(self.channels())

    def channels(self) -> list[Channel]:
        """The configured delivery channels, each with a secret-free name for the log/db."""
        out: list[Channel] = []
        if self.enable_webhooks and self.webhook_url:
            url, generic = webhook_to_apprise(self.webhook_url)
            out.append(Channel("webhook", url, generic_json=generic))
        if self.email_alerts:
            out.append(Channel("email", email_url(self)))
        for i, url in enumerate(self.apprise_urls, start=1):
            url = url.strip()
            if url:
                if "://" not in url:
                    raise NotifyConfigError(f"alerts.apprise_urls[{i}] is not a URL: {url!r}")
                out.append(Channel(f"apprise-{i}:{urlsplit(url).scheme}", url))
        return out


@dataclass(frozen=True)
class Channel:
    name: str  # what is recorded: never contains credentials
    url: str  # an apprise URL (may contain credentials)
    generic_json: bool = False  # a json(s):// webhook: add the alert's fields to the payload


# ---------------------------------------------------------------------------
# URL builders (pure)

_NATIVE_WEBHOOK_HOSTS = ("hooks.slack.com", "discord.com", "discordapp.com")


def webhook_to_apprise(url: str) -> tuple[str, bool]:
    """The seed's ``webhook_url`` as an apprise URL; True when it is a generic JSON hook.

    Slack and Discord webhook URLs are passed through (apprise parses them natively);
    another http(s) URL becomes ``json://``/``jsons://`` (a JSON POST); any other scheme
    is taken as an apprise URL already.
    """
    url = url.strip()
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise NotifyConfigError(f"alerts.webhook_url is not a URL: {url!r}")
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        host = (parts.hostname or "").lower()
        if any(host == h or host.endswith("." + h) for h in _NATIVE_WEBHOOK_HOSTS):
            return url, False
        return ("jsons" if scheme == "https" else "json") + url[len(parts.scheme) :], True
    return url, scheme in ("json", "jsons")


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def email_url(s: AlertSettings) -> str:
    """apprise ``mailto://`` (plain) or ``mailtos://`` (STARTTLS or SSL) for the SMTP settings."""
    if not s.smtp_server:
        raise NotifyConfigError("alerts.email_alerts is on but alerts.smtp_server is empty")
    to = [t.strip() for t in s.email_to if t.strip()]
    if not to and s.smtp_user and _EMAIL.match(s.smtp_user):
        to = [s.smtp_user]
    if not to:
        raise NotifyConfigError("alerts.email_alerts is on but alerts.email_to is empty")
    sender = s.email_from or (s.smtp_user if s.smtp_user and _EMAIL.match(s.smtp_user) else None)
    if not sender:
        raise NotifyConfigError(
            "alerts.email_alerts is on but alerts.email_from is empty "
            "(and alerts.smtp_user is not an address)"
        )
    for addr in [*to, sender]:
        if not _EMAIL.match(addr):
            raise NotifyConfigError(f"alerts: {addr!r} is not an e-mail address")
    cred = ""
    if s.smtp_user:
        cred = quote(s.smtp_user, safe="")
        if s.smtp_password:
            cred += ":" + quote(s.smtp_password, safe="")
        cred += "@"
    query: dict[str, str] = {"from": sender, "to": ",".join(to), "smtp": s.smtp_server}
    if s.smtp_security == "none":
        scheme = "mailto"
    else:
        scheme = "mailtos"
        query["mode"] = s.smtp_security
        if not s.smtp_verify:
            query["verify"] = "no"
    host = s.smtp_server if ":" not in s.smtp_server else f"[{s.smtp_server}]"
    return f"{scheme}://{cred}{host}:{s.smtp_port}/?{urlencode(query)}"


# ---------------------------------------------------------------------------
# Message formatting (pure)

_EVENT_WORD = {
    "open": "NEW",
    "escalate": "WORSE",
    "repeat": "REMINDER",
    "resolve": "RESOLVED",
}


def _num(v: float | None) -> str:
    if v is None:
        return "-"
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def disk_label(e: NotifyEvent) -> str:
    who = " ".join(p for p in (e.model, f"s/n {e.serial}" if e.serial else None) if p)
    return f"{e.device} ({who})" if who else e.device


def format_subject(e: NotifyEvent) -> str:
    word = _EVENT_WORD.get(e.event, e.event.upper())
    if e.event == "resolve":
        return f"[maid-smart] {word}: {disk_label(e)} {e.rule_id} cleared"
    return f"[maid-smart] {word} {e.severity.value.upper()}: {disk_label(e)} {e.rule_id}"


def format_body(e: NotifyEvent) -> str:
    lines = [
        f"Disk:      {e.model or 'unknown model'}, serial {e.serial or 'unknown'}",
        f"Device:    {e.device} (disk id {e.disk_id})",
        f"Rule:      {e.rule_id}",
    ]
    if e.event == "resolve":
        lines += [
            f"Status:    resolved at {e.at} UTC (open since {e.first_seen} UTC)",
            f"Last seen: {e.severity.value}, value {_num(e.value)}: {e.message}",
        ]
    else:
        sev = e.severity.value
        if e.previous_severity is not None and e.previous_severity is not e.severity:
            sev += f" (was {e.previous_severity.value})"
        val = _num(e.value)
        if e.previous_value is not None and e.previous_value != e.value:
            val += f" (was {_num(e.previous_value)})"
        lines += [
            f"Severity:  {sev}",
            f"Value:     {val}",
            f"Finding:   {e.message}",
            f"Since:     {e.first_seen} UTC; this reading {e.at} UTC",
        ]
    if e.risk is not None:
        lines.append(f"Risk:      {e.risk.afr_percent:g}% annualised failure rate ({e.risk.basis})")
    if e.acknowledged:
        lines.append(f"Acknowledged: {e.ack_note or ''}".rstrip())
    lines.append(f"Alert #{e.alert_id}, {e.event}, notification {e.notify_count}")
    return "\n".join(lines) + "\n"


def event_fields(e: NotifyEvent) -> dict[str, str]:
    """Flat string fields for generic JSON webhooks (apprise payload extras)."""
    fields = {
        "event": e.event,
        "alert_id": str(e.alert_id),
        "disk_id": e.disk_id,
        "device": e.device,
        "model": e.model or "",
        "serial": e.serial or "",
        "rule_id": e.rule_id,
        "severity": e.severity.value,
        "value": _num(e.value) if e.value is not None else "",
        "finding": e.message,
        "at": e.at,
        "first_seen": e.first_seen,
    }
    if e.previous_severity is not None:
        fields["previous_severity"] = e.previous_severity.value
    if e.previous_value is not None:
        fields["previous_value"] = _num(e.previous_value)
    if e.risk is not None:
        fields["afr_percent"] = f"{e.risk.afr_percent:g}"
    return fields


def notify_type(e: NotifyEvent) -> str:
    """apprise's notify type: success for a resolution, else by severity."""
    if e.event == "resolve":
        return "success"
    return "failure" if e.severity is Severity.CRITICAL else "warning"


# ---------------------------------------------------------------------------
# Delivery


@dataclass(frozen=True)
class Delivery:
    """The outcome of one event on one channel."""

    channel: str
    event: str
    alert_id: int | None
    ok: bool
    attempts: int
    error: str | None = None


def backoff_delays(settings: AlertSettings) -> list[float]:
    """Waits before retries 2..max_attempts, cut where the total would exceed the budget."""
    delays: list[float] = []
    total, delay = 0.0, settings.backoff_initial
    for _ in range(settings.max_attempts - 1):
        if total + delay > settings.backoff_max_total:
            break
        delays.append(delay)
        total += delay
        delay *= settings.backoff_factor
    return delays


def _import_apprise() -> Any:
    try:
        import apprise
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise AppriseMissing(
            "alerts are configured but apprise is not installed: "
            "pip install 'maid-smart-monitor[alerts]'"
        ) from e
    return apprise


def _with_fields(url: str, fields: dict[str, str]) -> str:
    """Add ``:key=value`` payload extras to a json(s):// URL (apprise's documented syntax)."""
    extra = urlencode({f":{k}": v for k, v in fields.items()}, quote_via=quote)
    return url + ("&" if "?" in url else "?") + extra


class Notifier:
    """Sends events on every configured channel, with retries, and records each outcome."""

    def __init__(
        self,
        settings: AlertSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now_text: Callable[[], str] | None = None,
    ) -> None:
        self.settings = settings
        self.channels = settings.channels()
        self._sleep = sleep
        self._clock = clock
        self._now_text = now_text or _utc_now_text
        self._apprise = _import_apprise() if self.channels else None
        self._dead_until: dict[str, float] = {}
        self._lock = threading.Lock()
        for ch in self.channels:  # fail at start-up, not at 3 a.m. on the first alert
            if self._plugin(ch, None) is None:
                raise NotifyConfigError(f"{ch.name}: apprise does not understand this URL")

    @property
    def enabled(self) -> bool:
        return bool(self.channels)

    def _plugin(self, ch: Channel, event: NotifyEvent | None) -> Any:
        url = ch.url
        if ch.generic_json and event is not None:
            url = _with_fields(url, event_fields(event))
        obj = self._apprise.Apprise.instantiate(url, suppress_exceptions=True)
        if obj is not None:
            for attr in ("socket_connect_timeout", "socket_read_timeout"):
                if hasattr(obj, attr):
                    setattr(obj, attr, self.settings.timeout)
        return obj

    def _attempt(self, ch: Channel, event: NotifyEvent) -> tuple[bool, str | None]:
        apprise = self._apprise
        try:
            with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as logs:
                obj = self._plugin(ch, event)
                if obj is None:
                    return False, "apprise does not understand this URL"
                ok = obj.notify(
                    body=format_body(event),
                    title=format_subject(event),
                    notify_type=apprise.NotifyType(notify_type(event)),
                    body_format=apprise.NotifyFormat.TEXT,
                )
                text = logs.getvalue().strip()
        except Exception as exc:  # a plugin bug must not stop monitoring
            return False, f"{type(exc).__name__}: {exc}"
        if ok:
            return True, None
        last = text.splitlines()[-1] if text else "delivery failed"
        return False, last[:500]

    def send(self, event: NotifyEvent, *, quick: frozenset[str] = frozenset()) -> list[Delivery]:
        """Deliver one event on every channel; channels in ``quick`` get a single attempt."""
        if self.settings.notify_resolved is False and event.event == "resolve":
            return []
        out: list[Delivery] = []
        delays = backoff_delays(self.settings)
        for ch in self.channels:
            attempts, error, ok = 0, None, False
            waits = [] if ch.name in quick else list(delays)
            started = self._clock()
            while True:
                attempts += 1
                ok, error = self._attempt(ch, event)
                if ok or not waits:
                    break
                wait = waits.pop(0)
                if self._clock() - started + wait > self.settings.backoff_max_total:
                    break
                self._sleep(wait)
            if not ok:
                log.warning(
                    "notification %s for alert %s on %s failed after %d attempt(s): %s",
                    event.event,
                    event.alert_id,
                    ch.name,
                    attempts,
                    error,
                )
            out.append(Delivery(ch.name, event.event, event.alert_id, ok, attempts, error))
        return out

    def send_all(
        self, events: Sequence[NotifyEvent], store: AlertStore | None = None
    ) -> list[Delivery]:
        """Alias of ``deliver`` (the name the monitor calls)."""
        return self.deliver(events, store)

    def deliver(
        self, events: Sequence[NotifyEvent], store: AlertStore | None = None
    ) -> list[Delivery]:
        """Send events and record every outcome; never raises.

        A channel that failed every attempt is "dead" for ``dead_cooldown`` seconds: it
        gets a single attempt per event, without back-off, until one succeeds, so a dead
        server costs one back-off, not one per alert or per disk. Once a call has spent
        ``batch_budget`` seconds, the remaining events are recorded as skipped.
        """
        with self._lock:
            return self._deliver(events, store)

    def _deliver(self, events: Sequence[NotifyEvent], store: AlertStore | None) -> list[Delivery]:
        results: list[Delivery] = []
        started = self._clock()
        for event in events:
            if self._clock() - started > self.settings.batch_budget:
                got = [
                    Delivery(
                        ch.name,
                        event.event,
                        event.alert_id,
                        False,
                        0,
                        "skipped: notification time budget of this batch spent",
                    )
                    for ch in self.channels
                ]
            else:
                now = self._clock()
                dead = frozenset(c for c, until in self._dead_until.items() if now < until)
                try:
                    got = self.send(event, quick=dead)
                except Exception as exc:  # defensive: send() already catches plugin errors
                    log.exception("notification for alert %s crashed", event.alert_id)
                    got = [Delivery("notifier", event.event, event.alert_id, False, 0, str(exc))]
                for d in got:
                    if d.ok:
                        self._dead_until.pop(d.channel, None)
                    elif d.channel not in dead:
                        self._dead_until[d.channel] = self._clock() + self.settings.dead_cooldown
            for d in got:
                self._record(store, d)
            results.extend(got)
        return results

    def _record(self, store: AlertStore | None, d: Delivery) -> None:
        if store is None:
            return
        try:
            store.record_notification(
                d.alert_id, d.event, d.channel, d.ok, d.error, d.attempts, self._now_text()
            )
        except Exception:
            log.exception("could not record notification for alert %s", d.alert_id)


def settings_from_config(settings: Any) -> AlertSettings:
    """``AlertSettings`` from ``config.Settings`` (attribute names as in the settings table).

    ``smtp_starttls = no`` means a plain connection, except on port 465 (SMTPS), which is
    TLS from the first byte.
    """
    port = int(getattr(settings, "smtp_port", 587) or 587)
    if port == 465:
        security: SmtpSecurity = "ssl"
    else:
        security = "starttls" if getattr(settings, "smtp_starttls", True) else "none"
    return AlertSettings(
        enable_webhooks=bool(getattr(settings, "enable_webhooks", True)),
        webhook_url=getattr(settings, "webhook_url", None),
        email_alerts=bool(getattr(settings, "email_alerts", False)),
        smtp_server=getattr(settings, "smtp_server", None),
        smtp_port=port,
        smtp_user=getattr(settings, "smtp_user", None),
        smtp_password=getattr(settings, "smtp_password", None),
        smtp_security=security,
        smtp_verify=bool(getattr(settings, "smtp_verify", True)),
        email_from=getattr(settings, "email_from", None),
        email_to=tuple(getattr(settings, "email_to", ()) or ()),
        apprise_urls=tuple(getattr(settings, "apprise_urls", ()) or ()),
        repeat=getattr(settings, "repeat", "once"),
    )


def notifier_from_settings(settings: Any, **kwargs: Any) -> Notifier:
    """A ``Notifier`` for ``config.Settings``; raises NotifyConfigError / AppriseMissing."""
    return Notifier(settings_from_config(settings), **kwargs)


def _utc_now_text() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
