"""maid-smart-monitor: SMART health monitoring for MAID storage that never wakes a disk."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["MAIDSmartMonitor", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `python -m maid_smart_monitor --help` and the pure modules stay light.
    if name == "MAIDSmartMonitor":
        from maid_smart_monitor.monitor import MAIDSmartMonitor

        return MAIDSmartMonitor
    raise AttributeError(name)
