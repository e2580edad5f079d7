"""One place that turns the ``--db`` setting into a store.

``postgresql://`` or ``postgres://`` (a libpq connection URI) opens the fleet store on
PostgreSQL (the ``[postgres]`` extra); anything else is an SQLite file path. Callers
keep talking to the :class:`~maid_smart_monitor.storage.base.Store` protocol.
"""

from __future__ import annotations

from maid_smart_monitor.storage.base import Store


def is_postgres(db: str) -> bool:
    """Does ``db`` name a PostgreSQL database (a connection URI) rather than a file?"""
    return db.strip().lower().startswith(("postgresql://", "postgres://"))


def open_store(
    db: str,
    *,
    busy_timeout: float,
    readonly: bool = False,
    on_corrupt: str = "move",
    node: str | None = None,
) -> Store:
    """Open the store ``db`` names. ``busy_timeout`` bounds lock waits on both backends
    (SQLite's busy timeout, PostgreSQL's ``lock_timeout``); ``on_corrupt`` applies to
    SQLite files only (a server's data is never moved by a client); ``node`` names this
    host in a shared PostgreSQL database (default: the host name; SQLite ignores it)."""
    if is_postgres(db):
        from maid_smart_monitor.storage.postgres import PostgresStore

        return PostgresStore(db.strip(), busy_timeout=busy_timeout, readonly=readonly,
                             node=node)
    from maid_smart_monitor.storage.sqlite import SQLiteStore

    return SQLiteStore(db, busy_timeout=busy_timeout, readonly=readonly, on_corrupt=on_corrupt)
