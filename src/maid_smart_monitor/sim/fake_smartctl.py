"""A smartctl look-alike over the simulated fleet.

Run as a real process (``python -m maid_smart_monitor.sim.fake_smartctl ARGS`` with
``MAID_SIM_STATE=<state.sqlite>``, or the ``smartctl`` wrapper script the fleet writes)
or in-process through ``SimRunner``: both call ``execute``, the same code.

It honours what the monitor uses (``--scan``, ``--json[=c]``, ``-a/-x/-i/-H/-A``,
``-d TYPE``, ``-n MODE[,STATUS[,STATUS2]]``, ``--version``) with smartctl 7.3's exit
codes and JSON shapes, answers from the recording each disk was built from, and does to
the simulated disk what the real command would do to a real one:

* ``-n standby,N`` on a disk in standby: "Device is in STANDBY mode, exit(N)", disk
  untouched. Megaraid (and a USB bridge with ``check_unsupported``) says "CHECK POWER MODE
  not implemented, ignoring -n option" and reads anyway, spinning a sleeping disk up.
* a wrong ``-d``: ``sat`` on a SCSI disk makes the ATA power check fail, which smartctl
  reports as "Device is in SLEEP mode" for ever; ``scsi`` on a SATA disk reads through
  SCSI translation: no ATA attribute table. No ``-d`` at all autodetects, which opens and
  probes (IDENTIFY) the disk before any power check.
* opening a runtime-suspended disk resumes it (a spin-up).
* knobs per disk: hang, garbage and truncated output, permission denied, missing
  device, FAILED health, reads that move diskstats counters, per-command latency.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maid_smart_monitor.sim import fleet as fl
from maid_smart_monitor.sim import sysfs as fake_sys

VERSION = (7, 3)
SVN = "5338"
PLATFORM = "x86_64-linux-sim"
BUILD = "(maid-smart-monitor simulator)"
NOT_IMPLEMENTED = "CHECK POWER MODE not implemented, ignoring -n option"

ATA_FAMILY = ("sat", "ata", "usbjmicron", "usbcypress", "usbprolific", "usbsunplus",
              "usbasm1352r", "jmb39x", "jms56x")
NVME_FAMILY = ("nvme", "sntasmedia", "sntjmicron", "sntrealtek")
INFO_KEYS = frozenset({
    "device", "model_family", "model_name", "serial_number", "wwn", "firmware_version",
    "user_capacity", "logical_block_size", "physical_block_size", "rotation_rate",
    "form_factor", "trim", "in_smartctl_database", "ata_version", "sata_version",
    "interface_speed", "smart_support", "vendor", "product", "revision", "scsi_vendor",
    "scsi_product", "scsi_model_name", "scsi_revision", "scsi_version", "logical_unit_id",
    "device_type", "nvme_pci_vendor", "nvme_ieee_oui_identifier", "nvme_total_capacity",
    "nvme_unallocated_capacity", "nvme_controller_id", "nvme_version",
    "nvme_number_of_namespaces", "nvme_namespaces",
})
HEALTH_KEYS = frozenset({"smart_status"})
ATTR_KEYS = frozenset({
    "ata_smart_attributes", "nvme_smart_health_information_log", "temperature",
    "power_on_time", "power_cycle_count", "scsi_grown_defect_list",
    "scsi_error_counter_log", "scsi_start_stop_cycle_counter",
    "scsi_percentage_used_endurance_indicator",
})

_TEMPLATES: dict[str, dict[str, Any]] = {}


@dataclass
class Reply:
    """What the process prints and exits with (``hang``: never exits)."""

    rc: int
    stdout: str = ""
    stderr: str = ""
    hang: bool = False
    delay: float = 0.0


@dataclass
class Args:
    argv: list[str]
    json: bool = False
    compact: bool = False
    actions: set[str] = field(default_factory=set)  # a x i H A
    dev_type: str | None = None
    nocheck: tuple[str, int, int | None] | None = None
    path: str | None = None
    scan: bool = False
    scan_open: bool = False
    version: bool = False
    error: str | None = None


# ---------------------------------------------------------------------------- argv


_ACTIONS = {"-a": "a", "--all": "a", "-x": "x", "--xall": "x", "-i": "i", "--info": "i",
            "-H": "H", "--health": "H", "-A": "A", "--attributes": "A"}


def parse_args(argv: list[str]) -> Args:
    a = Args(argv=list(argv))
    i = 0
    while i < len(argv):
        arg = argv[i]
        value: str | None = None
        if arg in ("-j", "--json"):
            a.json = True
        elif arg.startswith("--json="):
            a.json, a.compact = True, "c" in arg.split("=", 1)[1]
        elif arg in _ACTIONS:
            a.actions.add(_ACTIONS[arg])
        elif arg in ("-d", "--device", "-n", "--nocheck"):
            if i + 1 >= len(argv):
                a.error = f"option {arg} requires an argument"
                return a
            value, i = argv[i + 1], i + 1
            _set_opt(a, arg, value)
        elif arg.startswith(("--device=", "--nocheck=")):
            opt, value = arg.split("=", 1)
            _set_opt(a, opt, value)
        elif arg.startswith(("-d", "-n")) and len(arg) > 2:
            _set_opt(a, arg[:2], arg[2:])
        elif arg == "--scan":
            a.scan = True
        elif arg == "--scan-open":
            a.scan_open = True
        elif arg in ("-V", "--version"):
            a.version = True
        elif arg.startswith("-"):
            a.error = f"UNRECOGNIZED OPTION: {arg.lstrip('-')}"
            return a
        elif a.path is None:
            a.path = arg
        else:
            a.error = f"more than one device name: {a.path} {arg}"
            return a
        if a.error:
            return a
        i += 1
    return a


def _set_opt(a: Args, opt: str, value: str) -> None:
    if opt in ("-d", "--device"):
        a.dev_type = value
        if family(value) is None:
            a.error = f"INVALID ARGUMENT TO -d: {value}"
        return
    parts = value.split(",")
    mode = parts[0]
    if mode not in ("never", "sleep", "standby", "idle"):
        a.error = f"INVALID ARGUMENT TO -n: {value}"
        return
    try:
        status = int(parts[1]) if len(parts) > 1 else 2
        status2 = int(parts[2]) if len(parts) > 2 else None
    except ValueError:
        a.error = f"INVALID ARGUMENT TO -n: {value}"
        return
    if not 0 <= status <= 255 or (status2 is not None and not 0 <= status2 <= 255):
        a.error = f"INVALID ARGUMENT TO -n: {value}"
        return
    a.nocheck = (mode, status, status2)


def family(dev_type: str) -> str | None:
    """ata / scsi / nvme / megaraid / auto, or None for a type smartctl rejects."""
    t = dev_type.lower()
    if "megaraid," in t:
        return "megaraid"
    first = t.split("+")[0].split(",")[0]
    if first in ATA_FAMILY:
        return "ata"
    if first == "scsi":
        return "scsi"
    if first in NVME_FAMILY:
        return "nvme"
    if first in ("auto", "test", ""):
        return "auto"
    return None


# ---------------------------------------------------------------------------- JSON


def _meta(args: Args, rc: int, messages: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    m: dict[str, Any] = {
        "version": list(VERSION), "svn_revision": SVN, "platform_info": PLATFORM,
        "build_info": BUILD, "argv": ["smartctl", *args.argv],
    }
    if messages:
        m["messages"] = [{"string": s, "severity": sev} for s, sev in messages]
    m["exit_status"] = rc
    return m


def _local_time(now: float) -> dict[str, Any]:
    return {"time_t": int(now), "asctime": time.asctime(time.gmtime(now)) + " UTC"}


def _dump(args: Args, doc: dict[str, Any]) -> str:
    if args.compact:
        return json.dumps(doc, separators=(",", ":")) + "\n"
    return json.dumps(doc, indent=2) + "\n"


def _info_name(d: fl.Disk, given: str) -> str:
    fam = family(given)
    if d.member >= 0:
        base = f"{d.path} [megaraid_disk_{d.member:02d}]"
        return base + (" [SAT]" if d.protocol == "ATA" else "")
    if fam == "ata":
        return f"{d.path} [USB JMicron]" if given.startswith("usb") else f"{d.path} [SAT]"
    return d.path


def _device(d: fl.Disk, given: str, protocol: str) -> dict[str, Any]:
    if d.member >= 0 and d.protocol == "ATA" and not given.startswith("sat+"):
        given = "sat+" + given  # smartctl reports the SAT layer it added behind megaraid
    return {"name": d.path, "info_name": _info_name(d, given), "type": given,
            "protocol": protocol}


def _simple(args: Args, rc: int, messages: list[tuple[str, str]], now: float,
            extra: dict[str, Any] | None = None) -> Reply:
    """A short answer (errors, power mode) in JSON or text."""
    if args.json:
        doc: dict[str, Any] = {"json_format_version": [1, 0], "smartctl": _meta(args, rc, messages)}
        if extra:
            doc.update(extra)
        doc["local_time"] = _local_time(now)
        return Reply(rc, _dump(args, doc))
    text = _banner() + "".join(s + "\n" for s, _ in messages)
    return Reply(rc, text)


def _banner() -> str:
    return (f"smartctl {VERSION[0]}.{VERSION[1]} 2022-02-28 r{SVN} [{PLATFORM}] {BUILD}\n"
            "Copyright (C) 2002-22, Bruce Allen, Christian Franke, www.smartmontools.org\n\n")


def _template(recordings: str, rel: str) -> dict[str, Any]:
    key = f"{recordings}/{rel}"
    doc = _TEMPLATES.get(key)
    if doc is None:
        with open(Path(recordings) / rel, encoding="utf-8") as fh:
            doc = json.load(fh)
        _TEMPLATES[key] = doc
    return doc


def _reading(d: fl.Disk, args: Args, meta: dict[str, Any], now: float, view: str,
             messages: list[tuple[str, str]]) -> tuple[dict[str, Any], int]:
    """The JSON of a served read, from the disk's recording, with this disk's identity."""
    tpl = _template(meta["recordings"], d.recording)
    given = args.dev_type or d.true_type
    rc = int((tpl.get("smartctl") or {}).get("exit_status") or 0) & ~0b011
    if view == "scsi-of-ata":  # SATA read through SCSI translation: no ATA attributes
        model = str(tpl.get("model_name") or "")
        body: dict[str, Any] = {
            "scsi_vendor": "ATA", "scsi_product": model[:16], "scsi_model_name": f"ATA {model}",
            "model_name": f"ATA {model}", "serial_number": d.serial,
            "user_capacity": tpl.get("user_capacity"),
            "logical_block_size": tpl.get("logical_block_size", 512),
            "rotation_rate": tpl.get("rotation_rate"), "device_type": {"scsi_value": 0,
                                                                        "name": "disk"},
            "smart_support": {"available": True, "enabled": True},
            "smart_status": {"passed": True},
        }
        if "temperature" in tpl:
            body["temperature"] = tpl["temperature"]
        protocol = "SCSI"
        rc &= ~0b11111000
    else:
        body = {k: v for k, v in tpl.items()
                if k not in ("json_format_version", "smartctl", "device", "local_time")}
        body["serial_number"] = d.serial
        if isinstance(tpl.get("wwn"), dict):
            body["wwn"] = {**tpl["wwn"], "id": d.wwn_id}
        if "logical_unit_id" in tpl:
            body["logical_unit_id"] = f"0x5000c5{d.wwn_id:010x}"
        protocol = d.protocol
    wanted = set()
    if args.actions & {"a", "x"} or not args.actions:
        wanted = set(body)
    if "i" in args.actions:
        wanted |= INFO_KEYS & set(body)
    if "H" in args.actions:
        wanted |= HEALTH_KEYS & set(body)
    if "A" in args.actions:
        wanted |= ATTR_KEYS & set(body)
    body = {k: body[k] for k in body if k in wanted}
    if d.failed and "smart_status" in body:
        body["smart_status"] = {**body["smart_status"], "passed": False}
        rc |= 0b1000
    doc = {"json_format_version": [1, 0], "smartctl": _meta(args, rc, messages),
           "device": _device(d, given, protocol), **body, "local_time": _local_time(now)}
    return doc, rc


# ---------------------------------------------------------------------------- execute


def execute(db: sqlite3.Connection, argv: list[str]) -> Reply:
    """Run one smartctl command line against the fleet state; account what it did."""
    args = parse_args(argv)
    if args.version and not args.error:
        return _version(args)
    if args.error:
        return _simple(args, 1, [(f"=======> {args.error}", "error"),
                                 ("Use smartctl -h to get a usage summary", "error")], time.time())
    runtime_changes: list[tuple[str, str]] = []
    with fl.transaction(db):
        meta = fl.get_meta(db)
        now = fl.sim_now(meta)
        reply = _execute_locked(db, args, meta, now, runtime_changes)
    sysfs = str(Path(meta["root"]) / "sys")
    for block, status in runtime_changes:
        fake_sys.write_runtime_status(sysfs, block, status)
    return reply


def _execute_locked(db: sqlite3.Connection, args: Args, meta: dict[str, Any], now: float,
                    runtime_changes: list[tuple[str, str]]) -> Reply:
    if args.scan or args.scan_open:
        return _scan(db, args, meta, now, runtime_changes)
    if not args.path:
        return _simple(args, 1, [("ERROR: smartctl requires a device name as the final "
                                  "command-line argument.", "error")], now)
    disk = _lookup(db, args)
    if disk is None:
        return _open_failed(args, now, "No such device")
    spec = fl.spec_of(meta)
    was_suspended, reads_before = disk.suspended, disk.reads_served
    fl.advance_disk(disk, spec, now)
    disk.commands += 1
    reply = _act(disk, args, meta, spec, now)
    fl.save_disks(db, [disk])
    if disk.moves_counters and disk.block and disk.reads_served > reads_before:
        fl.write_diskstats(db, meta)
    if disk.block and disk.suspended != was_suspended:
        runtime_changes.append((disk.block, "suspended" if disk.suspended else "active"))
    return reply


def _version(args: Args) -> Reply:
    if args.json:
        doc = {"json_format_version": [1, 0], "smartctl": _meta(args, 0)}
        return Reply(0, _dump(args, doc))
    return Reply(0, _banner().rstrip("\n") + "\n")


_NVME = re.compile(r"(/dev/nvme\d+)(?:n\d+)?")


def _lookup(db: sqlite3.Connection, args: Args) -> fl.Disk | None:
    path = args.path or ""
    m = _NVME.fullmatch(path)
    if m:
        path = m.group(1)  # the controller or its namespace: the same disk
    t = (args.dev_type or "").lower()
    member = -1
    if "megaraid," in t:
        try:
            member = int(t.split("megaraid,", 1)[1].split("+")[0].split(",")[0])
        except ValueError:
            return None
    row = db.execute("SELECT * FROM disks WHERE path=? AND member=?", (path, member)).fetchone()
    return fl.row_to_disk(row) if row else None


def _open_failed(args: Args, now: float, why: str, d: fl.Disk | None = None) -> Reply:
    name = args.path or ""
    if d is not None:
        name = _info_name(d, args.dev_type or d.true_type)
    return _simple(args, 2, [(f"Smartctl open device: {name} failed: {why}", "error")], now)


def _power_mode_reply(d: fl.Disk, args: Args, mode: str, status: int, now: float,
                      messages: list[tuple[str, str]]) -> Reply:
    given = args.dev_type or d.true_type
    value = {"STANDBY": 0x00, "SLEEP": 0x00, "IDLE": 0x80}.get(mode, 0xFF)
    extra = {"device": _device(d, given, "ATA" if family(given) == "ata" else d.protocol),
             "power_mode": {"ata_value": value, "name": mode}}
    return _simple(args, status, [*messages, (f"Device is in {mode} mode, exit({status})",
                                              "information")], now, extra)


def _act(d: fl.Disk, args: Args, meta: dict[str, Any], spec: fl.FleetSpec, now: float) -> Reply:
    if d.missing:
        return _open_failed(args, now, "No such device", d)
    if d.denied:
        return _open_failed(args, now, "Permission denied", d)
    if d.hang:
        return Reply(0, hang=True)
    fam = family(args.dev_type or "auto") or "auto"
    messages: list[tuple[str, str]] = []

    if d.suspended:  # open() resumes a runtime-suspended disk: the disk spins up
        d.opened_suspended += 1
        d.suspended = 0
        fl._touch(d, now, now, host=False)

    view = "native"
    ata_on_scsi = False
    if d.kind == "nvme":
        if fam not in ("nvme", "auto"):
            d.wrong_type += 1
            return _open_failed(args, now, "INQUIRY failed", d)
    elif fam == "nvme":
        d.wrong_type += 1
        return _open_failed(args, now, "NVMe admin command not supported", d)
    elif d.kind == "raid":
        pass  # the member was found by its megaraid,N; sat+ or not, the controller copes
    elif d.protocol == "SCSI":
        if fam == "ata":
            d.wrong_type += 1
            ata_on_scsi = True
    elif fam == "scsi":  # an ATA disk read as SCSI
        d.wrong_type += 1
        view = "scsi-of-ata"
    if fam == "auto":  # autodetection opens and probes the device before any -n
        d.wrong_type += 1
        _monitor_read_touch(d, spec, now, count_read=False)

    checked = False
    if args.nocheck and args.nocheck[0] != "never" and d.kind != "nvme":
        mode, status, status2 = args.nocheck
        if d.kind == "raid" or d.check_unsupported:
            messages.append((NOT_IMPLEMENTED, "information"))
            if status2 is not None and d.kind != "raid":  # STATUS2: ATA only (7.3)
                return _simple(args, status2, messages, now)
        elif ata_on_scsi:
            d.power_checks += 1
            return _power_mode_reply(d, args, "SLEEP", status, now, messages)
        else:
            d.power_checks += 1
            checked = True
            state = d.power_state(now)
            current = {"standby": "STANDBY", "idle": "IDLE"}.get(state, "ACTIVE")
            skip = {"sleep": ("SLEEP",), "standby": ("SLEEP", "STANDBY"),
                    "idle": ("SLEEP", "STANDBY", "IDLE")}[mode]
            if current in skip:
                d.standby_answers += 1
                return _power_mode_reply(d, args, current, status, now, messages)
    if ata_on_scsi:
        return _simple(args, 2, [("Read Device Identity failed: scsi error unsupported field "
                                  "in scsi command", "error")], now,
                       {"device": _device(d, args.dev_type or "sat", "ATA")})

    _monitor_read_touch(d, spec, now, count_read=True, checked=checked)
    if d.moves_counters and d.block:
        d.io_reads += 2  # newer kernels count SMART pass-through commands in diskstats
    doc, rc = _reading(d, args, meta, now, view, messages)
    reply = Reply(rc, _dump(args, doc), delay=d.latency)
    if d.garbage:
        reply.stdout = "\x00\x1b[0m smartctl: garbage {{{ not json\n"
    elif d.truncated:
        reply.stdout = reply.stdout[: max(1, len(reply.stdout) // 2)]
    if not args.json and not (d.garbage or d.truncated):
        reply.stdout = _banner() + "".join(
            f"{k}: {v}\n" for k, v in doc.items() if isinstance(v, str | int))
    return reply


def _monitor_read_touch(d: fl.Disk, spec: fl.FleetSpec, now: float, *, count_read: bool,
                        checked: bool = False) -> None:
    """A command reaches the platters: spin-up, idle-timer reset and awake accounting."""
    if d.rotational:
        spinning = d.spinning(now)
        extended = fl._touch(d, now, now, host=False)
        if spinning:
            d.extension_total += extended
            if extended > spec.reset_grace:
                d.resets_monitor += 1
        if count_read and not checked:
            d.reads_unchecked += 1
    else:
        fl._touch(d, now, now, host=False)
    if count_read:
        d.reads_served += 1
        d.last_served = now


def _scan(db: sqlite3.Connection, args: Args, meta: dict[str, Any], now: float,
          runtime_changes: list[tuple[str, str]]) -> Reply:
    disks = [fl.row_to_disk(r) for r in db.execute(
        "SELECT * FROM disks WHERE missing = 0 ORDER BY idx")]
    spec = fl.spec_of(meta)
    if args.scan_open:  # opens every device: resumes, probes, spins sleeping disks up
        for d in disks:
            fl.advance_disk(d, spec, now)
            d.commands += 1
            if d.suspended:
                d.opened_suspended += 1
                d.suspended = 0
                if d.block:
                    runtime_changes.append((d.block, "active"))
            _monitor_read_touch(d, spec, now, count_read=False)
        fl.save_disks(db, disks)
        fl.set_meta(db, scan_opens=int(meta.get("scan_opens", 0)) + 1)
    else:
        fl.set_meta(db, scans=int(meta.get("scans", 0)) + 1)
    devices = []
    for d in disks:
        t = d.true_type if args.scan_open else d.scan_type
        if d.member >= 0:
            info, proto = f"{d.path} [megaraid_disk_{d.member:02d}]", "SCSI"
        elif d.kind == "usb":
            info, proto = f"{d.path} [USB JMicron]", "ATA"
        elif args.scan_open and d.protocol == "ATA":
            info, proto = f"{d.path} [SAT]", "ATA"
        else:
            info, proto = d.path, "NVMe" if d.kind == "nvme" else "SCSI"
        devices.append({"name": d.path, "info_name": info, "type": t, "protocol": proto})
    if args.json:
        doc = {"json_format_version": [1, 0], "smartctl": _meta(args, 0), "devices": devices}
        return Reply(0, _dump(args, doc))
    lines = [f"{x['name']} -d {x['type']} # {x['info_name']}, {x['protocol']} device\n"
             for x in devices]
    return Reply(0, "".join(lines))


# ---------------------------------------------------------------------------- process


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    state = os.environ.get(fl.STATE_ENV)
    if not state or not os.path.exists(state):
        sys.stderr.write(f"fake smartctl: set {fl.STATE_ENV} to a simulator state file\n")
        return 1
    db = fl.connect(state)
    try:
        reply = execute(db, argv)
    finally:
        db.close()
    if reply.hang:
        while True:  # like a disk stuck in error recovery: only a kill ends it
            time.sleep(3600)
    if reply.delay:
        time.sleep(reply.delay)
    sys.stdout.write(reply.stdout)
    sys.stdout.flush()
    if reply.stderr:
        sys.stderr.write(reply.stderr)
    return reply.rc


if __name__ == "__main__":
    sys.exit(main())
