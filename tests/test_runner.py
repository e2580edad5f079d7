"""SubprocessRunner against real stand-in processes (no mocks)."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from maid_smart_monitor.smartctl.runner import SubprocessRunner


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "smartctl"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_timeout_returns_even_when_a_grandchild_keeps_the_pipe_open(tmp_path: Path) -> None:
    """A grandchild in its own session escapes killpg and holds stdout: run() must not hang."""
    pidfile = tmp_path / "grandchild.pid"
    argv0 = _script(
        tmp_path,
        f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 30' &\nsleep 30\n",
    )
    start = time.monotonic()
    try:
        result = SubprocessRunner().run([argv0], timeout=1)
        elapsed = time.monotonic() - start
        assert result.timed_out and result.returncode is None
        assert elapsed < 10, elapsed
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), 9)


def test_plain_timeout_keeps_partial_output(tmp_path: Path) -> None:
    """Without a pipe-holding grandchild, what smartctl printed before the kill is kept."""
    argv0 = _script(tmp_path, "echo partial\nexec sleep 30\n")
    result = SubprocessRunner().run([argv0], timeout=0.5)
    assert result.timed_out and result.stdout == "partial\n"
