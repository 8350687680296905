"""The stand-in's own request log: one JSON line per HTTP request it serves.

A WSGI middleware in front of moto's app. Each line carries what identifies the AWS
operation whatever the protocol: method, path, query, the X-Amz-Target header (JSON
protocols), the form's Action (query protocols) and the signing service from the
Authorization header. Benchmarks count API calls from this file, so the count is the
server's, the same for every client.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_FORM = "application/x-www-form-urlencoded"
_WRITE_INTERVAL = 0.005  # seconds between the writer's flushes


def signing_service(authorization: str) -> str:
    """The service of a SigV4 credential scope (`Credential=AKID/date/region/SERVICE/...`)."""
    _, _, rest = authorization.partition("Credential=")
    parts = rest.split(",", 1)[0].split("/")
    return parts[3] if len(parts) > 3 else ""


def _form_action(environ: dict[str, Any]) -> str:
    """The Action of a query-protocol POST; the body is put back for the app."""
    if not str(environ.get("CONTENT_TYPE", "")).startswith(_FORM):
        return ""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return ""
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    values = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])
    return str(values[0])


class RequestLog:
    """Wraps a WSGI app; appends one JSON line per request to `path`.

    Request threads only append their record to a deque (atomic, wakes nobody): one
    writer thread owns the file and drains the deque every few milliseconds, so logging
    adds no lock, no thread switch and no system call to a request. A record is appended
    before its response is sent, so a reader sees every answered request within moments.

    `latency` (seconds) delays every answer, as a real API's round trip would, without
    holding the interpreter: other requests are served meanwhile.
    """

    def __init__(self, app: WsgiApp, path: Path, latency: float = 0.0) -> None:
        self.app = app
        self.path = path
        self.latency = latency
        self._records: deque[str] = deque()
        self._closed = threading.Event()
        self._writer = threading.Thread(target=self._write, name="request-log", daemon=True)
        self._writer.start()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        query = str(environ.get("QUERY_STRING", ""))
        record = {
            "method": environ.get("REQUEST_METHOD", ""),
            "path": environ.get("PATH_INFO", ""),
            "query": query,
            "target": environ.get("HTTP_X_AMZ_TARGET", ""),
            "action": _form_action(environ) or parse_qs(query).get("Action", [""])[0],
            "service": signing_service(str(environ.get("HTTP_AUTHORIZATION", ""))),
        }
        status: list[str] = []

        def respond(code: str, headers: Any, *args: Any) -> Any:
            status.append(code)
            return start_response(code, headers, *args)

        if self.latency > 0:
            time.sleep(self.latency)
        try:
            return self.app(environ, respond)
        finally:
            record["status"] = status[0].split(" ", 1)[0] if status else "000"
            self._records.append(json.dumps(record, separators=(",", ":")))

    def _write(self) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            while not self._closed.wait(_WRITE_INTERVAL):
                self._flush(handle)
            self._flush(handle)

    def _flush(self, handle: Any) -> None:
        lines = []
        while self._records:
            lines.append(self._records.popleft() + "\n")
        if lines:
            handle.write("".join(lines))
            handle.flush()

    def close(self) -> None:
        self._closed.set()
        self._writer.join(timeout=10)
