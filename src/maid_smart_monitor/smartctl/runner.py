"""The one primitive that talks to disks: run a smartctl argv, get bytes back.

Everything that touches a device goes through ``Runner.run``; tests and ``--demo``
swap the smartctl *binary* (the simulator is a real executable), not this code.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

DEFAULT_TIMEOUT = 60.0
KILL_GRACE = 5.0  # seconds to collect output after the kill before abandoning the process


@dataclass(frozen=True)
class RunResult:
    """One finished (or abandoned) smartctl process."""

    argv: tuple[str, ...]
    returncode: int | None  # None: it did not run to completion (timeout, not found)
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    not_found: bool = False
    permission_denied: bool = False


class Runner(Protocol):
    def run(self, argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> RunResult: ...


class SubprocessRunner:
    """Runs smartctl as a child process: argv list (no shell), hard timeout, killed on expiry."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = env

    def run(self, argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT) -> RunResult:
        args = tuple(argv)
        start = time.monotonic()
        env = dict(os.environ, **self.env) if self.env else None
        env = env or dict(os.environ)
        env.setdefault("LC_ALL", "C")
        try:
            proc = subprocess.Popen(
                args,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                errors="replace",
                env=env,
                start_new_session=True,  # so a timeout kills smartctl and anything it forked
            )
        except FileNotFoundError:
            return RunResult(args, None, "", f"{args[0]}: not found", 0.0, not_found=True)
        except PermissionError as exc:
            return RunResult(args, None, "", f"{args[0]}: {exc}", 0.0, permission_denied=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            try:
                out, err = proc.communicate(timeout=KILL_GRACE)
            except subprocess.TimeoutExpired as exc:
                # A child stuck in an uninterruptible SG_IO wait, or a grandchild that left
                # the session still holding the pipe: give up on it so the cycle can end.
                out, err = _text(exc.output), _text(exc.stderr)
                _abandon(proc)
            return RunResult(
                args, None, out, err, time.monotonic() - start, timed_out=True
            )
        return RunResult(args, proc.returncode, out, err, time.monotonic() - start)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, 9)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _text(data: bytes | str | None) -> str:
    """TimeoutExpired carries the raw bytes read so far, even for a text-mode Popen."""
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


def _abandon(proc: subprocess.Popen[str]) -> None:
    """Close our pipe ends and reap the killed process in the background (no zombie)."""
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
