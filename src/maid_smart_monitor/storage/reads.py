"""Reads both stores run as the same SQL, written once.

The SQLite and PostgreSQL stores keep the same tables and columns; for these queries
they differ only in the parameter placeholder (``?`` / ``%s``) and in how a query is
run (each store's ``_query`` and ``_scalar``: locking, error translation, reconnect).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from maid_smart_monitor.model import Alert
from maid_smart_monitor.storage import rows


class SharedReads:
    """Mixin: alert lookups and disk-name lookups on a store that provides
    ``_PH`` (its placeholder), ``_query`` and ``_scalar``."""

    _PH = "?"

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def open_alerts(self, disk_id: str | None = None) -> list[Alert]:
        if disk_id is None:
            found = self._query("SELECT * FROM health_alerts WHERE resolved = 0 ORDER BY id")
        else:
            found = self._query(
                "SELECT * FROM health_alerts WHERE resolved = 0"
                f" AND disk_id = {self._PH} ORDER BY id",
                (disk_id,),
            )
        return [rows.alert(r) for r in found]

    def get_alert(self, alert_id: int) -> Alert | None:
        found = self._query(f"SELECT * FROM health_alerts WHERE id = {self._PH}", (alert_id,))
        return rows.alert(found[0]) if found else None

    def list_alerts(
        self,
        *,
        state: str = "open",
        limit: int = 100,
        offset: int = 0,
        disk_id: str | None = None,
    ) -> list[Alert]:
        ph = self._PH
        where = rows.ALERT_WHERE[state]
        params: list[Any] = []
        if disk_id is not None:
            where += f" AND disk_id = {ph}"
            params.append(disk_id)
        found = self._query(
            f"SELECT * FROM health_alerts WHERE {where} ORDER BY id DESC LIMIT {ph} OFFSET {ph}",
            (*params, limit, offset),
        )
        return [rows.alert(r) for r in found]

    def count_alerts(self, *, state: str = "open") -> int:
        return self._scalar(f"SELECT count(*) FROM health_alerts WHERE {rows.ALERT_WHERE[state]}")

    def count_alerts_where(self, *, state: str = "open", disk_id: str | None = None) -> int:
        """:meth:`count_alerts` with the ``disk_id`` filter of :meth:`list_alerts`."""
        where = rows.ALERT_WHERE[state]
        if disk_id is None:
            return self._scalar(f"SELECT count(*) FROM health_alerts WHERE {where}")
        return self._scalar(
            f"SELECT count(*) FROM health_alerts WHERE {where} AND disk_id = {self._PH}",
            (disk_id,),
        )

    def find_disks(self, name: str) -> list[str]:
        """Disk ids known by this device name (``/dev/sda``, the seed's ``device``) or id,
        the newest holder of the name first."""
        ph = self._PH
        return [
            r["disk_id"]
            for r in self._query(
                f"SELECT disk_id FROM disks WHERE device = {ph} OR disk_id = {ph}"
                " ORDER BY last_seen DESC",
                (name, name),
            )
        ]
