"""A deliberately misbehaving HTTP/1.1 server on 127.0.0.1, for the hostile-server suite.

Hand-written on raw sockets rather than werkzeug/pytest-httpserver because the misbehaviours
need byte-level control: lying Content-Length and Content-Encoding headers, bodies dripped a
byte at a time, connections reset mid-response, a listener that never accepts. Each request's
first path segment names the behaviour: GET /<behaviour>/api/v2/incidents.json.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GOOD_JSON = (FIXTURES / "statuspage" / "anthropic_slice.json").read_bytes()
GOOD_FEED = (FIXTURES / "feeds" / "claude_slice.atom").read_bytes()

Behaviour = Callable[[socket.socket, str, dict[str, str], "HostileServer"], None]


def respond(conn: socket.socket, status: str, headers: dict[str, str], body: bytes = b"",
            *, length: int | None = None) -> None:
    head = [f"HTTP/1.1 {status}"]
    headers = {"Connection": "close", **headers}
    if length is not None or "Transfer-Encoding" not in headers:
        headers.setdefault("Content-Length", str(len(body) if length is None else length))
    head += [f"{k}: {v}" for k, v in headers.items()]
    conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


def good_body(path: str) -> tuple[bytes, str]:
    if path.endswith(".atom"):
        return GOOD_FEED, "application/atom+xml"
    return GOOD_JSON, "application/json"


class HostileServer:
    """Serves behaviours on an ephemeral port until close(). Thread per connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.counters: dict[str, int] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, behaviour: str) -> str:
        return f"http://127.0.0.1:{self.port}/{behaviour}"

    def count(self, behaviour: str) -> int:
        self.counters[behaviour] = self.counters.get(behaviour, 0) + 1
        return self.counters[behaviour]

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.sock.close()

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                data = b""
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                lines = data.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    key, _, value = line.partition(":")
                    headers[key.strip().lower()] = value.strip()
                self.requests.append((path, headers))
                name = path.strip("/").split("/")[0]
                BEHAVIOURS[name](conn, path, headers, self)
            except (OSError, KeyError, IndexError):
                return


def _good(conn, path, headers, server) -> None:  # type: ignore[no-untyped-def]
    body, kind = good_body(path)
    respond(conn, "200 OK", {"Content-Type": kind, "ETag": '"good"'}, body)


def _status(code: str, body: bytes = b"", extra: dict[str, str] | None = None) -> Behaviour:
    def behave(conn, path, headers, server) -> None:  # type: ignore[no-untyped-def]
        respond(conn, code, {"Content-Type": "text/html", **(extra or {})}, body)
    return behave


def _body(payload: bytes | Callable[[str], bytes], content_type: str = "application/json",
          extra: dict[str, str] | None = None) -> Behaviour:
    def behave(conn, path, headers, server) -> None:  # type: ignore[no-untyped-def]
        body = payload(path) if callable(payload) else payload
        respond(conn, "200 OK", {"Content-Type": content_type, **(extra or {})}, body)
    return behave


def _slow_drip(conn, path, headers, server) -> None:  # type: ignore[no-untyped-def]
    body, kind = good_body(path)
    respond(conn, "200 OK", {"Content-Type": kind}, b"", length=len(body))
    for byte in body[:30]:
        conn.sendall(bytes([byte]))
        time.sleep(0.5)  # 2 bytes/s: each read returns in time, the whole never does


def _stall_mid_body(conn, path, headers, server) -> None:  # type: ignore[no-untyped-def]
    body, kind = good_body(path)
    respond(conn, "200 OK", {"Content-Type": kind}, body[:100], length=len(body))
    time.sleep(5)


def _reset(conn, path, headers, server) -> None:  # type: ignore[no-untyped-def]
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n{\"incid")
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST


def _headers_then_close(conn, path, headers, server) -> None:  # type: ignore[no-untyped-def]
    respond(conn, "200 OK", {"Content-Type": "application/json"}, b"", length=4000)


def _huge(conn, path, headers, server) -> None:  # type: ignore[no-untyped-def]
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    chunk = b"[" + b" " * 65534 + b"\n"
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    with contextlib.suppress(OSError):
        for _ in range(50 * 1024 * 1024 // len(chunk)):  # 50 MB, no Content-Length
            conn.sendall(frame)


def _gzip_bomb(conn, path, headers, server) -> None:  # type: ignore[no-untyped-def]
    bomb = gzip_bomb()
    respond(conn, "200 OK", {"Content-Type": "application/json", "Content-Encoding": "gzip"},
            bomb)


@functools.cache
def gzip_bomb() -> bytes:
    """~200 KB on the wire that inflates to 200 MB; built a block at a time, never held whole."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    block = b" " * (1024 * 1024)
    parts = [packer.compress(b"{")]
    parts += [packer.compress(block) for _ in range(200)]
    return b"".join([*parts, packer.flush()])


def _retry_after(value: Callable[[], str], code: str = "429 Too Many Requests") -> Behaviour:
    def behave(conn, path, headers, server) -> None:  # type: ignore[no-untyped-def]
        respond(conn, code, {"Retry-After": value(), "Content-Type": "text/plain"}, b"slow down")
    return behave


def _redirect_loop(conn, path, headers, server) -> None:  # type: ignore[no-untyped-def]
    respond(conn, "302 Found", {"Location": path})


def _redirect_elsewhere(conn, path, headers, server) -> None:  # type: ignore[no-untyped-def]
    # another host name for the same loopback server: "localhost" instead of 127.0.0.1
    target = f"http://localhost:{server.port}/good{path.split('/redirect_elsewhere', 1)[1]}"
    respond(conn, "301 Moved Permanently", {"Location": target})


def _etag_churn(conn, path, headers, server) -> None:  # type: ignore[no-untyped-def]
    body, kind = good_body(path)
    respond(conn, "200 OK", {"Content-Type": kind, "ETag": f'"{time.time_ns()}"'}, body)


def _not_modified_always(conn, path, headers, server) -> None:  # type: ignore[no-untyped-def]
    respond(conn, "304 Not Modified", {})


def _nested(depth: int) -> bytes:
    return b'{"incidents": ' + b"[" * depth + b"]" * depth + b"}"


def _many_entries(path: str) -> bytes:
    if not path.endswith(".atom"):
        incidents = [{"id": f"inc{n:05d}", "name": f"Incident {n}", "status": "resolved",
                      "impact": "minor", "created_at": "2026-01-01T00:00:00Z",
                      "incident_updates": [{"id": f"u{n}", "status": "resolved", "body": "ok",
                                            "display_at": "2026-01-01T01:00:00Z"}]}
                     for n in range(5000)]
        return json.dumps({"page": {"url": "https://status.example.test"},
                           "incidents": incidents}).encode()
    entry = GOOD_FEED.split(b"<entry>")[1].split(b"</entry>")[0]
    head = GOOD_FEED.split(b"<entry>")[0]
    entries = b"".join(b"<entry>" + entry.replace(b"/incidents/", f"/incidents/x{n}".encode(), 1)
                       + b"</entry>" for n in range(3000))
    return head + entries + b"</feed>"


def _odd_dates(path: str) -> bytes:
    data = json.loads(GOOD_JSON)
    first, second = data["incidents"][:2]
    first["created_at"] = "2099-01-01T00:00:00Z"
    for update in first["incident_updates"]:
        update["display_at"] = "2099-01-01T00:00:00Z"
    second["created_at"] = "1970-01-01T00:00:00Z"
    for update in second["incident_updates"]:
        update["display_at"] = "1970-01-01T00:00:00Z"
    return json.dumps(data).encode()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Status - Incident History</title>
<entry><id>tag:x,2005:Incident/1</id><link href="https://s.test/incidents/lol9"/>
<title>&lol9;</title><updated>2026-01-01T00:00:00Z</updated><content type="html">&lol9;</content>
</entry></feed>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Status - Incident History</title>
<entry><id>tag:x,2005:Incident/1</id><link href="https://s.test/incidents/xxe123"/>
<title>leak &xxe;</title><updated>2026-01-01T00:00:00Z</updated>
<content type="html">&lt;p&gt;&lt;small&gt;Jan &lt;var data-var='date'&gt;1&lt;/var&gt;, &lt;var data-var='time'&gt;00:00&lt;/var&gt; UTC&lt;/small&gt;&lt;br&gt;&lt;strong&gt;Resolved&lt;/strong&gt; - &xxe;&lt;/p&gt;</content>
</entry></feed>"""


def _by_kind(json_body: bytes, feed_body: bytes) -> Callable[[str], bytes]:
    return lambda path: feed_body if path.endswith(".atom") else json_body


BEHAVIOURS: dict[str, Behaviour] = {
    "good": _good,
    "slow_drip": _slow_drip,
    "stall_mid_body": _stall_mid_body,
    "reset": _reset,
    "headers_then_close": _headers_then_close,
    "retry_after_seconds": _retry_after(lambda: "1"),
    "retry_after_date": _retry_after(lambda: formatdate(time.time() + 1, usegmt=True),
                                     "503 Service Unavailable"),
    "retry_after_too_long": _retry_after(lambda: "86400"),
    "storm_503": _status("503 Service Unavailable", b"<html>busy</html>"),
    "error_500_html": _status("500 Internal Server Error", b"<html><h1>Oops</h1></html>"),
    "html_instead_of_json": _body(b"<!DOCTYPE html><html><body>Maintenance</body></html>",
                                  "text/html"),
    "truncated_gzip": _body(lambda p: gzip.compress(good_body(p)[0])[:-40], extra={
        "Content-Encoding": "gzip"}),
    "wrong_encoding": _body(lambda p: good_body(p)[0], extra={"Content-Encoding": "gzip"}),
    "huge_body": _huge,
    "gzip_bomb": _gzip_bomb,
    "utf16_bom": _body(lambda p: good_body(p)[0].decode().encode("utf-16")),
    "utf16_no_bom": _body(lambda p: good_body(p)[0].decode().encode("utf-16-le")),
    "invalid_utf8": _body(b'{"incidents": [{"id": "bad\xff\xfe", "name": "\xc3\x28"}]}'),
    "lying_charset": _body(lambda p: good_body(p)[0],
                           "application/json; charset=iso-8859-1"),
    "billion_laughs": _body(_by_kind(b"{}", BILLION_LAUGHS), "application/atom+xml"),
    "external_entity": _body(_by_kind(b"{}", EXTERNAL_ENTITY), "application/atom+xml"),
    "deep_json": _body(_nested(100_000)),
    "duplicate_keys": _body(b'{"incidents": [{"id": "dup1", "id": "dup2", "name": "x", '
                            b'"name": "Duplicated keys"}]}'),
    "nan_and_huge_numbers": _body(b'{"incidents": [{"id": "n1", "name": "x", "impact": NaN, '
                                  b'"position": 1e999999}]}'),
    "redirect_loop": _redirect_loop,
    "redirect_elsewhere": _redirect_elsewhere,
    "etag_churn": _etag_churn,
    "not_modified_unasked": _not_modified_always,
    "many_entries": _body(_many_entries),
    "odd_dates": _body(lambda p: good_body(p)[0] if p.endswith(".atom") else _odd_dates(p)),
    "empty_body": _body(b""),
}
