"""The long-running loop: a full cycle every ``interval``, cheap piggy-back ticks between.

Signal handlers only put the signal on a queue (they run between bytecodes, so they
must not log or touch the database); the loop acts on it: TERM/INT stop after the
current step, HUP reloads the configuration. Cycles never overlap: the loop is one
thread and a late cycle only delays the next one.
"""

from __future__ import annotations

import logging
import queue
import signal
import time
from collections.abc import Callable
from typing import Any

from maid_smart_monitor.discovery import DiscoveryError
from maid_smart_monitor.model import CycleReport

log = logging.getLogger(__name__)


class Daemon:
    def __init__(
        self,
        monitor: Any,
        *,
        interval: float,
        sample_interval: float,
        reload: Callable[[], Any] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        max_cycles: int | None = None,
    ) -> None:
        self.monitor = monitor
        self.interval = interval
        self.sample_interval = min(sample_interval, interval)
        self.reload = reload
        self.monotonic = monotonic
        self.max_cycles = max_cycles
        # SimpleQueue: its put() is safe in a signal handler (Queue's lock is not reentrant)
        self.events: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.cycles = 0
        self.last_report: CycleReport | None = None

    def install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: Any) -> None:
            self.events.put({signal.SIGHUP: "reload"}.get(signum, "stop"))

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGHUP, handler)

    def stop(self) -> None:
        self.events.put("stop")

    def run(self) -> int:
        log.info(
            "Daemon started: full cycle every %.0f s, disk activity sampled every %.0f s",
            self.interval, self.sample_interval,
        )
        next_full = last_full = self.monotonic()
        while True:
            now = self.monotonic()
            if now >= next_full:
                started = last_full = now
                self._step(full=True)
                self.cycles += 1
                if self.max_cycles is not None and self.cycles >= self.max_cycles:
                    break
                took = self.monotonic() - started
                if took > self.interval:
                    log.warning(
                        "A cycle took %.0f s, longer than the %.0f s interval; the next one "
                        "starts now (cycles never overlap)", took, self.interval,
                    )
                next_full = started + max(self.interval, took)
            else:
                self._step(full=False)
            wait = max(0.0, min(next_full, self.monotonic() + self.sample_interval)
                       - self.monotonic())
            try:
                event = self.events.get(timeout=wait)
            except queue.Empty:
                continue
            if event == "stop":
                break
            if event == "reload" and self.reload is not None:
                try:
                    self.monitor = self.reload() or self.monitor
                except Exception as exc:
                    log.error("Reload failed, keeping the running configuration: %s", exc)
                    continue
                self._adopt_timing(getattr(self.monitor, "settings", None))
                next_full = last_full + self.interval
                log.info("Configuration reloaded: full cycle every %.0f s, disk activity "
                         "sampled every %.0f s", self.interval, self.sample_interval)
        log.info("Daemon stopping after %d cycle(s)", self.cycles)
        return 0

    def _adopt_timing(self, settings: Any) -> None:
        """A reloaded configuration may change the interval: the loop follows it."""
        if settings is None:
            return
        self.interval = float(settings.interval)
        self.sample_interval = min(float(settings.sample_interval), self.interval)

    def _step(self, *, full: bool) -> None:
        try:
            if full:
                self.last_report = self.monitor.run_monitoring_cycle()
            else:
                self.monitor.piggyback_tick()
        except DiscoveryError as exc:  # no smartctl yet, say: one line, not a traceback
            log.error("Monitoring cycle skipped: %s", exc)
        except Exception:
            # One bad cycle (a bug, a vanished disk) must not end monitoring of the rest.
            log.exception("Monitoring %s failed; continuing", "cycle" if full else "tick")
