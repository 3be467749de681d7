"""Which Unicode encoding a payload is really in, whatever its headers or declaration say.

Servers lie (a UTF-16 body under `charset=utf-8`, an XML declaration saying UTF-8 in front of
UTF-16 bytes); the byte-order mark, or the NUL pattern of UTF-16 text, is the evidence.
"""

from __future__ import annotations

import re

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_DECLARED = re.compile(rb"""^(<\?xml[^>]*?encoding\s*=\s*)(["'])[A-Za-z0-9._-]+\2""")


def unicode_encoding(body: bytes) -> str | None:
    """The encoding shown by a BOM or by UTF-16's NUL bytes, or None (assume the declared or
    UTF-8)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    if len(body) > 1 and body[0] == 0 and body[1] != 0:
        return "utf-16-be"
    if len(body) > 1 and body[1] == 0 and body[0] != 0:
        return "utf-16-le"
    return None


def head_text(body: bytes, size: int = 4096) -> str:
    """The first `size` bytes decoded for sniffing, errors ignored."""
    encoding = unicode_encoding(body) or "utf-8"
    return body[:size].decode(encoding, errors="ignore")


def utf8_xml(body: bytes) -> bytes:
    """An XML document in UTF-16/32 re-encoded as UTF-8, its declaration corrected; other
    bodies are returned unchanged. Undecodable bytes leave the body unchanged too, for the
    parser to report."""
    encoding = unicode_encoding(body)
    if encoding is None or encoding == "utf-8-sig":
        return body
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        return body
    data = text.lstrip("\ufeff").encode("utf-8")
    return _DECLARED.sub(rb"\1\2utf-8\2", data, count=1)
