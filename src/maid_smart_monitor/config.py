"""One settings table: defaults, the seed's config.ini, MAID_* variables, command line.

Each :class:`Setting` names its ini key, environment variable and flag, how to parse
and check a value, its default and its documentation; the argument parser and the
README's settings table are both built from it (gunicorn's pattern). Sources apply in
increasing precedence: defaults < config file < environment < command line. A bad
value raises :class:`ConfigError` naming the setting and where it came from.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from maid_smart_monitor.model import DiskRef
from maid_smart_monitor.smartctl.command import is_device_type, refuse_autodetect


class ConfigError(ValueError):
    """A setting has a bad value, an unknown name, or its file cannot be read."""


# ---------------------------------------------------------------------- value parsers


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be greater than 0")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 < value < 65536:
        raise ValueError("must be a port number 1-65535")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError("must be true or false")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(text: str) -> float:
    """Seconds, or a number with a unit: ``90``, ``15m``, ``12h``, ``7d``."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError("must be a duration such as 600, 15m, 12h or 7d")
    value = float(m.group(1)) * _UNITS[m.group(2)]
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _optional_duration(text: str) -> float | None:
    if text.strip().lower() in ("", "off", "none", "0"):
        return None
    return _duration(text)


def _window(text: str) -> tuple[int, int] | None:
    """``HH:MM-HH:MM`` as minutes of the day; may wrap midnight (``22:00-05:00``)."""
    if text.strip().lower() in ("", "off", "none"):
        return None
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not m:
        raise ValueError("must look like 01:00-05:00")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError("hours must be 0-23 and minutes 0-59")
    return (h1 * 60 + m1, h2 * 60 + m2)


# A tail after ':' that was meant as a type (a word, maybe with arguments), as opposed to
# the rest of a path that contains ':' (by-path ``pci-0000:00:1f.2-ata-1``, by-id ``...-0:0``).
_TYPE_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*([,+/].*)?$|.*\s")


def parse_devices(text: str) -> tuple[DiskRef, ...]:
    """``/dev/sda,/dev/sdb:sat,/dev/bus/0:megaraid,3`` -> DiskRefs.

    A type may itself contain commas (``megaraid,3``), so an item that does not start
    with ``/`` continues the previous item's type. A path may contain ':' (by-path
    names), so the type starts after the last ':' whose tail is a smartctl ``-d`` type.
    """
    items: list[list[str]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part.startswith("/") or not items:
            items.append([part])
        else:
            items[-1].append(part)
    refs = []
    for head, *rest in items:
        if not head.startswith("/"):
            raise ValueError(f"{head!r} is not a device path")
        refs.append(_split_type(head, rest))
    if not refs:
        raise ValueError("no devices given")
    return tuple(refs)


def _split_type(head: str, rest: list[str]) -> DiskRef:
    """``/dev/x:sat`` + ``[]``, ``/dev/bus/0:megaraid`` + ``['3']`` -> DiskRef."""
    colon = head.rfind(":")
    while colon > 0:
        dev_type = ",".join([head[colon + 1 :], *rest])
        if is_device_type(dev_type):
            refuse_autodetect(head[:colon], dev_type)
            return DiskRef(head[:colon], dev_type)
        colon = head.rfind(":", 0, colon)
    tail = head.rpartition(":")[2] if ":" in head else ""
    if rest or (tail and _TYPE_LIKE.match(tail)):
        raise ValueError(f"{','.join([tail, *rest])!r} is not a smartctl -d type")
    return DiskRef(head, "")


def _optional_devices(text: str) -> tuple[DiskRef, ...] | None:
    return parse_devices(text) if text.strip() else None


def _choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        low = text.strip().lower()
        if low not in options:
            raise ValueError("must be one of " + ", ".join(options))
        return low

    return parse


def _log_level(text: str) -> str:
    return _choice("debug", "info", "warning", "error", "critical")(text).upper()


def _list(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in re.split(r"[\s,]+", text) if p.strip())


def _str(text: str) -> str:
    return text.strip()


def _optional_str(text: str) -> str | None:
    return text.strip() or None


def _listen(text: str) -> str:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host:
        raise ValueError("must be HOST:PORT, such as 127.0.0.1:9540")
    int(port)
    if not 0 <= int(port) < 65536:
        raise ValueError("port must be 0-65535")
    return text.strip()


# ---------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Setting:
    name: str
    section: str
    key: str
    parse: Callable[[str], Any]
    default: Any
    doc: str
    env: str | None = None
    flag: str | None = None
    metavar: str | None = None
    secret: bool = False
    secret_in_uri: bool = False  # a URI whose password part must not be shown


SETTINGS: tuple[Setting, ...] = (
    Setting("db_path", "database", "path", _str, "maid_smart_data.db",
            "SQLite database file (created if missing), or a PostgreSQL URI "
            "postgresql://user@host/db for a fleet (extra [postgres]).", "MAID_DB_PATH",
            "--db", "PATH", secret_in_uri=True),
    Setting("node", "database", "node", _optional_str, None,
            "This host's name in a shared PostgreSQL database (default: the host name).",
            "MAID_NODE"),
    Setting("busy_timeout", "database", "busy_timeout", _positive_float, 10.0,
            "Seconds to wait for another process's lock before giving up on a write."),
    Setting("keep_check_cycles", "database", "keep_check_cycles", _positive_int, 4032,
            "Cycles of per-device check records to keep (readings are kept for ever)."),
    Setting("interval", "monitoring", "interval", _positive_float, 300.0,
            "Seconds between monitoring cycles in daemon mode; also the least time "
            "between two reads of one disk.", "MAID_INTERVAL", "--interval", "SECONDS"),
    Setting("mounted_only", "monitoring", "mounted_only", parse_bool, True,
            "Only disks that back a mounted filesystem (directly, or under LVM/md) are "
            "candidates for reading.", "MAID_MOUNTED_ONLY"),
    Setting("piggyback", "monitoring", "piggyback", parse_bool, True,
            "Read a spinning disk only right after the host used it (its I/O counters "
            "moved), so the read never keeps an idle disk awake."),
    Setting("activity_window", "monitoring", "activity_window", _duration, 900.0,
            "How old observed host I/O may be for a piggy-back read."),
    Setting("sample_interval", "monitoring", "sample_interval", _positive_float, 5.0,
            "Daemon: seconds between /proc/diskstats samples (touches no disk)."),
    Setting("max_staleness", "monitoring", "max_staleness", _optional_duration, None,
            "Wake a disk deliberately when its last reading is older than this "
            "(off by default; each wake is counted and logged)."),
    Setting("maintenance_window", "monitoring", "maintenance_window", _window, None,
            "Deliberate wakes only inside this local-time window, e.g. 01:00-05:00."),
    Setting("concurrency", "monitoring", "concurrency", _positive_int, 8,
            "smartctl processes run at once."),
    Setting("smartctl_timeout", "monitoring", "smartctl_timeout", _positive_float, 60.0,
            "Seconds before a hung smartctl is killed."),
    Setting("smartctl", "monitoring", "smartctl", _str, "smartctl",
            "smartctl executable (name on PATH or a path).", "MAID_SMARTCTL",
            "--smartctl", "PATH"),
    Setting("devices", "monitoring", "devices", _optional_devices, None,
            "Explicit devices, comma-separated PATH or PATH:TYPE (/dev/sda:sat, "
            "/dev/bus/0:megaraid,3); default: discover with smartctl --scan.",
            "MAID_DEVICES", "--devices", "LIST"),
    Setting("procfs", "monitoring", "procfs", _str, "/proc",
            "Where procfs is mounted (/host/proc in a container).", "MAID_PROCFS",
            "--procfs", "PATH"),
    Setting("sysfs", "monitoring", "sysfs", _str, "/sys",
            "Where sysfs is mounted (/host/sys in a container).", "MAID_SYSFS",
            "--sysfs", "PATH"),
    Setting("enable_webhooks", "alerts", "enable_webhooks", parse_bool, True,
            "Send alerts to webhook_url when it is set."),
    Setting("webhook_url", "alerts", "webhook_url", _optional_str, None,
            "Slack, Discord or generic JSON webhook URL.", "MAID_WEBHOOK_URL", secret=True),
    Setting("email_alerts", "alerts", "email_alerts", parse_bool, False, "Send alerts by email."),
    Setting("smtp_server", "alerts", "smtp_server", _optional_str, None, "SMTP host."),
    Setting("smtp_port", "alerts", "smtp_port", _port, 587, "SMTP port."),
    Setting("smtp_user", "alerts", "smtp_user", _optional_str, None, "SMTP user name."),
    Setting("smtp_password", "alerts", "smtp_password", _optional_str, None, "SMTP password.",
            "MAID_SMTP_PASSWORD", secret=True),
    Setting("smtp_starttls", "alerts", "smtp_starttls", parse_bool, True,
            "Use STARTTLS on the SMTP connection."),
    Setting("email_from", "alerts", "email_from", _optional_str, None, "Sender address."),
    Setting("email_to", "alerts", "email_to", _list, (), "Recipient addresses."),
    Setting("apprise_urls", "alerts", "apprise_urls", _list, (),
            "More notification targets as apprise URLs.", secret=True),
    Setting("repeat", "alerts", "repeat", _choice("once", "daily", "diminishing"), "once",
            "Reminders for an alert that persists: once, daily, or diminishing "
            "(1, 2, 4, 8... days)."),
    Setting("log_level", "logging", "level", _log_level, "INFO", "Log level.",
            "MAID_LOG_LEVEL", "--log-level", "LEVEL"),
    Setting("log_file", "logging", "file", _optional_str, None,
            "Also log to this file (default: standard error only)."),
    Setting("log_format", "logging", "format", _choice("text", "json"), "text",
            "text (the seed's format) or json (one object per line)."),
    Setting("web_listen", "web", "listen", _listen, "127.0.0.1:9540",
            "Address of the dashboard, REST API and /metrics.", "MAID_WEB_LISTEN",
            "--listen", "HOST:PORT"),
    Setting("web_token", "web", "token", _optional_str, None,
            "Bearer token required for write operations (acknowledge).", "MAID_WEB_TOKEN",
            secret=True),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
# [health] keys are the fields of health.HealthConfig; checked when the file is loaded.
FREE_SECTIONS = ("health",)


@dataclass(frozen=True)
class Settings:
    """The resolved configuration: every setting's value plus where it came from."""

    values: Mapping[str, Any]
    sources: Mapping[str, str] = field(default_factory=dict)
    health: Mapping[str, str] = field(default_factory=dict)
    config_file: str | None = None

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def replace(self, **changes: Any) -> Settings:
        values = dict(self.values)
        for k, v in changes.items():
            if k not in BY_NAME:
                raise ConfigError(f"unknown setting {k!r}")
            values[k] = v
        return Settings(values, {**self.sources, **dict.fromkeys(changes, "code")},
                        self.health, self.config_file)

    def render(self) -> str:
        """The resolved settings as config.ini text, secrets masked (--print-config)."""
        lines: list[str] = []
        section = None
        for s in SETTINGS:
            if s.section != section:
                section = s.section
                lines.append(f"{'' if not lines else chr(10)}[{section}]")
            value = self.values[s.name]
            if s.secret_in_uri and isinstance(value, str):
                value = redact_uri(value)
            lines.append(f"{s.key} = {_format(value, s.secret)}  ; {self.sources[s.name]}")
        if self.health:
            lines.append("\n[health]")
            lines.extend(f"{k} = {v}" for k, v in sorted(self.health.items()))
        return "\n".join(lines)


def redact_uri(text: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://[^:/@]*):[^@]*@", r"\1:***@", text, flags=re.I)


def _format(value: Any, secret: bool) -> str:
    if value is None:
        return ""
    if secret and value:
        return "********"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        if value and isinstance(value[0], DiskRef):
            return ",".join(f"{d.path}:{d.dev_type}" if d.dev_type else d.path for d in value)
        if len(value) == 2 and all(isinstance(v, int) for v in value):
            return "-".join(f"{v // 60:02d}:{v % 60:02d}" for v in value)
        return ",".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _apply(setting: Setting, raw: str, where: str) -> Any:
    try:
        return setting.parse(raw)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {setting.name} = {raw!r}: {exc}") from None


def read_config_file(path: str) -> tuple[dict[str, tuple[Setting, str]], dict[str, str]]:
    """Parse the seed's config.ini; unknown sections and keys are errors, not ignored."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read: {exc.strerror or exc}") from None
    except configparser.Error as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"config file {path}: {first}") from None
    by_key = {(s.section, s.key): s for s in SETTINGS}
    known_sections = {s.section for s in SETTINGS} | set(FREE_SECTIONS)
    found: dict[str, tuple[Setting, str]] = {}
    health: dict[str, str] = {}
    for section in parser.sections():
        if section not in known_sections:
            raise ConfigError(
                f"config file {path}: unknown section [{section}] "
                f"(known: {', '.join(sorted(known_sections))})"
            )
        for key, raw in parser.items(section):
            if section in FREE_SECTIONS:
                health[key] = raw
                continue
            setting = by_key.get((section, key))
            if setting is None:
                raise ConfigError(f"config file {path}: unknown setting [{section}] {key}")
            found[setting.name] = (setting, raw)
    return found, health


def load(
    cli: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: str | None = None,
) -> Settings:
    """Resolve settings. ``cli`` holds already-typed values for flags the user gave."""
    environ = os.environ if environ is None else environ
    cli = cli or {}
    values = {s.name: s.default for s in SETTINGS}
    sources = dict.fromkeys(values, "default")
    path = config_file or environ.get("MAID_CONFIG") or None
    health: dict[str, str] = {}
    if path:
        found, health = read_config_file(path)
        for name, (setting, raw) in found.items():
            values[name] = _apply(setting, raw, f"config file {path} [{setting.section}]")
            sources[name] = f"config file {path}"
    for s in SETTINGS:
        if s.env and environ.get(s.env) not in (None, ""):
            values[s.name] = _apply(s, environ[s.env], f"environment {s.env}")
            sources[s.name] = f"environment {s.env}"
    if environ.get("MAID_DEBUG", "").strip().lower() in _TRUE and "log_level" not in cli:
        values["log_level"] = "DEBUG"
        sources["log_level"] = "environment MAID_DEBUG"
    for name, value in cli.items():
        if value is None:
            continue
        values[name] = value
        sources[name] = f"command line {BY_NAME[name].flag}"
    if health:
        _check_health_keys(health, path or "")
    return Settings(values, sources, health, path)


def _check_health_keys(health: Mapping[str, str], path: str) -> None:
    from maid_smart_monitor.health import HealthConfig

    known = {f.name for f in fields(HealthConfig)}
    for key in health:
        if key not in known:
            raise ConfigError(
                f"config file {path}: unknown setting [health] {key} "
                f"(known: {', '.join(sorted(known))})"
            )
    try:
        HealthConfig.from_strings(health)
    except ValueError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None


def cli_type(setting: Setting) -> Callable[[str], Any]:
    """argparse ``type=`` for a setting: its parser, with the setting named on error."""

    def convert(text: str) -> Any:
        return _apply(setting, text, f"command line {setting.flag}")

    convert.__name__ = setting.name
    return convert


def settings_table() -> list[Sequence[str]]:
    """Rows for the README's settings table (name, ini, env, flag, default, doc)."""
    rows = []
    for s in SETTINGS:
        rows.append(
            (
                f"[{s.section}] {s.key}",
                s.env or "",
                s.flag or "",
                _format(s.default, False) or "(none)",
                s.doc,
            )
        )
    return rows
