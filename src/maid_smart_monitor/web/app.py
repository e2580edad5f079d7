"""The WSGI application: routing, requests and responses, JSON errors, auth, static files.

A plain WSGI callable (no framework): the server is waitress (``web/__init__.py``),
and tests can call it in-process. Every request reads through a connection of its
own thread, opened read-only, so the daemon keeps writing while pages are served
(SQLite WAL: readers never block the writer). The one write (acknowledge an alert)
goes through a single read-write connection and needs ``Authorization: Bearer``
with the configured token; with no token configured writes are refused.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from maid_smart_monitor.health import DEFAULT_CONFIG, HealthConfig
from maid_smart_monitor.storage.base import SchemaTooNew, StoreError
from maid_smart_monitor.storage.factory import open_store

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
_GZIP_MIN = 2048
_STATUS_TEXT = {
    200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 411: "Length Required", 413: "Payload Too Large",
    415: "Unsupported Media Type", 500: "Internal Server Error", 501: "Not Implemented",
    503: "Service Unavailable",
}
_HTML_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
]


class HTTPError(Exception):
    """An answer other than success, with a message for people (sent as JSON on /api)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: list[tuple[str, str]] | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []
        self.param = param


@dataclass
class Response:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: list[tuple[str, str]] | None = None
             ) -> Response:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return cls(body.encode("utf-8"), status, "application/json", list(headers or []))

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(text.encode("utf-8"), status, "text/html; charset=utf-8", list(_HTML_HEADERS))


class Request:
    """The parts of a WSGI environ that handlers use."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        self.method = environ.get("REQUEST_METHOD", "GET").upper()
        raw_path = environ.get("PATH_INFO", "/") or "/"
        # PEP 3333: PATH_INFO is latin-1 decoded bytes; undo that to get UTF-8 text.
        self.path = raw_path.encode("latin-1", "replace").decode("utf-8", "replace")
        self.query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        self.params: dict[str, str] = {}

    def arg(self, name: str) -> str | None:
        """One query parameter; a repeated one is a client error, not a silent pick."""
        values = self.query.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise HTTPError(400, f"parameter {name!r} given {len(values)} times", param=name)
        return values[0]

    def header(self, name: str) -> str | None:
        key = "HTTP_" + name.upper().replace("-", "_")
        if name.lower() == "content-type":
            key = "CONTENT_TYPE"
        return self.environ.get(key)

    def body(self) -> bytes:
        try:
            length = int(self.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise HTTPError(400, "bad Content-Length header") from None
        if length > MAX_BODY:
            raise HTTPError(413, f"request body larger than {MAX_BODY} bytes")
        if length <= 0:
            return b""
        return self.environ["wsgi.input"].read(length)

    def json(self) -> Any:
        ctype = (self.header("Content-Type") or "").split(";")[0].strip().lower()
        raw = self.body()
        if not raw:
            return None
        if ctype and ctype != "application/json":
            raise HTTPError(415, f"send JSON (Content-Type: application/json), not {ctype}")
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise HTTPError(400, f"request body is not valid JSON: {exc}") from None


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def _compile(path: str) -> re.Pattern[str]:
    """``/api/disks/{disk_id}`` -> a regex with one named group per ``{name}``."""
    parts = re.split(r"(\{\w+\})", path)
    rx = "".join(
        f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts
    )
    return re.compile(f"^{rx}$")


class Static:
    """The package's static files, read once; served with an ETag and a long cache
    lifetime (pages link them with ``?v=<hash>``, so a new version is a new URL)."""

    TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
             ".svg": "image/svg+xml", ".txt": "text/plain; charset=utf-8",
             ".ico": "image/x-icon", ".png": "image/png"}

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str, str]] = {}
        root = resources.files("maid_smart_monitor.web").joinpath("static")
        for entry in root.iterdir():
            if not entry.is_file():
                continue
            name = entry.name
            ext = name[name.rfind("."):] if "." in name else ""
            data = entry.read_bytes()
            etag = hashlib.sha256(data).hexdigest()[:16]
            self.files[name] = (data, self.TYPES.get(ext, "application/octet-stream"), etag)

    def version(self, name: str) -> str:
        return self.files[name][2]

    def url(self, name: str) -> str:
        return f"/static/{name}?v={self.version(name)}"

    def serve(self, req: Request, name: str) -> Response:
        item = self.files.get(name)
        if item is None:
            raise HTTPError(404, f"no static file {name!r}")
        data, ctype, etag = item
        headers = [("ETag", f'"{etag}"'), ("Cache-Control", "public, max-age=86400"),
                   ("X-Content-Type-Options", "nosniff")]
        if req.header("If-None-Match") == f'"{etag}"':
            return Response(b"", 304, ctype, headers)
        return Response(data, 200, ctype, headers)


class App:
    """The dashboard, REST API and /metrics over one database.

    ``clock`` gives "now" (reading ages, default ranges); tests pass a fixed one.
    """

    def __init__(
        self,
        db_path: str,
        *,
        token: str | None = None,
        stale_after: float = 7 * 86400.0,
        busy_timeout: float = 10.0,
        health_config: HealthConfig = DEFAULT_CONFIG,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db_path = db_path
        self.token = token or None
        self.stale_after = stale_after
        self.busy_timeout = busy_timeout
        self.health_config = health_config
        self.clock = clock
        self.static = Static()
        self._local = threading.local()
        self._stores: list[Any] = []
        self._stores_lock = threading.Lock()
        self._writer: Any = None
        self._metrics: Any = None
        self.routes: list[Route] = []
        from maid_smart_monitor.web import api, pages

        api.register(self)
        pages.register(self)
        self.add("GET", "/static/{name}", lambda req: self.static.serve(req, req.params["name"]))
        self.add("GET", "/metrics", self._metrics_handler)

    # ------------------------------------------------------------------ routing

    def add(self, method: str, path: str, handler: Handler) -> None:
        self.routes.append(Route(method, _compile(path), handler))

    def _dispatch(self, req: Request) -> Response:
        method = "GET" if req.method == "HEAD" else req.method
        allowed: list[str] = []
        for route in self.routes:
            m = route.pattern.match(req.path)
            if not m:
                continue
            if route.method != method:
                allowed.append(route.method)
                continue
            req.params = m.groupdict()  # PATH_INFO arrives percent-decoded
            return route.handler(req)
        if allowed:
            allow = ", ".join(sorted(set(allowed) | ({"HEAD"} if "GET" in allowed else set())))
            raise HTTPError(405, f"{req.method} is not allowed on {req.path} (allowed: {allow})",
                            headers=[("Allow", allow)])
        raise HTTPError(404, f"nothing at {req.path}")

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        req = Request(environ)
        started = time.perf_counter()
        try:
            resp = self._dispatch(req)
        except HTTPError as exc:
            resp = self._error(req, exc.status, exc.message, exc.headers, exc.param)
        except SchemaTooNew as exc:
            resp = self._error(req, 503, str(exc))
        except StoreError as exc:
            log.error("Web request %s %s: %s", req.method, req.path, exc)
            resp = self._error(req, 503, f"database unavailable: {exc}")
        except Exception:
            log.exception("Web request %s %s failed", req.method, req.path)
            resp = self._error(req, 500, "internal error (see the server log)")
        body = resp.body
        headers = [("Content-Type", resp.content_type), *resp.headers]
        if (
            len(body) >= _GZIP_MIN
            and "gzip" in (req.header("Accept-Encoding") or "")
            and resp.status == 200
        ):
            body = gzip.compress(body, compresslevel=5)
            headers += [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
        headers.append(("Content-Length", str(len(body))))
        status = f"{resp.status} {_STATUS_TEXT.get(resp.status, 'Unknown')}"
        start_response(status, headers)
        log.debug("%s %s -> %d in %.1f ms", req.method, req.path, resp.status,
                  (time.perf_counter() - started) * 1000)
        return [b""] if req.method == "HEAD" else [body]

    def _error(
        self,
        req: Request,
        status: int,
        message: str,
        headers: list[tuple[str, str]] | None = None,
        param: str | None = None,
    ) -> Response:
        if req.path.startswith("/api/") or req.path == "/metrics":
            doc: dict[str, Any] = {"error": message, "status": status}
            if param:
                doc["parameter"] = param
            return Response.json(doc, status, headers)
        from maid_smart_monitor.web.pages import error_page

        resp = Response.html(error_page(self, status, message), status)
        resp.headers += headers or []
        return resp

    # ------------------------------------------------------------------ the store

    def store(self) -> Any:
        """This thread's read-only connection (opened on first use, reopened when the
        daemon moved a corrupt database aside and started a new file)."""
        store: Any = getattr(self._local, "store", None)
        if store is None:
            store = open_store(self.db_path, readonly=True, busy_timeout=self.busy_timeout,
                               on_corrupt="raise")
            self._local.store = store
            with self._stores_lock:
                self._stores.append(store)
        else:
            store.reopen_if_replaced()
        return store

    def writer(self) -> Any:
        """The one read-write connection, for acknowledgements (SQLiteStore serialises
        its users with a lock)."""
        with self._stores_lock:
            if self._writer is None:
                self._writer = open_store(self.db_path, busy_timeout=self.busy_timeout,
                                          on_corrupt="raise")
            return self._writer

    def check_token(self, req: Request) -> None:
        """Writes need ``Authorization: Bearer <token>``; none configured: none allowed."""
        if not self.token:
            raise HTTPError(
                403,
                "write operations are disabled: no web token is configured "
                "(set [web] token in config.ini or MAID_WEB_TOKEN, then restart)",
            )
        challenge = [("WWW-Authenticate", 'Bearer realm="maid-smart-monitor"')]
        header = req.header("Authorization") or ""
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise HTTPError(401, "this operation needs 'Authorization: Bearer <token>'",
                            headers=challenge)
        if not hmac.compare_digest(credential.strip().encode(), self.token.encode()):
            raise HTTPError(401, "invalid token",
                            headers=[("WWW-Authenticate",
                                      'Bearer realm="maid-smart-monitor", error="invalid_token"')])

    # ------------------------------------------------------------------ /metrics

    def _metrics_handler(self, req: Request) -> Response:
        if self._metrics is None:
            try:
                from maid_smart_monitor.metrics import Exposition
            except ImportError:
                raise HTTPError(
                    501, "/metrics needs prometheus-client: pip install 'maid-smart-monitor[web]'"
                ) from None
            self._metrics = Exposition(self.store, clock=self.clock,
                                       stale_after=self.stale_after)
        body, ctype = self._metrics.render(req.header("Accept"))
        return Response(body, 200, ctype)

    def close(self) -> None:
        with self._stores_lock:
            for s in self._stores:
                s.close()
            self._stores.clear()
            if self._writer is not None:
                self._writer.close()
                self._writer = None
