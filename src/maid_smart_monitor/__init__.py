"""maid-smart-monitor: SMART health monitoring for MAID storage that never wakes a disk."""

__version__ = "0.1.0"
