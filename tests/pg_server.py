"""A real, throwaway PostgreSQL server for the tests (Debian's ``postgresql`` package).

``initdb`` into a fresh directory, ``pg_ctl start`` listening on a unix socket in that
directory and on 127.0.0.1 at a free port, one empty database per test, ``pg_ctl stop``
at the end. initdb refuses to run as root, so as root the server runs as ``nobody``
(``subprocess``'s ``user=``; no login shell or home needed).

Skipping: the tests skip only when no PostgreSQL server binaries are installed *and*
``CI`` is unset. Under ``CI=true`` a missing server or psycopg is a failure, so a
machine that lost its ``postgresql`` package cannot turn the suite green by skipping.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

RUN_AS = "nobody"
_names = itertools.count(1)


def bindir() -> Path | None:
    """The newest installed server's bin directory (``/usr/lib/postgresql/<v>/bin``)."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        path = shutil.which("initdb")
        return Path(path).parent if path else None

    def version(p: str) -> tuple[int, ...]:
        part = Path(p).parent.parent.name
        return tuple(int(x) for x in part.split(".") if x.isdigit())

    return Path(max(found, key=version)).parent


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None when they can."""
    if bindir() is None:
        return ("PostgreSQL server not installed (Debian: apt-get install postgresql); "
                "under CI=true this is a failure")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg not installed: pip install 'maid-smart-monitor[postgres]'"
    return None


def require() -> None:
    """Skip (developer machine) or fail (CI) when PostgreSQL cannot be started."""
    reason = unavailable()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One server process and its data directory; :meth:`stop` removes both."""

    def __init__(self) -> None:
        bd = bindir()
        if bd is None:
            raise RuntimeError("PostgreSQL server binaries not found")
        self.bin = bd
        self.root = Path(tempfile.mkdtemp(prefix="maid-pg-"))
        self.data = self.root / "data"
        self.sockdir = self.root  # unix socket paths are limited to ~100 bytes: keep short
        self.log = self.root / "server.log"
        self.port = 0
        self.started = False
        self._user: dict[str, object] = {}
        if os.geteuid() == 0:
            pw = pwd.getpwnam(RUN_AS)
            self._user = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        os.chmod(self.root, 0o700)

    def _run(self, *argv: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / argv[0]), *argv[1:]], capture_output=True, text=True,
            timeout=timeout, cwd=self.root, check=False, env={**os.environ, "LC_ALL": "C"},
            **self._user,  # type: ignore[arg-type]
        )

    def _options(self) -> str:
        return (f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1"
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                " -c max_connections=60")

    def _pg_ctl_start(self) -> subprocess.CompletedProcess[str]:
        return self._run("pg_ctl", "start", "-w", "-t", "30", "-D", str(self.data),
                         "-l", str(self.log), "-o", self._options())

    def start(self) -> PostgresServer:
        init = self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                         "-E", "UTF8", "--locale=C", "--no-sync")
        if init.returncode:
            raise RuntimeError(f"initdb failed: {init.stdout}{init.stderr}")
        last = ""
        for _ in range(5):  # a free port can be taken between probe and bind: retry
            self.port = _free_port()
            started = self._pg_ctl_start()
            if started.returncode == 0:
                self.started = True
                return self
            last = started.stdout + started.stderr + self._log_tail()
        raise RuntimeError(f"pg_ctl start failed: {last}")

    def _log_tail(self) -> str:
        try:
            return self.log.read_text()[-2000:]
        except OSError:
            return ""

    def halt(self) -> None:
        """Stop the server but keep its data (a server restart or outage, as clients
        see it: every connection dropped, new ones refused)."""
        done = self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w",
                         "-t", "30")
        if done.returncode:
            raise RuntimeError(f"pg_ctl stop failed: {done.stderr}{self._log_tail()}")

    def resume(self) -> None:
        """Start again after :meth:`halt`, on the same port and data."""
        done = self._pg_ctl_start()
        if done.returncode:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr}{self._log_tail()}")

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w",
                      "-t", "30")
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- databases and DSNs

    def dsn(self, dbname: str = "postgres", *, tcp: bool = True) -> str:
        host = "127.0.0.1" if tcp else str(self.sockdir)
        if tcp:
            return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"
        return f"postgresql://postgres@/{dbname}?host={host}&port={self.port}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its TCP DSN."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # name built above, never user input
        return self.dsn(name)


def serve() -> Iterator[PostgresServer]:
    """Body of a session fixture: a started server, stopped when the session ends."""
    require()
    server = PostgresServer()
    t0 = time.monotonic()
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    server.startup_seconds = time.monotonic() - t0  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()
