"""Serve a built site on 127.0.0.1 (stdlib http.server: the site is static files, and a
person looking at it locally needs nothing more)."""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from kb.errors import NotFound

HOST = "127.0.0.1"  # never another interface: this is a preview, not a web server


class _Handler(SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".atom": "application/atom+xml",
        ".jsonl": "application/x-ndjson",
        ".js": "text/javascript",
        ".json": "application/json",
        ".svg": "image/svg+xml",
    }

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would drown the terminal


def make_server(site: Path, port: int = 8000) -> ThreadingHTTPServer:
    """A server for `site` on 127.0.0.1:`port` (0: any free port), not yet serving."""
    if not (site / "index.html").is_file():
        raise NotFound(f"no built site in {site}; run `kb site build` first")
    handler = partial(_Handler, directory=str(site))
    return ThreadingHTTPServer((HOST, port), handler)


def serve_in_thread(site: Path, port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Start serving in a daemon thread; returns the server and its base URL (tests)."""
    server = make_server(site, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{HOST}:{server.server_address[1]}/"
