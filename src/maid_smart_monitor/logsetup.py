"""Logging set up with dictConfig: the seed's line format, or JSON lines for log shippers."""

from __future__ import annotations

import json
import logging
import logging.config
import time
from typing import Any

SEED_FORMAT = "[MAID-SMART] %(asctime)s - %(levelname)s - %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra=`` fields are kept as keys."""

    _STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(level: str = "INFO", file: str | None = None, fmt: str = "text") -> None:
    formatter = "json" if fmt == "json" else "seed"
    handlers: dict[str, dict[str, Any]] = {
        "stderr": {"class": "logging.StreamHandler", "formatter": formatter},
    }
    if file:
        handlers["file"] = {
            "class": "logging.handlers.WatchedFileHandler",  # logrotate-friendly
            "filename": file,
            "formatter": formatter,
        }
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "seed": {"format": SEED_FORMAT},
                "json": {"()": JsonFormatter},
            },
            "handlers": handlers,
            "loggers": {
                "maid_smart_monitor": {"level": level, "handlers": list(handlers),
                                       "propagate": False},
            },
        }
    )
