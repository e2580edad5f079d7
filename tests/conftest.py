"""Shared fixtures: recorded real smartctl outputs and parsed records from them."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from maid_smart_monitor.model import DiskRef, SmartRecord
from maid_smart_monitor.smartctl.parse import parse_output

FIXTURES = Path(__file__).parent / "fixtures" / "smartctl"
SEED = Path(__file__).resolve().parents[2] / "shared" / "seed"
SEED_QUERIES = Path(__file__).parent / "data" / "seed_queries.sql"


def recording(relpath: str) -> tuple[str, dict]:
    text = (FIXTURES / relpath).read_text()
    return text, json.loads(text)


def record_from(relpath: str, path: str | None = None, dev_type: str | None = None) -> SmartRecord:
    """Parse a real recording as if smartctl had just printed it for ``path``."""
    text, doc = recording(relpath)
    device = doc.get("device", {})
    ref = DiskRef(path or device.get("name", "/dev/sdz"), dev_type or device.get("type", "sat"))
    return parse_output(text, doc.get("smartctl", {}).get("exit_status", 0), ref)


@pytest.fixture
def db_path(tmp_path) -> str:
    return str(tmp_path / "maid_smart_data.db")


@contextlib.contextmanager
def locked_by_another_process(db: str) -> Iterator[None]:
    """Another process holds an exclusive lock on the SQLite file ``db`` meanwhile."""
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sqlite3, sys
            c = sqlite3.connect({db!r}, isolation_level=None)
            c.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(10)
