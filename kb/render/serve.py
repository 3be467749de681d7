"""Serve a built site on 127.0.0.1 (stdlib http.server: the site is static files, and a
person looking at it locally needs nothing more). Text files (HTML, CSS, JavaScript, JSON,
SVG, feeds) go gzip-compressed to a browser that accepts it: the search index shrinks about
fourfold."""

from __future__ import annotations

import gzip
import io
import os
import threading
from functools import lru_cache, partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from kb.errors import NotFound

HOST = "127.0.0.1"  # never another interface: this is a preview, not a web server
COMPRESSED = frozenset({".html", ".css", ".js", ".json", ".svg", ".xml", ".atom", ".jsonl",
                        ".txt", ".map"})


@lru_cache(maxsize=256)
def _gzipped(path: str, _mtime_ns: int, _size: int) -> bytes:
    """A file's bytes gzip-compressed, cached by path and modification (a rebuilt site is
    served afresh)."""
    with open(path, "rb") as handle:
        return gzip.compress(handle.read(), compresslevel=6, mtime=0)


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

    def send_head(self) -> Any:
        """The stdlib's answer, except that a text file goes gzip-compressed to a client
        that accepts gzip (anything unusual, such as a directory without its slash, a
        missing file or a conditional request, is left to the stdlib)."""
        path = self._compressible()
        if path is None:
            return super().send_head()
        stat = os.stat(path)
        body = _gzipped(path, stat.st_mtime_ns, stat.st_size)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Last-Modified", self.date_time_string(int(stat.st_mtime)))
        self.end_headers()
        return io.BytesIO(body)

    def _compressible(self) -> str | None:
        if "gzip" not in self.headers.get("Accept-Encoding", "") or \
                "If-Modified-Since" in self.headers:
            return None
        path = self.translate_path(self.path)
        if os.path.isdir(path):
            if not self.path.split("?", 1)[0].split("#", 1)[0].endswith("/"):
                return None  # the stdlib redirects to the slash
            path = os.path.join(path, "index.html")
        if os.path.splitext(path)[1].lower() not in COMPRESSED or not os.path.isfile(path):
            return None
        return path

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
