"""A simulated MAID fleet: N disks built from recordings of real drives, with power
states, standby timers and host activity, that accounts for everything a monitor does.

The monitor sees the fleet through the production boundary: a smartctl look-alike
(``fake_smartctl``, a real executable) and procfs/sysfs trees (``sysfs``). The state lives
in one SQLite file (WAL, busy timeout) so that many concurrent look-alike processes and
the driving test can all update it safely.

Power model (per rotational disk, standby timer ``T``): a disk spins while ``now <
last_touch + T``, where a touch is host I/O or a monitor command that reaches the
platters (a SMART read, IDENTIFY, opening a runtime-suspended disk). ``smartctl -n``
(ATA CHECK POWER MODE) is assumed not to restart the timer. Host activity comes in
sessions (continuous I/O between a start and an end), drawn per disk from a seeded
random stream, so that ``busy_fraction`` of the disks are busy at any time.

Accounting, per disk, for every command received:

* ``spinups_monitor``: a command spun the disk up (a read without ``-n`` or with an
  ignored ``-n`` on a disk in standby, any open of a runtime-suspended disk, type
  autodetection of a sleeping disk). ``spinups_host`` counts the host's own.
* ``resets_monitor``: a SMART read of a spinning disk that extended its awake time by
  more than ``reset_grace`` seconds (its last touch was longer ago than that): the read
  restarted an idle timer that the host's activity would not have restarted.
* ``awake_all`` / ``awake_host``: the measure of time the disk spins with and without the
  monitor's touches (union of ``[touch, touch + T]`` intervals, kept exactly and
  incrementally); the difference is the extra awake time the monitor caused.
* ``power_checks``, ``standby_answers``, ``reads_served``, ``wrong_type``,
  ``opened_suspended``, ``commands``.
"""

from __future__ import annotations

import json
import math
import os
import random
import sqlite3
import stat
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from maid_smart_monitor.model import DiskRef
from maid_smart_monitor.sim import sysfs as fake_sys

RECORDINGS = Path(__file__).with_name("recordings")
SIM_EPOCH = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC: fixed, so runs are reproducible
NEVER = -1e18  # "long ago": no touch yet
STATE_ENV = "MAID_SIM_STATE"

KNOBS = ("hang", "garbage", "truncated", "denied", "missing", "failed", "moves_counters",
         "check_unsupported", "latency")


@dataclass(frozen=True)
class FleetSpec:
    """The shape of a simulated fleet. Counts are absolute, fractions of ``disks``."""

    disks: int = 1000
    seed: int = 1
    nvme: int = 4
    megaraid: int = 8
    usb: int = 1
    ssd_fraction: float = 0.03  # SATA SSDs
    sas_fraction: float = 0.08  # SAS disks (-d scsi)
    unmounted_fraction: float = 0.03  # spares: no filesystem, no host I/O
    suspended: int = 4  # runtime-suspended (Linux runtime PM) rotational disks
    lvm_fraction: float = 0.10  # mounted through LVM on a partition
    md_pairs: int = 4  # md mirrors of two whole disks
    busy_fraction: float = 0.10  # share of disks doing host I/O at any time
    mean_session: float = 1800.0  # seconds of continuous host I/O per session (mean)
    min_session: float = 120.0
    standby_timer: float = 1200.0  # 20 min
    reset_grace: float = 60.0  # a read extending awake time by more counts as a reset
    read_rate: float = 40.0  # host I/Os per second in a session
    write_rate: float = 10.0
    start: float = SIM_EPOCH
    # >0: host sessions start and end on this grid (seconds from ``start``). A driver that
    # samples just after each grid point then sees everything a daemon sampling every
    # few seconds would, at a fraction of the cost (see ``sim.drive``).
    quantum: float = 0.0

    @property
    def mean_gap(self) -> float:
        b = min(max(self.busy_fraction, 1e-6), 0.999)
        return self.mean_session * (1 - b) / b


@dataclass
class Disk:
    """One simulated disk: identity, wiring, power state, activity, knobs, accounting."""

    idx: int
    kind: str  # hdd, sas, ssd, nvme, raid, usb
    path: str
    member: int  # megaraid,N; -1 otherwise
    true_type: str  # the -d type that reads it properly
    scan_type: str  # what smartctl --scan says (scsi for libata SATA, like real smartctl)
    protocol: str  # ATA, SCSI, NVMe
    block: str | None
    majmin: str | None
    rotational: int
    recording: str  # path under the recordings directory
    serial: str
    wwn_id: int
    vendor: str | None
    mounted: int
    mount_via: str  # part, lvm, md, root, none, raid
    timer: float
    suspended: int = 0
    autosuspend: int = 0  # goes back to runtime suspend when idle for a timer period
    last_touch: float = NEVER
    last_host: float = NEVER
    io_reads: float = 0.0
    io_writes: float = 0.0
    t_sim: float = 0.0
    sess_n: int = 0
    sess_start: float = 1e18
    sess_end: float = 1e18
    last_served: float = NEVER  # last SMART read served (any outcome with data)
    # knobs (see KNOBS)
    hang: int = 0
    garbage: int = 0
    truncated: int = 0
    denied: int = 0
    missing: int = 0
    failed: int = 0
    moves_counters: int = 0
    check_unsupported: int = 0
    latency: float = 0.0
    # accounting
    commands: int = 0
    power_checks: int = 0
    standby_answers: int = 0
    reads_served: int = 0
    reads_unchecked: int = 0  # reads served without a working -n
    spinups_monitor: int = 0
    spinups_host: int = 0
    resets_monitor: int = 0
    extension_total: float = 0.0  # seconds of awake time the monitor's reads extended
    opened_suspended: int = 0
    wrong_type: int = 0
    awake_all: float = 0.0
    awake_host: float = 0.0

    @property
    def key(self) -> str:
        return DiskRef(self.path, self.true_type).key

    def ref(self, dev_type: str | None = None) -> DiskRef:
        """How a monitor that got the type right addresses this disk."""
        return DiskRef(self.path, dev_type or self.true_type, self.block,
                       bool(self.rotational) if self.block else None)

    def spinning(self, t: float) -> bool:
        if not self.rotational:
            return True
        return not self.suspended and t < self.last_touch + self.timer

    def power_state(self, t: float) -> str:
        if self.suspended:
            return "suspended"
        if not self.rotational:
            return "active"
        if not self.spinning(t):
            return "standby"
        return "active" if t - self.last_touch < 60 else "idle"

    def extra_awake(self, now: float) -> float:
        """Seconds of spinning up to ``now`` that only the monitor's touches caused."""
        tail_all = max(0.0, self.last_touch + self.timer - now)
        tail_host = max(0.0, self.last_host + self.timer - now)
        return max(0.0, (self.awake_all - tail_all) - (self.awake_host - tail_host))


_DISK_FIELDS = [f.name for f in fields(Disk)]


def _column_sql() -> str:
    cols = []
    for f in fields(Disk):
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "TEXT")
        base = kind.split("|")[0].strip()
        sql = {"int": "INTEGER", "float": "REAL", "str": "TEXT"}.get(base, "TEXT")
        cols.append(f"{f.name} {sql}{' PRIMARY KEY' if f.name == 'idx' else ''}")
    return ", ".join(cols)


# ---------------------------------------------------------------------------- activity


def _session(spec: FleetSpec, idx: int, n: int, after: float) -> tuple[float, float]:
    """The n-th host session of disk idx, starting after ``after``; deterministic."""
    start, end = _raw_session(spec, idx, n, after)
    q = spec.quantum
    if q > 0:
        start = spec.start + math.floor((start - spec.start) / q) * q
        start = max(start, spec.start + math.ceil((after - spec.start) / q) * q) if n else start
        end = max(spec.start + math.ceil((end - spec.start) / q) * q, start + q)
    return start, end


def _raw_session(spec: FleetSpec, idx: int, n: int, after: float) -> tuple[float, float]:
    rng = random.Random(f"{spec.seed}:{idx}:{n}")
    length = max(spec.min_session, rng.expovariate(1.0 / spec.mean_session))
    if n == 0:
        if rng.random() < spec.busy_fraction:  # busy when the simulation starts
            start = after - rng.random() * length
            return start, max(start + length, after + 1.0)
        start = after + rng.expovariate(1.0 / spec.mean_gap)
        return start, start + length
    start = after + rng.expovariate(1.0 / spec.mean_gap)
    return start, start + length


def _touch(d: Disk, a: float, b: float, host: bool) -> float:
    """Disk activity over [a, b]. Updates spin-up and awake accounting; returns how much
    the touch extended the disk's awake time."""
    if not d.rotational:
        if host:
            d.last_host = max(d.last_host, b)
        d.last_touch = max(d.last_touch, b)
        return 0.0
    T = d.timer
    if a >= d.last_touch + T:
        if host:
            d.spinups_host += 1
        else:
            d.spinups_monitor += 1
    grow = max(0.0, (b + T) - max(d.last_touch + T, a))
    d.awake_all += grow
    d.last_touch = max(d.last_touch, b)
    if host:
        grow_h = (b + T) - max(d.last_host + T, a)
        if grow_h > 0:
            d.awake_host += grow_h
        d.last_host = max(d.last_host, b)
    return grow


def advance_disk(d: Disk, spec: FleetSpec, t: float) -> bool:
    """Run disk d's host activity up to time t. Returns whether its runtime PM state
    changed (the sysfs file must be rewritten)."""
    changed = False
    while d.t_sim < t:
        if d.autosuspend and not d.suspended and d.rotational and \
                d.last_touch + d.timer <= min(t, d.sess_start):
            d.suspended = 1
            changed = True
        if d.sess_start >= t:
            d.t_sim = t
            break
        a, b = max(d.t_sim, d.sess_start), min(t, d.sess_end)
        if b > a:
            if d.suspended:  # host I/O resumes a runtime-suspended disk
                d.suspended = 0
                changed = True
            _touch(d, a, b, host=True)
            d.io_reads += max(1.0, spec.read_rate * (b - a))
            d.io_writes += max(1.0, spec.write_rate * (b - a))
        if d.sess_end <= t:
            d.t_sim = d.sess_end
            d.sess_n += 1
            d.sess_start, d.sess_end = _session(spec, d.idx, d.sess_n, d.sess_end)
        else:
            d.t_sim = t
            break
    return changed


# ---------------------------------------------------------------------------- building


def _sd_name(i: int) -> str:
    """0 -> sda, 25 -> sdz, 26 -> sdaa ... as the kernel names SCSI disks."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(ord("a") + r) + s
    return "sd" + s


def _load(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _templates(recordings: Path) -> dict[str, list[str]]:
    """Recordings usable as each kind of disk: a real read with an identity."""
    kinds: dict[str, list[str]] = {k: [] for k in ("hdd", "ssd", "sas", "nvme", "raid", "usb")}
    for path in sorted(recordings.glob("*/*.json")):
        rel = str(path.relative_to(recordings))
        doc = _load(path)
        if not doc or not doc.get("serial_number") or not doc.get("model_name"):
            continue
        dev = doc.get("device") or {}
        rate = doc.get("rotation_rate")
        group = rel.split("/", 1)[0]
        if group == "ata" and dev.get("type") == "sat" and "ata_smart_attributes" in doc \
                and (doc.get("smart_status") or {}).get("passed") is True:
            if isinstance(rate, int) and rate > 0:
                kinds["hdd"].append(rel)
            elif rate == 0:
                kinds["ssd"].append(rel)
        elif group == "scsi" and dev.get("protocol") == "SCSI" and isinstance(rate, int) \
                and rate > 0 and "smart_status" in doc:
            kinds["sas"].append(rel)
        elif group == "nvme" and str(dev.get("name", "")).startswith("/dev/nvme") \
                and "nvme_smart_health_information_log" in doc:
            kinds["nvme"].append(rel)
        elif group == "raid" and str(dev.get("name", "")).startswith("/dev/bus/") \
                and isinstance(rate, int) \
                and rate > 0:  # spinning RAID members: the ones a wrong -n can wake
            kinds["raid"].append(rel)
        elif group == "sat-usb":
            kinds["usb"].append(rel)
    missing = [k for k, v in kinds.items() if not v]
    if missing:
        raise FileNotFoundError(f"no usable recordings for {missing} under {recordings}")
    return kinds


def build_disks(spec: FleetSpec, recordings: Path = RECORDINGS) -> list[Disk]:
    rng = random.Random(spec.seed)
    tpl = _templates(recordings)
    n = spec.disks
    n_nvme, n_raid, n_usb = spec.nvme, spec.megaraid, spec.usb
    n_sd = n - n_nvme - n_raid - n_usb
    if n_sd < 1:
        raise ValueError("fleet too small for its NVMe/megaraid/USB counts")
    n_ssd = round(n * spec.ssd_fraction)
    n_sas = round(n * spec.sas_fraction)
    n_hdd = n_sd - n_ssd - n_sas
    sd_kinds = ["hdd"] * n_hdd + ["ssd"] * n_ssd + ["sas"] * n_sas
    rng.shuffle(sd_kinds)
    kinds = ["nvme"] * n_nvme + ["raid"] * n_raid + sd_kinds + ["usb"] * n_usb
    disks: list[Disk] = []
    sd_i = nvme_i = raid_i = 0
    ext_minor = 0
    for idx, kind in enumerate(kinds):
        recording = rng.choice(tpl[kind])
        serial = f"SIM{spec.seed:02d}{idx:05d}{rng.randrange(16**4):04X}"
        rotational = int(kind in ("hdd", "sas", "raid", "usb"))
        common: dict[str, Any] = dict(
            idx=idx, kind=kind, recording=recording, serial=serial,
            wwn_id=0x10000000 + spec.seed * 0x100000 + idx, rotational=rotational,
            timer=spec.standby_timer, t_sim=spec.start,
        )
        if kind == "nvme":
            path, block = f"/dev/nvme{nvme_i}", f"nvme{nvme_i}n1"
            majmin = f"259:{ext_minor}"
            ext_minor += 2
            nvme_i += 1
            disks.append(Disk(path=path, member=-1, true_type="nvme", scan_type="nvme",
                              protocol="NVMe", block=block, majmin=majmin, vendor=None,
                              mounted=1, mount_via="root" if idx == 0 else "part", **common))
        elif kind == "raid":
            doc = _load(recordings / recording) or {}
            protocol = str((doc.get("device") or {}).get("protocol") or "SCSI")
            member = raid_i
            raid_i += 1
            # smartctl wraps an ATA member in SAT by itself (INQUIRY says "ATA"): the
            # recording of "-d megaraid,14" reports type "sat+megaraid,14"
            true_type = f"megaraid,{member}"
            rate = doc.get("rotation_rate")
            common["rotational"] = int(not (isinstance(rate, int) and rate == 0))
            disks.append(Disk(path="/dev/bus/0", member=member, true_type=true_type,
                              scan_type=f"megaraid,{member}", protocol=protocol, block=None,
                              majmin=None, vendor=None, mounted=0, mount_via="raid",
                              **common))
        else:
            name = _sd_name(sd_i)
            if sd_i < 256:
                majors = [8, 65, 66, 67, 68, 69, 70, 71, 128, 129, 130, 131, 132, 133, 134, 135]
                majmin = f"{majors[sd_i // 16]}:{(sd_i % 16) * 16}"
            else:
                majmin = f"259:{ext_minor}"
                ext_minor += 2
            sd_i += 1
            if kind == "usb":
                true_type, scan_type, protocol, vendor = ("usbjmicron", "usbjmicron", "ATA",
                                                          "JMicron")
            elif kind == "sas":
                doc = _load(recordings / recording) or {}
                vendor = str(doc.get("scsi_vendor") or doc.get("vendor") or "SEAGATE")[:8]
                true_type, scan_type, protocol = "scsi", "scsi", "SCSI"
            else:
                true_type, scan_type, protocol, vendor = "sat", "scsi", "ATA", "ATA"
            disks.append(Disk(path=f"/dev/{name}", member=-1, true_type=true_type,
                              scan_type=scan_type, protocol=protocol, block=name,
                              majmin=majmin, vendor=vendor, mounted=1, mount_via="part",
                              **common))
    _wire(disks, spec, rng)
    for d in disks:
        if (d.mounted or d.kind == "raid") and not d.suspended:
            d.sess_start, d.sess_end = _session(spec, d.idx, 0, spec.start)
        if d.sess_start < spec.start:  # busy at the start: it has been spinning since
            d.last_touch = d.last_host = spec.start
    return disks


def _wire(disks: list[Disk], spec: FleetSpec, rng: random.Random) -> None:
    """Choose unmounted spares, suspended disks, LVM and md members among SATA HDDs."""
    hdds = [d for d in disks if d.kind == "hdd"]
    rng.shuffle(hdds)
    n_unmounted = round(spec.disks * spec.unmounted_fraction)
    n_lvm = round(spec.disks * spec.lvm_fraction)
    pos = 0
    for d in hdds[pos:pos + n_unmounted]:
        d.mounted, d.mount_via = 0, "none"
    pos += n_unmounted
    for d in hdds[pos:pos + spec.suspended]:
        d.suspended, d.autosuspend = 1, 1
    pos += spec.suspended
    for d in hdds[pos:pos + 2 * spec.md_pairs]:
        d.mount_via = "md"
    pos += 2 * spec.md_pairs
    for d in hdds[pos:pos + n_lvm]:
        d.mount_via = "lvm"


def layout(disks: Sequence[Disk]) -> tuple[list[fake_sys.BlockSpec], list[fake_sys.HolderSpec],
                                            list[fake_sys.MountSpec]]:
    """The kernel's view of the fleet: block devices, dm/md holders, mount table."""
    blocks, holders = [], []
    mounts = [fake_sys.MountSpec("proc", "/proc", "proc", "0:21"),
              fake_sys.MountSpec("sysfs", "/sys", "sysfs", "0:22")]
    dm_i = md_i = 0
    md_pending: list[Disk] = []
    for d in disks:
        if not d.block or not d.majmin:
            continue
        major, minor = d.majmin.split(":")
        psep = "p" if d.block[-1].isdigit() else ""
        part = fake_sys.Partition(f"{d.block}{psep}1", f"{major}:{int(minor) + 1}")
        has_part = d.mount_via in ("part", "lvm", "root", "none")
        status = "suspended" if d.suspended else "active"
        blocks.append(fake_sys.BlockSpec(
            d.block, d.majmin, bool(d.rotational), d.vendor, status,
            (part,) if has_part else ()))
        if d.mount_via == "root":
            mounts.append(fake_sys.MountSpec("/dev/root", "/", "ext4", part.majmin))
        elif d.mount_via == "part" and d.mounted:
            mounts.append(fake_sys.MountSpec(f"/dev/{part.name}", f"/srv/disk{d.idx:04d}",
                                             "xfs", part.majmin))
        elif d.mount_via == "lvm":
            name = f"vg{dm_i}-data"
            majmin = f"253:{dm_i}"
            holders.append(fake_sys.HolderSpec(f"dm-{dm_i}", majmin, (part.name,), name))
            mounts.append(fake_sys.MountSpec(f"/dev/mapper/{name}", f"/srv/lvm{dm_i:03d}",
                                             "xfs", majmin))
            dm_i += 1
        elif d.mount_via == "md":
            md_pending.append(d)
            if len(md_pending) == 2:
                majmin = f"9:{md_i}"
                holders.append(fake_sys.HolderSpec(
                    f"md{md_i}", majmin, tuple(x.block for x in md_pending if x.block)))
                mounts.append(fake_sys.MountSpec(f"/dev/md{md_i}", f"/srv/md{md_i}", "xfs",
                                                 majmin))
                md_i += 1
                md_pending = []
    mounts.append(fake_sys.MountSpec("tmpfs", "/run", "tmpfs", "0:25"))
    return blocks, holders, mounts


# ---------------------------------------------------------------------------- state store


def connect(path: str | os.PathLike[str], timeout: float = 60.0) -> sqlite3.Connection:
    db = sqlite3.connect(os.fspath(path), timeout=timeout, isolation_level=None,
                         check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE: one writer at a time across processes; waits on the busy timeout."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def row_to_disk(row: sqlite3.Row) -> Disk:
    return Disk(*row)  # the table's columns are Disk's fields, in order (SELECT *)


_UPDATE_SQL = (f"UPDATE disks SET {', '.join(f'{c}=?' for c in _DISK_FIELDS[1:])} "
               "WHERE idx=?")


def save_disks(db: sqlite3.Connection, disks: Sequence[Disk]) -> None:
    rows = []
    for d in disks:
        values = list(vars(d).values())  # field order; idx first
        values.append(values.pop(0))
        rows.append(values)
    db.executemany(_UPDATE_SQL, rows)


def get_meta(db: sqlite3.Connection) -> dict[str, Any]:
    """Everything but the (large, immutable) layout, which ``tree_of`` loads once."""
    return {r["key"]: json.loads(r["value"])
            for r in db.execute("SELECT key, value FROM meta WHERE key != 'layout'")}


def set_meta(db: sqlite3.Connection, **values: Any) -> None:
    db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                   [(k, json.dumps(v)) for k, v in values.items()])


def sim_now(meta: dict[str, Any]) -> float:
    if meta.get("clock") == "real":
        return time.time()
    return float(meta["now"])


def spec_of(meta: dict[str, Any]) -> FleetSpec:
    return FleetSpec(**meta["spec"])


_TREES: dict[str, fake_sys.Tree] = {}


def tree_of(db: sqlite3.Connection, meta: dict[str, Any]) -> fake_sys.Tree:
    """The fleet's kernel layout (fixed at creation; cached per process)."""
    root = str(meta["root"])
    tree = _TREES.get(root)
    if tree is not None:
        return tree
    row = db.execute("SELECT value FROM meta WHERE key='layout'").fetchone()
    lay = json.loads(row["value"])
    blocks = [fake_sys.BlockSpec(b["name"], b["majmin"], b["rotational"], b["vendor"],
                                 b["runtime_status"],
                                 tuple(fake_sys.Partition(**p) for p in b["partitions"]))
              for b in lay["blocks"]]
    holders = [fake_sys.HolderSpec(h["name"], h["majmin"], tuple(h["slaves"]), h["dm_name"])
               for h in lay["holders"]]
    mounts = [fake_sys.MountSpec(**m) for m in lay["mounts"]]
    tree = fake_sys.Tree(Path(root), blocks, holders, mounts)
    _TREES[root] = tree
    return tree


_LINES: dict[str, tuple[dict[str, tuple[int, int]], dict[str, str]]] = {}


def write_diskstats(db: sqlite3.Connection, meta: dict[str, Any]) -> None:
    """Rewrite {procfs}/diskstats from the state; lines of unchanged disks are reused
    (formatting 2,000 lines per simulated step would dominate a simulated week)."""
    tree = tree_of(db, meta)
    io = {r["block"]: (int(r["io_reads"]), int(r["io_writes"]))
          for r in db.execute("SELECT block, io_reads, io_writes FROM disks "
                              "WHERE block IS NOT NULL")}
    root = str(meta["root"])
    cached_io, lines = _LINES.get(root, ({}, {}))
    for b in tree.blocks:
        counters = io.get(b.name, (0, 0))
        if cached_io.get(b.name) != counters or b.name not in lines:
            lines[b.name] = fake_sys.diskstats_line(b.majmin, b.name, *counters)
            for p in b.partitions:
                lines[p.name] = fake_sys.diskstats_line(p.majmin, p.name, *counters)
    owner = {p.name: b.name for b in tree.blocks for p in b.partitions}
    for h in tree.holders:
        r = w = 0
        for slave in h.slaves:
            sr, sw = io.get(owner.get(slave, slave), (0, 0))
            r, w = r + sr, w + sw
        lines[h.name] = fake_sys.diskstats_line(h.majmin, h.name, r, w)
    _LINES[root] = (io, lines)
    fake_sys.atomic_write(Path(tree.procfs) / "diskstats", "\n".join(lines.values()) + "\n")


# ---------------------------------------------------------------------------- the driver


@dataclass
class Totals:
    """Fleet-wide sums of the per-disk accounting."""

    disks: int = 0
    commands: int = 0
    power_checks: int = 0
    standby_answers: int = 0
    reads_served: int = 0
    reads_unchecked: int = 0
    spinups_monitor: int = 0
    spinups_host: int = 0
    resets_monitor: int = 0
    extension_total: float = 0.0
    opened_suspended: int = 0
    wrong_type: int = 0
    extra_awake: float = 0.0  # seconds
    scans: int = 0
    scan_opens: int = 0
    per_disk: dict[str, dict[str, float]] = field(default_factory=dict)


class Fleet:
    """Creates, drives and inspects a simulated fleet (the test's side of the boundary)."""

    def __init__(self, state_path: str | os.PathLike[str]) -> None:
        self.state_path = os.fspath(state_path)
        self.db = connect(self.state_path)
        meta = get_meta(self.db)
        self.spec = spec_of(meta)
        self.root = Path(meta["root"])
        self._meta = meta
        self._now = sim_now(meta)

    # --- creation

    @classmethod
    def create(
        cls,
        directory: str | os.PathLike[str],
        spec: FleetSpec | None = None,
        *,
        recordings: str | os.PathLike[str] | None = None,
        clock: str = "manual",
    ) -> Fleet:
        """Build the fleet in ``directory``: state.sqlite, the proc/sys trees and a
        ``smartctl`` wrapper script that runs the look-alike against this state."""
        spec = spec or FleetSpec()
        root = Path(directory).resolve()
        root.mkdir(parents=True, exist_ok=True)
        rec = Path(recordings) if recordings else RECORDINGS
        disks = build_disks(spec, rec)
        state = root / "state.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{state}{suffix}").unlink(missing_ok=True)
        db = connect(state)
        with transaction(db):
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            db.execute(f"CREATE TABLE disks ({_column_sql()})")
            db.execute("CREATE INDEX disks_path ON disks (path, member)")
            db.execute("CREATE INDEX disks_sess ON disks (sess_start)")
            db.executemany(
                f"INSERT INTO disks ({', '.join(_DISK_FIELDS)}) "
                f"VALUES ({', '.join('?' for _ in _DISK_FIELDS)})",
                [tuple(getattr(d, c) for c in _DISK_FIELDS) for d in disks],
            )
            blocks, holders, mounts = layout(disks)
            set_meta(db, spec=asdict(spec), now=spec.start, clock=clock, root=str(root),
                     recordings=str(rec.resolve()), scans=0, scan_opens=0,
                     layout={"blocks": [asdict(b) for b in blocks],
                             "holders": [asdict(h) for h in holders],
                             "mounts": [asdict(m) for m in mounts]})
        _TREES.pop(str(root), None)
        _LINES.pop(str(root), None)
        tree = tree_of(db, get_meta(db))
        io = {d.block: (int(d.io_reads), int(d.io_writes)) for d in disks if d.block}
        fake_sys.write_tree(tree, io)
        db.close()
        fleet = cls(state)
        fleet.write_wrapper()
        return fleet

    # --- boundary paths

    @property
    def procfs(self) -> str:
        return str(self.root / "proc")

    @property
    def sysfs(self) -> str:
        return str(self.root / "sys")

    @property
    def smartctl(self) -> str:
        """The look-alike, as a path to pass as ``--smartctl``."""
        return str(self.root / "smartctl")

    def env(self) -> dict[str, str]:
        return {STATE_ENV: self.state_path}

    def write_wrapper(self) -> str:
        """A ``smartctl`` script: a real executable that any process can run."""
        path = Path(self.smartctl)
        src = Path(__file__).resolve().parents[2]
        path.write_text(
            "#!/bin/sh\n"
            f"export {STATE_ENV}=\"${{{STATE_ENV}:-{self.state_path}}}\"\n"
            f"export PYTHONPATH=\"{src}${{PYTHONPATH:+:$PYTHONPATH}}\"\n"
            f"exec \"{sys.executable}\" -S -m maid_smart_monitor.sim.fake_smartctl \"$@\"\n"
        )
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return str(path)

    # --- the clock

    def now(self) -> float:
        """Simulated time (epoch seconds): pass ``fleet.now`` as the monitor's clock."""
        if self._meta.get("clock") == "real":
            return time.time()
        return self._now

    def advance(self, seconds: float) -> None:
        self.advance_to(self.now() + seconds)

    def advance_to(self, t: float) -> None:
        """Move the clock to t: host sessions run, counters move, the trees follow."""
        changed: list[Disk] = []
        with transaction(self.db):
            meta = get_meta(self.db)
            if meta.get("clock") != "real" and t < float(meta["now"]):
                raise ValueError("the simulated clock only moves forward")
            rows = self.db.execute(
                "SELECT * FROM disks WHERE sess_start <= ? OR (autosuspend = 1 AND suspended = 0)",
                (t,),
            ).fetchall()
            disks = [row_to_disk(r) for r in rows]
            for d in disks:
                if advance_disk(d, self.spec, t):
                    changed.append(d)
            save_disks(self.db, disks)
            if meta.get("clock") != "real":
                set_meta(self.db, now=t)
            meta["now"] = t
            self._meta = meta
            write_diskstats(self.db, meta)
        for d in changed:
            if d.block:
                fake_sys.write_runtime_status(self.sysfs, d.block,
                                              "suspended" if d.suspended else "active")
        self._now = t

    # --- inspection and knobs

    def disks(self) -> list[Disk]:
        return [row_to_disk(r) for r in self.db.execute("SELECT * FROM disks ORDER BY idx")]

    def disk(self, which: str | int) -> Disk:
        """By index, path (``/dev/sda``), key (``/dev/bus/0:megaraid,3``) or block name."""
        for d in self.disks():
            if which in (d.idx, d.path, d.key, d.block) or (
                    isinstance(which, str) and d.member >= 0
                    and which == f"{d.path}:megaraid,{d.member}"):
                return d
        raise KeyError(which)

    def refs(self) -> list[DiskRef]:
        return [d.ref() for d in self.disks()]

    def set_knobs(self, which: str | int, **knobs: float) -> Disk:
        unknown = set(knobs) - set(KNOBS) - {"suspended", "autosuspend", "timer", "mounted"}
        if unknown:
            raise ValueError(f"unknown knobs {sorted(unknown)}; known: {KNOBS}")
        d = self.disk(which)
        with transaction(self.db):
            self.db.execute(
                f"UPDATE disks SET {', '.join(f'{k}=?' for k in knobs)} WHERE idx=?",
                (*knobs.values(), d.idx))
        if "suspended" in knobs and d.block:
            fake_sys.write_runtime_status(self.sysfs, d.block,
                                          "suspended" if knobs["suspended"] else "active")
        return self.disk(d.idx)

    def power_states(self) -> dict[str, int]:
        t = self.now()
        out: dict[str, int] = {}
        for d in self.disks():
            s = d.power_state(t)
            out[s] = out.get(s, 0) + 1
        return out

    def totals(self) -> Totals:
        t = self.now()
        tot = Totals(scans=int(self._meta_value("scans")),
                     scan_opens=int(self._meta_value("scan_opens")))
        sums = ("commands", "power_checks", "standby_answers", "reads_served",
                "reads_unchecked", "spinups_monitor", "spinups_host", "resets_monitor",
                "extension_total", "opened_suspended", "wrong_type")
        for d in self.disks():
            tot.disks += 1
            for name in sums:
                setattr(tot, name, getattr(tot, name) + getattr(d, name))
            extra = d.extra_awake(t)
            tot.extra_awake += extra
            if any(getattr(d, n) for n in sums if n != "spinups_host") or extra:
                tot.per_disk[d.key] = {n: getattr(d, n) for n in sums} | {"extra_awake": extra}
        return tot

    def freshness(self, window: float) -> tuple[int, int]:
        """(disks with host I/O in the last ``window``, those of them whose last reading
        is within ``window`` of now or of their latest host I/O).

        Only disks with I/O counters of their own count: a RAID member behind a
        controller shows no host activity to piggy-back on, by design it is not read.
        """
        t = self.now()
        row = self.db.execute(
            "SELECT count(*) AS active, coalesce(sum(last_served >= ? OR "
            "last_served >= last_host - ?), 0) AS fresh FROM disks "
            "WHERE last_host >= ? AND block IS NOT NULL",
            (t - window, window, t - window)).fetchone()
        return int(row["active"]), int(row["fresh"])

    def stale_active(self, window: float) -> list[Disk]:
        """The disks ``freshness`` counts as active but not fresh."""
        t = self.now()
        return [row_to_disk(r) for r in self.db.execute(
            "SELECT * FROM disks WHERE last_host >= ? AND block IS NOT NULL "
            "AND NOT (last_served >= ? OR last_served >= last_host - ?)",
            (t - window, t - window, window))]

    def _meta_value(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row["value"]) if row else None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
