"""Dashboard, REST API and Prometheus /metrics over the monitor's database.

``serve(settings)`` runs the server in the foreground (``--serve``);
``start_background(settings)`` runs it next to the daemon (``--daemon --web``) and
returns a handle with ``close()``. The server is waitress (extra ``[web]``), imported
only here, when a server is started: importing this package costs nothing.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from typing import Any

from maid_smart_monitor.web.fleet import stale_limit

log = logging.getLogger(__name__)

__all__ = ["BackgroundServer", "WebError", "make_app", "parse_listen", "serve",
           "start_background"]


class WebError(OSError):
    """The server cannot start (bad address, port in use, waitress missing)."""


def parse_listen(listen: str) -> tuple[str, int]:
    """``127.0.0.1:9540`` / ``[::1]:9540`` / ``:9540`` -> (host, port)."""
    host, sep, port = listen.strip().rpartition(":")
    if not sep:
        raise WebError(f"listen address {listen!r} is not HOST:PORT")
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        raise WebError(f"listen address {listen!r}: port {port!r} is not a number") from None
    if not 0 <= number < 65536:
        raise WebError(f"listen address {listen!r}: port must be 0-65535")
    return host, number


def make_app(settings: Any, **overrides: Any) -> Any:
    """The WSGI app for these settings (database, token, staleness, health limits)."""
    from maid_smart_monitor.health import DEFAULT_CONFIG, HealthConfig
    from maid_smart_monitor.web.app import App

    try:
        health = HealthConfig.from_strings(getattr(settings, "health", {}) or {})
    except ValueError:
        health = DEFAULT_CONFIG  # the monitor reports bad [health] values itself
    kwargs: dict[str, Any] = {
        "token": settings.web_token,
        "stale_after": stale_limit(settings.max_staleness, settings.interval),
        "busy_timeout": settings.busy_timeout,
        "health_config": health,
    }
    kwargs.update(overrides)
    return App(settings.db_path, **kwargs)


class BackgroundServer:
    """A waitress server on its own thread; ``close()`` stops it and waits for it."""

    def __init__(self, app: Any, host: str, port: int, *, threads: int = 4) -> None:
        try:
            from waitress.server import create_server
        except ImportError:
            raise WebError(
                "the web server needs waitress: pip install 'maid-smart-monitor[web]'"
            ) from None
        self.app = app
        # A browser loads a disk page's charts six at a time; waitress warns about every
        # request that waits for a worker, which is normal here, not a fault.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        try:
            self.server = create_server(
                app, host=host, port=port, threads=threads, ident="maid-smart-monitor",
                clear_untrusted_proxy_headers=True, channel_timeout=60,
            )
        except OSError as exc:
            raise WebError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.host = str(self.server.effective_host)
        self.port = int(self.server.effective_port)
        self._thread = threading.Thread(target=self.server.run, name="web", daemon=True)
        self._thread.start()
        log.info("Dashboard, API and /metrics on %s", self.url)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        """Close the listening socket and every connection, then the worker threads.

        The sockets are closed by a callback run in the server's own loop thread
        (waitress's trigger), never under its feet from this thread.
        """
        server = self.server

        def stop_in_loop() -> None:
            for ch in list(server._map.values()):
                if hasattr(ch, "requests"):  # a client connection
                    with contextlib.suppress(OSError):
                        ch.handle_close()
            server.close()  # the listener and the trigger
            server._map.clear()  # ends the loop

        if self._thread.is_alive():
            server.trigger.pull_trigger(stop_in_loop)
            self._thread.join(timeout=10)
        server.task_dispatcher.shutdown(timeout=5)
        self.app.close()
        log.info("Web server stopped")

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_background(settings: Any, **overrides: Any) -> BackgroundServer:
    """Serve next to the daemon, on ``settings.web_listen``."""
    _ensure_database(settings)
    host, port = parse_listen(settings.web_listen)
    return BackgroundServer(make_app(settings, **overrides), host, port)


def serve(settings: Any) -> int:
    """``--serve``: serve the database until SIGTERM or Ctrl-C; returns the exit status.

    The signal handlers only set an event (they must not touch the server or the
    database); the main thread then stops the server.
    """
    _ensure_database(settings)
    host, port = parse_listen(settings.web_listen)
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        server = BackgroundServer(make_app(settings), host, port)
        print(f"Serving {settings.db_path} on {server.url} (Ctrl-C to stop)", flush=True)
        try:
            while not stop.wait(1.0):
                pass
        finally:
            server.close()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return 0


def _ensure_database(settings: Any) -> None:
    """Create or migrate the database before read-only connections open it."""
    from maid_smart_monitor.storage.factory import open_store

    open_store(settings.db_path, busy_timeout=settings.busy_timeout).close()
