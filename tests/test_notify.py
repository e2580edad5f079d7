"""Notifications: pure formatting and URLs, then delivery to real servers on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import threading
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import record_from
from maid_smart_monitor import config as config_mod
from maid_smart_monitor.alerts import NotifyEvent, handle_reading
from maid_smart_monitor.health import evaluate
from maid_smart_monitor.model import Severity
from maid_smart_monitor.notify import (
    AlertSettings,
    AppriseMissing,
    Notifier,
    NotifyConfigError,
    backoff_delays,
    email_url,
    event_fields,
    format_body,
    format_subject,
    notifier_from_settings,
    webhook_to_apprise,
)
from maid_smart_monitor.risk import Risk, estimate
from maid_smart_monitor.storage.sqlite import SQLiteStore

W, C = Severity.WARNING, Severity.CRITICAL
FAILING = "ata/plasma-disks__failing-sectors-passing-status.json"  # 1,640 pending, PASSED


def event(kind: str = "open", **kw) -> NotifyEvent:
    base = dict(
        event=kind, alert_id=7, disk_id="wwn-0x5000c500a1b2c3d4", device="/dev/sdc",
        rule_id="pending", severity=C, message="pending (unstable) sectors increased from 8 "
        "to 1640 (attribute 197)", value=1640.0, at="2025-03-02 10:00:00",
        first_seen="2025-03-01 09:00:00", model="ST3000DM001-1ER166", serial="Z5009XYZ",
        risk=Risk(251.0, "Current_Pending_Sector (197) raw 1640 -> 251% AFR", 197, 1640),
    )
    base.update(kw)
    return NotifyEvent(**base)


# ---------------------------------------------------------------------------
# Pure: messages


def test_subject_and_body_carry_disk_rule_values_and_risk():
    e = event("escalate", previous_severity=W, previous_value=8.0)
    subject, body = format_subject(e), format_body(e)
    assert subject == ("[maid-smart] WORSE CRITICAL: /dev/sdc (ST3000DM001-1ER166 s/n Z5009XYZ)"
                       " pending")
    for needle in ("ST3000DM001-1ER166", "Z5009XYZ", "/dev/sdc", "wwn-0x5000c500a1b2c3d4",
                   "Rule:      pending", "critical (was warning)", "1640 (was 8)",
                   "251% annualised failure rate", "Alert #7, escalate"):
        assert needle in body, needle


def test_resolution_message():
    e = event("resolve", severity=W, value=6.0, message="6 pending", acknowledged=True,
              ack_note="replaced cable")
    assert format_subject(e) == (
        "[maid-smart] RESOLVED: /dev/sdc (ST3000DM001-1ER166 s/n Z5009XYZ) pending cleared")
    body = format_body(e)
    assert "resolved at 2025-03-02 10:00:00 UTC (open since 2025-03-01 09:00:00 UTC)" in body
    assert "Acknowledged: replaced cable" in body


def test_event_fields_are_flat_strings():
    f = event_fields(event(risk=None, model=None))
    assert f["rule_id"] == "pending" and f["value"] == "1640" and f["model"] == ""
    assert all(isinstance(v, str) for v in f.values())


# ---------------------------------------------------------------------------
# Pure: URLs and settings


@pytest.mark.parametrize(
    ("url", "expected", "generic"),
    [
        ("https://hooks.slack.com/services/T/B/X", "https://hooks.slack.com/services/T/B/X", False),
        ("https://discord.com/api/webhooks/1/abc", "https://discord.com/api/webhooks/1/abc", False),
        ("https://alerts.example.com/hook?x=1", "jsons://alerts.example.com/hook?x=1", True),
        ("http://127.0.0.1:8080/hook", "json://127.0.0.1:8080/hook", True),
        ("json://10.0.0.1/x", "json://10.0.0.1/x", True),
        ("tgram://bottoken/chat", "tgram://bottoken/chat", False),
    ],
)
def test_webhook_urls(url, expected, generic):
    assert webhook_to_apprise(url) == (expected, generic)


def test_webhook_url_must_be_a_url():
    with pytest.raises(NotifyConfigError, match="webhook_url"):
        webhook_to_apprise("hooks.slack.com/services/x")


def test_email_urls():
    s = AlertSettings(email_alerts=True, smtp_server="smtp.example.com", smtp_port=587,
                      smtp_user="maid@example.com", smtp_password="p@ss:w/rd",
                      email_to=("ops@example.com", "oncall@example.com"))
    url = email_url(s)
    parts = urlsplit(url)
    assert parts.scheme == "mailtos" and parts.hostname == "smtp.example.com"
    assert parts.port == 587 and parts.password == "p%40ss%3Aw%2Frd"
    q = parse_qs(parts.query)
    assert q == {"from": ["maid@example.com"], "to": ["ops@example.com,oncall@example.com"],
                 "smtp": ["smtp.example.com"], "mode": ["starttls"]}
    plain = email_url(AlertSettings(email_alerts=True, smtp_server="127.0.0.1", smtp_port=25,
                                    smtp_security="none", email_from="maid@example.com",
                                    email_to=("ops@example.com",)))
    assert plain.startswith("mailto://127.0.0.1:25/?")


@pytest.mark.parametrize(
    ("kw", "setting"),
    [
        ({"smtp_server": None}, "smtp_server"),
        ({"email_to": ()}, "email_to"),
        ({"email_from": None}, "email_from"),
        ({"email_to": ("not-an-address",)}, "not-an-address"),
    ],
)
def test_email_settings_errors_name_the_setting(kw, setting):
    base = dict(email_alerts=True, smtp_server="mail.example.com", email_from="m@example.com",
                email_to=("ops@example.com",))
    base.update(kw)
    with pytest.raises(NotifyConfigError, match=setting):
        AlertSettings(**base).channels()


def test_settings_validation():
    with pytest.raises(NotifyConfigError, match="repeat"):
        AlertSettings(repeat="hourly")  # type: ignore[arg-type]
    with pytest.raises(NotifyConfigError, match="max_attempts"):
        AlertSettings(max_attempts=0)
    assert not AlertSettings().enabled
    assert not AlertSettings(enable_webhooks=False, webhook_url="https://x.example.com").enabled


def test_backoff_is_exponential_and_bounded():
    s = AlertSettings(max_attempts=6, backoff_initial=1, backoff_factor=2, backoff_max_total=10)
    assert backoff_delays(s) == [1, 2, 4]  # +8 would wait 15 s in total
    assert backoff_delays(AlertSettings(max_attempts=1)) == []


def test_settings_from_the_seed_config_file(tmp_path):
    ini = tmp_path / "config.ini"
    ini.write_text(
        "[alerts]\nenable_webhooks = true\n"
        "webhook_url = https://hooks.slack.com/services/T1/B1/S1\n"
        "email_alerts = true\nsmtp_server = smtp.example.com\nsmtp_port = 465\n"
        "smtp_user = maid@example.com\nsmtp_password = secret\n"
        "email_to = ops@example.com\nrepeat = diminishing\n"
    )
    settings = config_mod.load({}, environ={}, config_file=str(ini))
    n = notifier_from_settings(settings)
    assert [c.name for c in n.channels] == ["webhook", "email"]
    assert n.settings.repeat == "diminishing" and n.settings.smtp_security == "ssl"
    assert "mode=ssl" in n.channels[1].url and "secret" not in n.channels[1].name
    env = config_mod.load({}, environ={"MAID_WEBHOOK_URL": "http://127.0.0.1:9/h"},
                          config_file=str(ini))
    assert notifier_from_settings(env).channels[0].url == "json://127.0.0.1:9/h"


def test_missing_apprise_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "apprise", None)
    with pytest.raises(AppriseMissing, match=r"maid-smart-monitor\[alerts\]"):
        Notifier(AlertSettings(webhook_url="http://127.0.0.1:9/h"))
    Notifier(AlertSettings())  # nothing configured: apprise is not needed


# ---------------------------------------------------------------------------
# Real servers


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        srv = self.server
        with srv.lock:
            srv.received.append((self.path, self.headers.get("Content-Type"), body))
            status = srv.statuses.pop(0) if srv.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hook():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    srv.received, srv.statuses, srv.lock = [], [], threading.Lock()
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def store(db_path):
    s = SQLiteStore(db_path)
    yield s
    s.close()


def free_port() -> int:
    """A port with nothing listening on it (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def failing_disk_events(store) -> list[NotifyEvent]:
    rec = record_from(FAILING, "/dev/sdc", "sat")
    from datetime import datetime, timezone

    return handle_reading(store, rec, evaluate(rec), device="/dev/sdc",
                          now=datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc),
                          risk=estimate(rec))


def notifications(db_path) -> list[tuple]:
    with sqlite3.connect(db_path) as db:
        return db.execute(
            "SELECT alert_id, event, channel, ok, attempts, error FROM notifications ORDER BY id"
        ).fetchall()


def test_webhook_receives_json(hook, store, db_path):
    events = failing_disk_events(store)
    assert sorted(e.rule_id for e in events) == [
        "offline_uncorrectable", "pending", "reallocated", "reported_uncorrectable",
        "selftest_errors"]
    url = f"http://127.0.0.1:{hook.server_address[1]}/hooks/maid"
    n = Notifier(AlertSettings(webhook_url=url, timeout=5))
    results = n.deliver(events, store)
    assert [r.ok for r in results] == [True] * len(events)
    assert len(hook.received) == len(events)
    docs = {}
    for path, ctype, body in hook.received:
        assert path == "/hooks/maid" and ctype.startswith("application/json")
        doc = json.loads(body)
        docs[doc["rule_id"]] = doc
    pending = docs["pending"]
    assert pending["event"] == "open" and pending["severity"] == "warning"
    assert pending["value"] == "1640" and pending["device"] == "/dev/sdc"
    assert pending["model"] == "ST3000DM001-1ER166" and pending["serial"]
    assert pending["disk_id"] == events[0].disk_id
    assert pending["afr_percent"] == "251"
    assert "1640" in pending["message"] and "pending" in pending["title"]
    assert pending["type"] == "warning"
    rows = notifications(db_path)
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [("open", "webhook", 1, 1)] * len(events)


def test_webhook_500_is_retried_with_backoff_then_succeeds(hook, store, db_path):
    hook.statuses[:] = [500, 500]
    waits: list[float] = []
    n = Notifier(
        AlertSettings(webhook_url=f"http://127.0.0.1:{hook.server_address[1]}/h",
                      max_attempts=4, backoff_initial=0.25, backoff_factor=2),
        sleep=waits.append,
    )
    [e] = [e for e in failing_disk_events(store) if e.rule_id == "pending"]
    [d] = n.deliver([e], store)
    assert (d.ok, d.attempts) == (True, 3)
    assert waits == [0.25, 0.5]
    assert len(hook.received) == 3
    assert notifications(db_path) == [(e.alert_id, "open", "webhook", 1, 3, None)]


def test_webhook_500_exhausts_retries_and_is_recorded(hook, store, db_path):
    hook.statuses[:] = [500] * 20
    waits: list[float] = []
    n = Notifier(
        AlertSettings(webhook_url=f"http://127.0.0.1:{hook.server_address[1]}/h",
                      max_attempts=3, backoff_initial=0.1),
        sleep=waits.append,
    )
    events = failing_disk_events(store)
    results = n.deliver(events, store)  # must not raise
    assert [r.ok for r in results] == [False] * len(events)
    # the first event gets the full back-off; the channel is then known dead for this batch
    assert [r.attempts for r in results] == [3] + [1] * (len(events) - 1)
    assert waits == [0.1, 0.2]
    assert len(hook.received) == 3 + len(events) - 1
    rows = notifications(db_path)
    assert len(rows) == len(events)
    assert all(r[3] == 0 and "500" in r[5] for r in rows), rows


def test_server_down_is_a_recorded_failure_not_a_crash(store, db_path):
    waits: list[float] = []
    n = Notifier(AlertSettings(webhook_url=f"http://127.0.0.1:{free_port()}/h",
                               max_attempts=3, backoff_initial=0.01, timeout=2),
                 sleep=waits.append)
    events = failing_disk_events(store)[:2]
    results = n.deliver(events, store)
    assert [(r.ok, r.attempts) for r in results] == [(False, 3), (False, 1)]
    assert waits == [0.01, 0.02]
    assert [(r[3], r[4]) for r in notifications(db_path)] == [(0, 3), (0, 1)]
    assert all(r[5] for r in notifications(db_path))


def test_total_backoff_time_is_bounded(store):
    """A slow failure counts against the budget: no retry once it would be exceeded."""
    now = [0.0]

    def clock() -> float:
        now[0] += 20.0  # every attempt "takes" 20 s
        return now[0]

    n = Notifier(AlertSettings(webhook_url=f"http://127.0.0.1:{free_port()}/h",
                               max_attempts=5, backoff_initial=1, backoff_max_total=30),
                 sleep=lambda s: None, clock=clock)
    [d] = n.send(event())
    assert not d.ok and d.attempts == 2


# ---------------------------------------------------------------------------
# SMTP


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    class Inbox:
        def __init__(self) -> None:
            self.messages: list[tuple[str, list[str], bytes]] = []
            self.logins: list[tuple[str, str]] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                  envelope.original_content or envelope.content))
            return "250 OK"

    inbox = Inbox()

    def authenticator(server, session, envelope, mechanism, auth_data):
        login = (auth_data.login.decode(), auth_data.password.decode())
        inbox.logins.append(login)
        return AuthResult(success=login == ("maid", "s3cret"))

    port = free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticator,
                     auth_require_tls=False)
    ctl.start()
    inbox.port = port
    yield inbox
    ctl.stop()


def test_email_is_delivered_with_disk_rule_and_values(smtp, store, db_path):
    settings = AlertSettings(
        email_alerts=True, smtp_server="127.0.0.1", smtp_port=smtp.port, smtp_security="none",
        smtp_user="maid", smtp_password="s3cret", email_from="maid@example.com",
        email_to=("ops@example.com",), timeout=5,
    )
    [e] = [e for e in failing_disk_events(store) if e.rule_id == "pending"]
    [d] = Notifier(settings).deliver([e], store)
    assert d.ok and d.channel == "email"
    assert smtp.logins == [("maid", "s3cret")]
    [(mail_from, rcpt, raw)] = smtp.messages
    assert mail_from == "maid@example.com" and rcpt == ["ops@example.com"]
    msg = message_from_bytes(raw)
    subject = str(make_header(decode_header(msg["Subject"])))
    assert subject == format_subject(e)
    assert "/dev/sdc" in subject and "pending" in subject
    payload = msg.get_payload(decode=True) if not msg.is_multipart() else \
        msg.get_payload(0).get_payload(decode=True)
    body = payload.decode()
    for needle in ("ST3000DM001-1ER166", e.serial, "/dev/sdc", "Rule:      pending",
                   "Value:     1640", "251% annualised failure rate"):
        assert needle in body, needle
    assert notifications(db_path) == [(e.alert_id, "open", "email", 1, 1, None)]


def test_email_wrong_password_is_a_recorded_failure(smtp, store, db_path):
    settings = AlertSettings(
        email_alerts=True, smtp_server="127.0.0.1", smtp_port=smtp.port, smtp_security="none",
        smtp_user="maid", smtp_password="wrong", email_from="maid@example.com",
        email_to=("ops@example.com",), max_attempts=2, backoff_initial=0.01, timeout=1,
    )
    [e] = [e for e in failing_disk_events(store) if e.rule_id == "pending"]
    waits: list[float] = []
    [d] = Notifier(settings, sleep=waits.append).deliver([e], store)
    assert (d.ok, d.attempts) == (False, 2) and waits == [0.01]
    assert smtp.messages == []
    [row] = notifications(db_path)
    assert row[3] == 0 and row[4] == 2 and row[5]


def test_email_and_webhook_both_receive_each_event(smtp, hook, store, db_path):
    settings = AlertSettings(
        webhook_url=f"http://127.0.0.1:{hook.server_address[1]}/h",
        email_alerts=True, smtp_server="127.0.0.1", smtp_port=smtp.port, smtp_security="none",
        email_from="maid@example.com", email_to=("ops@example.com",), timeout=5,
    )
    events = failing_disk_events(store)
    results = Notifier(settings).deliver(events, store)
    assert len(results) == 2 * len(events) and all(r.ok for r in results)
    assert len(smtp.messages) == len(events) == len(hook.received)


def test_dead_channel_cooldown_spans_calls_and_a_success_revives_it(hook, store, db_path):
    """The monitor calls deliver() once per disk: a dead server must not cost a full
    back-off for every disk, until the cool-down ends or a delivery succeeds."""
    now = [0.0]
    waits: list[float] = []
    n = Notifier(
        AlertSettings(webhook_url=f"http://127.0.0.1:{hook.server_address[1]}/h",
                      max_attempts=3, backoff_initial=1, dead_cooldown=300),
        sleep=waits.append, clock=lambda: now[0],
    )
    hook.statuses[:] = [500] * 5
    assert [(d.ok, d.attempts) for d in n.deliver([event()], store)] == [(False, 3)]
    now[0] = 100.0
    assert [(d.ok, d.attempts) for d in n.deliver([event()], store)] == [(False, 1)]
    now[0] = 400.0  # cool-down over: full back-off again, and this time it works
    assert [(d.ok, d.attempts) for d in n.deliver([event()], store)] == [(True, 2)]
    assert waits == [1, 2, 1]
    hook.statuses[:] = [500]
    assert [(d.ok, d.attempts) for d in n.deliver([event()], store)] == [(True, 2)]
    assert [(r[3], r[4]) for r in notifications(db_path)] == [(0, 3), (0, 1), (1, 2), (1, 2)]


def test_batch_budget_skips_and_records_the_rest(store, db_path):
    now = [0.0]

    def clock() -> float:
        now[0] += 50.0
        return now[0]

    n = Notifier(AlertSettings(webhook_url=f"http://127.0.0.1:{free_port()}/h",
                               max_attempts=1, batch_budget=120),
                 sleep=lambda s: None, clock=clock)
    results = n.deliver([event(alert_id=i) for i in range(1, 6)], store)
    assert results[0].attempts == 1 and results[-1].attempts == 0
    skipped = [r for r in results if r.attempts == 0]
    assert all("budget" in r.error and not r.ok for r in skipped)
    assert len(notifications(db_path)) == 5


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made by the real openssl."""
    d = tmp_path_factory.mktemp("tls")
    key, crt = d / "key.pem", d / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(crt)],
        check=True, capture_output=True, timeout=60,
    )
    return key, crt


@pytest.fixture
def tls_smtp(cert):
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert[1]), str(cert[0]))

    class Inbox:
        messages: list[bytes] = []
        tls_logins: list[str] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            self.messages.append(envelope.original_content or envelope.content)
            return "250 OK"

    inbox = Inbox()
    inbox.messages, inbox.tls_logins = [], []

    def authenticator(server, session, envelope, mechanism, auth_data):
        if session.ssl is not None:  # auth_require_tls: only reachable after STARTTLS
            inbox.tls_logins.append(auth_data.login.decode())
        return AuthResult(success=auth_data.password == b"s3cret")

    port = free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=ctx,
                     require_starttls=True, auth_require_tls=True, authenticator=authenticator)
    ctl.start()
    inbox.port = port
    yield inbox
    ctl.stop()


def starttls_settings(port: int, **kw) -> AlertSettings:
    base = dict(email_alerts=True, smtp_server="127.0.0.1", smtp_port=port,
                smtp_security="starttls", smtp_user="maid", smtp_password="s3cret",
                email_from="maid@example.com", email_to=("ops@example.com",), timeout=5,
                max_attempts=1)
    base.update(kw)
    return AlertSettings(**base)


def test_email_over_starttls_with_a_verified_certificate(tls_smtp, cert, store, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[1]))  # trust our test CA, verify for real
    e = event()
    [d] = Notifier(starttls_settings(tls_smtp.port)).deliver([e], store)
    assert d.ok, d.error
    assert tls_smtp.tls_logins == ["maid"]
    [raw] = tls_smtp.messages
    assert "Value:     1640" in message_from_bytes(raw).get_payload(decode=True).decode()


def test_starttls_refuses_an_untrusted_certificate_unless_told(tls_smtp, store, db_path,
                                                               monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    [d] = Notifier(starttls_settings(tls_smtp.port)).deliver([event()], store)
    assert not d.ok and tls_smtp.messages == [] and tls_smtp.tls_logins == []
    [d] = Notifier(starttls_settings(tls_smtp.port, smtp_verify=False)).deliver([event()], store)
    assert d.ok and len(tls_smtp.messages) == 1
    assert [r[3] for r in notifications(db_path)] == [0, 1]
