"""Prometheus metrics, built fresh from the store on every scrape.

The only module that imports ``prometheus_client`` (extra ``[web]``). A custom
collector (client_python's "custom collector" pattern) reads the fleet's latest facts
from the store at scrape time, so a disk that left the fleet leaves no stale series
and nothing is kept between scrapes except the running total of checks.

Names follow smartctl_exporter where the meaning is the same (``smartctl_device_*``,
``smartctl_device_attribute{attribute_id,attribute_name,attribute_value_type}``), so its
dashboards work; the seed's ``smart_temperature_celsius`` and ``smart_power_on_hours``
stay; ``maid_smart_*`` adds what no exporter has: power state without waking the disk,
the age of each value, what the monitor did (checks by result, deliberate spin-ups)
and the open alerts. Every per-disk series carries ``device`` (the /dev name),
``disk_id`` (WWN or model_serial: stable across renames), ``model`` and ``serial``.

One difference from smartctl_exporter: ``attribute_value_type="raw"`` is the number a
person reads (smartctl's decoded raw value: 35 for a temperature that smartctl_exporter
exports as its packed 48-bit raw value, 188979937315).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, choose_encoder
from prometheus_client.registry import CollectorRegistry
from prometheus_client.utils import floatToGoString

from maid_smart_monitor.storage.base import DiskStatus, parse_utc
from maid_smart_monitor.web import fleet

ID_LABELS = ("device", "disk_id", "model", "serial")

# smartctl_exporter names for NVMe health-log fields (same meaning, same unit).
NVME_GAUGES: tuple[tuple[str, str, str], ...] = (
    ("percentage_used", "smartctl_device_percentage_used", "Device write percentage used"),
    ("available_spare", "smartctl_device_available_spare",
     "Normalized percentage (0 to 100%) of the remaining spare capacity available"),
    ("available_spare_threshold", "smartctl_device_available_spare_threshold",
     "Available spare threshold, normalized percentage (0 to 100%)"),
    ("critical_warning", "smartctl_device_critical_warning",
     "Critical warnings for the state of the controller (NVMe bit mask)"),
    ("media_errors", "smartctl_device_media_errors",
     "Unrecovered data integrity errors detected by the controller"),
    ("num_err_log_entries", "smartctl_device_num_err_log_entries",
     "Error Information log entries over the life of the controller"),
)
SCSI_GAUGES: tuple[tuple[str, str, str], ...] = (
    ("grown_defects", "smartctl_scsi_grown_defect_list", "Device SCSI grown defect list counter"),
    ("read_uncorrected", "smartctl_read_total_uncorrected_errors",
     "Read Total Uncorrected Errors"),
    ("write_uncorrected", "smartctl_write_total_uncorrected_errors",
     "Write Total Uncorrected Errors"),
)


def _ids(st: DiskStatus) -> list[str]:
    return [st.device, st.disk_id, st.model or "", st.serial or ""]


class StoreCollector:
    """A Collector over a store: ``store_factory()`` returns the store to read (the web
    app passes its per-thread read-only connection)."""

    def __init__(
        self,
        store_factory: Callable[[], Any],
        *,
        clock: Callable[[], float] = time.time,
        stale_after: float = 7 * 86400.0,
    ) -> None:
        self.store_factory = store_factory
        self.clock = clock
        self.stale_after = stale_after
        # Checks per result, summed over cycles up to ``_last_cycle``: cycles only grow,
        # so each scrape adds the new ones instead of summing a year of cycles again.
        self._totals: dict[str, int] = {}
        self._last_cycle = 0
        self._lock = threading.Lock()

    def describe(self) -> list[Metric]:
        return []  # families depend on the data; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        store = self.store_factory()
        now = self.clock()
        statuses = store.fleet_status()
        snaps = store.latest_snapshots()
        views = fleet.views(statuses, now, self.stale_after)
        yield from self._fleet(views)
        yield from self._checks(store)
        yield from self._cycle(store)
        yield from self._per_disk(views, snaps, now)
        g = GaugeMetricFamily("maid_smart_scrape_duration_seconds",
                              "Seconds this scrape spent reading the database")
        g.add_metric([], time.perf_counter() - started)
        yield g

    # ------------------------------------------------------------------ fleet level

    def _fleet(self, views: list[fleet.DiskView]) -> Iterable[Metric]:
        states = GaugeMetricFamily("maid_smart_devices", "Disks by dashboard state",
                                   labels=["state"])
        for state, n in fleet.count_states(views).items():
            states.add_metric([state], n)
        yield states
        power = GaugeMetricFamily("maid_smart_devices_by_power_state",
                                  "Disks by power state at their last check",
                                  labels=["state"])
        for state, n in fleet.count_power(views).items():
            power.add_metric([state], n)
        yield power
        alerts = GaugeMetricFamily("maid_smart_open_alerts", "Open alerts by severity",
                                   labels=["severity"])
        alerts.add_metric(["warning"], sum(v.status.open_warning for v in views))
        alerts.add_metric(["critical"], sum(v.status.open_critical for v in views))
        yield alerts

    def _checks(self, store: Any) -> Iterable[Metric]:
        with self._lock:
            last, new = store.check_totals(self._last_cycle)
            if last < self._last_cycle:  # the database was replaced: start again
                self._totals, self._last_cycle = {}, 0
                last, new = store.check_totals(0)
            for result, n in new.items():
                self._totals[result] = self._totals.get(result, 0) + n
            self._last_cycle = last
            totals = dict(self._totals)
        c = CounterMetricFamily(
            "maid_smart_checks",
            "Checks of one disk in one cycle, by what the monitor did (read, woken, "
            "skipped-standby, skipped-idle, skipped-unmounted, skipped-suspended, error)",
            labels=["result"],
        )
        for result in sorted(totals):
            c.add_metric([result], totals[result])
        yield c

    def _cycle(self, store: Any) -> Iterable[Metric]:
        cycle = store.last_cycle()
        if cycle is None:
            return
        d = GaugeMetricFamily("maid_smart_last_cycle_duration_seconds",
                              "Duration of the newest monitoring cycle")
        d.add_metric([], cycle["duration"])
        yield d
        t = GaugeMetricFamily("maid_smart_last_cycle_timestamp_seconds",
                              "When the newest monitoring cycle finished (Unix time)")
        t.add_metric([], parse_utc(cycle["finished"]).timestamp())
        yield t

    # ------------------------------------------------------------------ per disk

    def _per_disk(
        self, views: list[fleet.DiskView], snaps: dict[str, dict[str, Any]], now: float
    ) -> Iterable[Metric]:
        def gauge(name: str, doc: str, extra: tuple[str, ...] = ()) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=[*ID_LABELS, *extra])

        info = GaugeMetricFamily(
            "smartctl_device", "Device info",
            labels=["device", "disk_id", "interface", "protocol", "model_name",
                    "serial_number", "firmware_version", "form_factor", "wwn"],
        )
        smart_status = gauge("smartctl_device_smart_status",
                             "General smart status (1 passed, 0 failed; absent: not reported)")
        exit_status = gauge("smartctl_device_smartctl_exit_status",
                            "Exit status of smartctl at the newest good reading")
        temp = gauge("smartctl_device_temperature", "Device temperature celsius",
                     ("temperature_type",))
        pos = gauge("smartctl_device_power_on_seconds", "Device power on seconds")
        cycles = gauge("smartctl_device_power_cycle_count", "Device power cycle count")
        capacity = gauge("smartctl_device_capacity_bytes", "Device capacity in bytes")
        rotation = gauge("smartctl_device_rotation_rate", "Device rotation rate")
        attr = gauge("smartctl_device_attribute", "Device attributes",
                     ("attribute_id", "attribute_name", "attribute_value_type"))
        nvme = {key: gauge(name, doc) for key, name, doc in NVME_GAUGES}
        scsi = {key: gauge(name, doc) for key, name, doc in SCSI_GAUGES}
        seed_temp = gauge("smart_temperature_celsius", "Drive temperature")
        seed_hours = gauge("smart_power_on_hours", "Power on hours")
        state = gauge("maid_smart_device_state",
                      "Dashboard state of the disk (1 for its current state)", ("state",))
        power = gauge(
            "maid_smart_device_power_state",
            "Power state at the last check, known without waking the disk (1 for the "
            "current one; idle: not used and not asked)", ("state",))
        age = gauge("maid_smart_reading_age_seconds",
                    "Seconds since the newest good reading: how old every value is")
        last_read = gauge("maid_smart_last_reading_timestamp_seconds",
                          "When the newest good reading was taken (Unix time)")
        open_alerts = gauge("maid_smart_device_open_alerts", "Open alerts of the disk",
                            ("severity",))
        wakes = CounterMetricFamily(
            "maid_smart_spinups_caused",
            "Spin-ups the monitor caused on purpose (max_staleness wakes)",
            labels=list(ID_LABELS))

        for v in views:
            st = v.status
            ids = _ids(st)
            snap = snaps.get(st.disk_id, {})
            info.add_metric(
                [st.device, st.disk_id, st.dev_type or "", st.protocol or "", st.model or "",
                 st.serial or "", st.firmware or "", snap.get("form_factor") or "",
                 st.wwn or ""], 1)
            if st.smart_passed is not None:
                smart_status.add_metric(ids, 1 if st.smart_passed else 0)
            if snap.get("exit_status") is not None:
                exit_status.add_metric(ids, snap["exit_status"])
            if st.temperature is not None:
                temp.add_metric([*ids, "current"], st.temperature)
                seed_temp.add_metric(ids, st.temperature)
            if st.power_on_hours is not None:
                pos.add_metric(ids, st.power_on_hours * 3600)
                seed_hours.add_metric(ids, st.power_on_hours)
            if st.power_cycle_count is not None:
                cycles.add_metric(ids, st.power_cycle_count)
            if st.capacity_bytes:
                capacity.add_metric(ids, st.capacity_bytes)
            if st.rotation_rate:
                rotation.add_metric(ids, st.rotation_rate)
            for a in snap.get("attributes", ()):
                for kind, key in (("value", "value"), ("worst", "worst"),
                                  ("thresh", "thresh"), ("raw", "raw_value")):
                    if a[key] is not None:
                        attr.add_metric(
                            [*ids, str(a["attribute_id"]), a["attribute_name"], kind], a[key])
            for group, families in (("nvme", nvme), ("scsi", scsi)):
                data = snap.get(group) or {}
                for key, fam in families.items():
                    if data.get(key) is not None:
                        fam.add_metric(ids, data[key])
            for s in fleet.STATES:
                state.add_metric([*ids, s], 1 if v.state == s else 0)
            for p in fleet.POWER_STATES:
                power.add_metric([*ids, p], 1 if v.power_state == p else 0)
            if v.reading_age is not None:
                age.add_metric(ids, v.reading_age)
                last_read.add_metric(ids, now - v.reading_age)
            open_alerts.add_metric([*ids, "warning"], st.open_warning)
            open_alerts.add_metric([*ids, "critical"], st.open_critical)
            wakes.add_metric(ids, st.deliberate_wakes)

        yield from (info, smart_status, exit_status, temp, pos, cycles, capacity, rotation,
                    attr, *nvme.values(), *scsi.values(), seed_temp, seed_hours, state, power,
                    age, last_read, open_alerts, wakes)


def _escape(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


def render_text(families: Iterable[Metric]) -> bytes:
    """The Prometheus text format (0.0.4) of gauge and counter families.

    The bytes ``prometheus_client.generate_latest`` writes (a test compares them), in a
    third of the time: a fleet's scrape is ~100,000 samples, and the generic encoder
    validates and escapes every label *name* of every sample, where ours are fixed
    identifiers in this module. Label values are escaped as the format requires.
    """
    out: list[str] = []
    for m in families:
        if m.type not in ("gauge", "counter"):
            raise ValueError(f"render_text handles gauges and counters, not {m.type}")
        name = m.name + "_total" if m.type == "counter" else m.name
        doc = m.documentation.replace("\\", "\\\\").replace("\n", "\\n")
        out.append(f"# HELP {name} {doc}\n# TYPE {name} {m.type}\n")
        for sample in m.samples:
            if sample.timestamp is not None or sample.name != name:
                raise ValueError(f"render_text cannot write sample {sample.name}")
            value = floatToGoString(sample.value)
            if sample.labels:
                labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(sample.labels.items()))
                out.append(f"{name}{{{labels}}} {value}\n")
            else:
                out.append(f"{name} {value}\n")
    return "".join(out).encode("utf-8")


class Exposition:
    """A registry holding only the store collector, rendered in the format the
    scraper asks for (Prometheus text or OpenMetrics).

    ``options`` are :class:`StoreCollector`'s keywords (``clock``, ``stale_after``),
    passed through so that their defaults live in one place.
    """

    def __init__(self, store_factory: Callable[[], Any], **options: Any) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = StoreCollector(store_factory, **options)
        self.registry.register(self.collector)

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept or "")
        if content_type == CONTENT_TYPE_LATEST:
            return render_text(self.registry.collect()), content_type
        return encoder(self.registry), content_type
