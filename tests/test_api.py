"""The seed's Python API: MAIDSmartMonitor(db_path), check_smart_support, cycles, summary,
export; over the simulated fleet through the real smartctl process boundary."""

from __future__ import annotations

import csv
import io

import pytest

from maid_smart_monitor import MAIDSmartMonitor, config
from maid_smart_monitor.sim.fleet import Fleet, FleetSpec


@pytest.fixture
def fleet(tmp_path):
    f = Fleet.create(tmp_path / "fleet", FleetSpec(disks=8, seed=17, nvme=2, megaraid=0,
                                                   usb=0, suspended=0, md_pairs=0,
                                                   busy_fraction=0.5))
    yield f
    f.close()


def monitor_for(fleet: Fleet, db: str = ":memory:") -> MAIDSmartMonitor:
    settings = config.load(environ={}).replace(
        smartctl=fleet.smartctl, procfs=fleet.procfs, sysfs=fleet.sysfs, mounted_only=False)
    return MAIDSmartMonitor(db, settings=settings, clock=fleet.now)


def test_memory_database_and_a_cycle(fleet):
    m = monitor_for(fleet)
    report = m.run_monitoring_cycle()
    assert report.read >= 2  # the NVMe at least: solid state is read every interval
    assert len(report.outcomes) == 8
    summary = m.get_summary()
    assert summary.total_devices == report.read
    assert m.print_summary().startswith("MAID SMART Health Summary:\nTotal devices: ")
    buf = io.StringIO()
    rows = m.export_csv(buf, days=30)
    assert rows == len(list(csv.reader(io.StringIO(buf.getvalue())))) - 1
    m.close()


def test_check_smart_support_never_wakes_a_sleeping_disk(fleet):
    fleet.advance(3 * 3600)  # idle disks spin down (20 min timers)
    m = monitor_for(fleet)
    m.discover()
    now = fleet.now()
    asleep = [d for d in fleet.disks() if d.kind == "hdd" and d.power_state(now) == "standby"]
    awake = [d for d in fleet.disks() if d.kind == "nvme"]
    assert asleep and awake
    assert m.check_smart_support(awake[0].path) is True
    assert m.check_smart_support(asleep[0].path) is False  # unknown for now: not woken
    assert fleet.disk(asleep[0].idx).spinups_monitor == 0
    assert fleet.disk(asleep[0].idx).power_state(fleet.now()) == "standby"
    m.close()


def test_check_smart_support_does_not_open_a_suspended_disk(fleet):
    m = monitor_for(fleet)
    m.discover()
    hdd = next(d for d in fleet.disks() if d.kind == "hdd")
    fleet.set_knobs(hdd.idx, suspended=1)
    before = fleet.disk(hdd.idx).commands
    assert m.check_smart_support(hdd.path) is False
    after = fleet.disk(hdd.idx)
    assert after.commands == before and after.opened_suspended == 0
    m.close()


def test_a_failure_handling_one_disk_fails_that_disk_only(fleet, monkeypatch):
    from maid_smart_monitor import monitor as monitor_mod

    real = monitor_mod.health.evaluate
    victim = fleet.disks()[0].serial  # an NVMe: read every cycle

    def flaky(record, *args, **kwargs):
        if record.identity and record.identity.serial == victim:
            raise RuntimeError("rule bug")
        return real(record, *args, **kwargs)

    monkeypatch.setattr(monitor_mod.health, "evaluate", flaky)
    m = monitor_for(fleet)
    report = m.run_monitoring_cycle()
    errors = [o for o in report.outcomes if o.result.value == "error"]
    assert [o.reason for o in errors] == ["internal error: rule bug"]
    assert report.read >= 1  # the other disks were read and stored
    assert m.get_summary().total_devices == report.read
    m.close()
