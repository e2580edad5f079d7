"""The settings table: precedence, validation messages, the seed's config.ini."""

from __future__ import annotations

import subprocess
import sys

import pytest

from maid_smart_monitor import config
from maid_smart_monitor.config import ConfigError, parse_devices
from maid_smart_monitor.model import DiskRef

SEED_INI = """\
[database]
path = /var/lib/smart/maid_smart_data.db

[monitoring]
interval = 600
mounted_only = true

[alerts]
enable_webhooks = true
webhook_url = https://hooks.slack.com/services/T000/B000/XXXX
email_alerts = false
smtp_server = smtp.gmail.com
smtp_port = 587

[logging]
level = INFO
file = /var/log/maid-smart-monitor.log
"""


def write(tmp_path, text, name="config.ini"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_defaults_are_the_seeds():
    s = config.load(environ={})
    assert s.db_path == "maid_smart_data.db"
    assert s.interval == 300
    assert s.mounted_only is True
    assert s.smartctl == "smartctl"
    assert s.log_level == "INFO"


def test_seed_config_file_is_accepted(tmp_path):
    s = config.load(environ={}, config_file=write(tmp_path, SEED_INI))
    assert s.db_path == "/var/lib/smart/maid_smart_data.db"
    assert s.interval == 600
    assert s.webhook_url.startswith("https://hooks.slack.com/")
    assert s.smtp_server == "smtp.gmail.com"
    assert s.log_file == "/var/log/maid-smart-monitor.log"


def test_precedence_cli_over_env_over_file_over_default(tmp_path):
    path = write(tmp_path, "[monitoring]\ninterval = 600\n[database]\npath = file.db\n")
    env = {"MAID_INTERVAL": "900", "MAID_CONFIG": path}
    s = config.load(environ=env)
    assert s.interval == 900 and s.sources["interval"] == "environment MAID_INTERVAL"
    assert s.db_path == "file.db" and s.sources["db_path"].startswith("config file")
    s = config.load({"interval": 42.0}, environ=env)
    assert s.interval == 42.0 and s.sources["interval"] == "command line --interval"


@pytest.mark.parametrize(
    ("ini", "needle"),
    [
        ("[monitoring]\ninterval = 0\n", "interval = '0': must be greater than 0"),
        ("[monitoring]\ninterval = soon\n", "interval = 'soon'"),
        ("[monitoring]\nintervall = 5\n", "unknown setting [monitoring] intervall"),
        ("[monitorin]\ninterval = 5\n", "unknown section [monitorin]"),
        ("[monitoring]\nmounted_only = perhaps\n",
         "mounted_only = 'perhaps': must be true or false"),
        ("[alerts]\nsmtp_port = 70000\n", "smtp_port = '70000'"),
        ("[alerts]\nrepeat = hourly\n",
         "repeat = 'hourly': must be one of once, daily, diminishing"),
        ("[monitoring]\nmaintenance_window = 25:00-01:00\n", "maintenance_window"),
        ("no section header\n", "File contains no section headers"),
    ],
)
def test_bad_file_values_name_the_setting(tmp_path, ini, needle):
    with pytest.raises(ConfigError) as exc:
        config.load(environ={}, config_file=write(tmp_path, ini))
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)


def test_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError, match="environment MAID_INTERVAL: interval = '-5'"):
        config.load(environ={"MAID_INTERVAL": "-5"})


def test_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        config.load(environ={}, config_file=str(tmp_path / "missing.ini"))


def test_maid_debug_sets_debug_level():
    assert config.load(environ={"MAID_DEBUG": "1"}).log_level == "DEBUG"
    assert config.load({"log_level": "WARNING"}, environ={"MAID_DEBUG": "1"}).log_level == "WARNING"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/dev/sda", [DiskRef("/dev/sda", "")]),
        (
            "/dev/sda:sat,/dev/nvme0:nvme",
            [DiskRef("/dev/sda", "sat"), DiskRef("/dev/nvme0", "nvme")],
        ),
        (
            "/dev/bus/0:megaraid,3,/dev/bus/0:megaraid,4",
            [DiskRef("/dev/bus/0", "megaraid,3"), DiskRef("/dev/bus/0", "megaraid,4")],
        ),
        ("/dev/sdb:sat,12", [DiskRef("/dev/sdb", "sat,12")]),
        (
            "/dev/disk/by-path/pci-0000:00:1f.2-ata-1",
            [DiskRef("/dev/disk/by-path/pci-0000:00:1f.2-ata-1", "")],
        ),
        (
            "/dev/disk/by-path/pci-0000:00:1f.2-ata-1:sat,/dev/sdc",
            [DiskRef("/dev/disk/by-path/pci-0000:00:1f.2-ata-1", "sat"), DiskRef("/dev/sdc", "")],
        ),
        (
            "/dev/disk/by-id/usb-WD_Elements_25A2_575833-0:0",
            [DiskRef("/dev/disk/by-id/usb-WD_Elements_25A2_575833-0:0", "")],
        ),
        ("/dev/sg1:areca,2/1", [DiskRef("/dev/sg1", "areca,2/1")]),
        ("/dev/sde:hpt,1/1/1", [DiskRef("/dev/sde", "hpt,1/1/1")]),
        ("/dev/sdf:jmb39x-q,0", [DiskRef("/dev/sdf", "jmb39x-q,0")]),
        ("/dev/sdg:jms56x,1,33,force+sat", [DiskRef("/dev/sdg", "jms56x,1,33,force+sat")]),
        ("/dev/sda:sat,auto", [DiskRef("/dev/sda", "sat,auto")]),
    ],
)
def test_parse_devices(text, expected):
    assert list(parse_devices(text)) == expected


@pytest.mark.parametrize(
    "text", ["sda", "/dev/sda:bad type", "", "/dev/sda:foo", "/dev/sda:sat,1,/dev/x:bogus,1"]
)
def test_parse_devices_rejects(text):
    with pytest.raises(ValueError):
        parse_devices(text)


@pytest.mark.parametrize("text", ["/dev/sda:auto", "/dev/sda:test", "/dev/sdb,/dev/sda:scsi+auto"])
def test_parse_devices_refuses_autodetection(text):
    with pytest.raises(ValueError, match="autodetect"):
        parse_devices(text)


def test_durations_and_windows(tmp_path):
    ini = (
        "[monitoring]\nmax_staleness = 7d\nmaintenance_window = 22:30-05:00\n"
        "activity_window = 15m\n"
    )
    s = config.load(environ={}, config_file=write(tmp_path, ini))
    assert s.max_staleness == 7 * 86400
    assert s.maintenance_window == (22 * 60 + 30, 5 * 60)
    assert s.activity_window == 900


def test_print_config_masks_secrets(tmp_path):
    s = config.load(environ={"MAID_WEBHOOK_URL": "https://example.invalid/secret-token"})
    text = s.render()
    assert "secret-token" not in text
    assert "webhook_url = ********  ; environment MAID_WEBHOOK_URL" in text


def test_cli_bad_value_is_one_line_and_exit_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "maid_smart_monitor", "--interval", "0", "--db",
         str(tmp_path / "x.db")],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "interval" in lines[0] and "greater than 0" in lines[0]


def test_cli_bad_config_file_exit_2(tmp_path):
    path = write(tmp_path, "[monitoring]\nbogus = 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "maid_smart_monitor", "--config", path, "--summary"],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2
    assert "unknown setting [monitoring] bogus" in proc.stderr
