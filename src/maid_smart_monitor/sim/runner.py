"""``SimRunner``: the Runner protocol served in-process by the smartctl look-alike.

For simulated weeks over 1,000 disks, where starting a process per command would
dominate. It calls ``fake_smartctl.execute``, the very code the look-alike process runs,
against the same state file, so the in-process and process-boundary simulators cannot
drift apart.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Sequence

from maid_smart_monitor.sim import fleet as fl
from maid_smart_monitor.sim.fake_smartctl import execute
from maid_smart_monitor.smartctl.runner import DEFAULT_TIMEOUT, RunResult


class SimRunner:
    """Runs smartctl argv against a fleet state file, in this process, thread-safely.

    ``real_time``: a hung command really blocks for its timeout (as a killed process
    would), and a disk's ``latency`` knob really sleeps. Turn it off in simulated-time
    runs, where a hang is then reported as a timeout at once.
    """

    def __init__(self, state_path: str | os.PathLike[str], *, real_time: bool = True) -> None:
        self.state_path = os.fspath(state_path)
        self.real_time = real_time
        self._local = threading.local()
        self.calls = 0
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = fl.connect(self.state_path)
            self._local.db = db
        return db

    def run(self, argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> RunResult:
        args = tuple(argv)
        start = time.monotonic()
        with self._lock:
            self.calls += 1
        reply = execute(self._db(), list(args[1:]))
        if reply.hang or (reply.delay and reply.delay >= timeout):
            if self.real_time:
                time.sleep(timeout)
            return RunResult(args, None, "", "", time.monotonic() - start, timed_out=True)
        if reply.delay and self.real_time:
            time.sleep(reply.delay)
        return RunResult(args, reply.rc, reply.stdout, reply.stderr, time.monotonic() - start)
