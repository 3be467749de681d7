"""Content-Encoding (identity, gzip, deflate) undone by `scrapers.fetch.Fetcher`, bounded.

Decoded here rather than by httpx so that the output of each step is capped: a gzip bomb is
stopped after at most `max_bytes` of output rather than after inflating a whole network chunk,
and a truncated gzip stream is an error instead of a silently shortened body.
"""

from __future__ import annotations

import zlib

from scrapers.retry import Fatal

__all__ = ["Decoder", "TooLarge"]


class TooLarge(Exception):
    """The decoded body would pass the byte budget."""


class Decoder:
    """Undoes one Content-Encoding with bounded output per call; `Fatal` when it cannot."""

    def __init__(self, content_encoding: str | None) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise Fatal(f"unsupported Content-Encoding {content_encoding!r}")
        self.name = codings[0] if codings else "identity"
        self._raw_deflate_tried = False
        self._fed = False  # an empty body is fine whatever its Content-Encoding says
        if self.name in ("gzip", "x-gzip"):
            self._obj: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.name == "deflate":
            self._obj = zlib.decompressobj(zlib.MAX_WBITS)
        elif self.name == "identity":
            self._obj = None
        else:
            # We only advertise gzip and deflate, so anything else (br, zstd, ...) is a
            # server that ignored Accept-Encoding; guessing would hand garbage to parsers.
            raise Fatal(f"unsupported Content-Encoding {self.name!r}")

    def decode(self, data: bytes, budget: int) -> bytes:
        """Decode one raw chunk; raise `TooLarge` if it yields more than `budget` bytes."""
        if self._obj is None:
            if len(data) > budget:
                raise TooLarge
            return data
        out = bytearray()
        pending = data
        self._fed = self._fed or bool(data)
        while pending:
            try:
                # max_length caps what zlib may inflate now: a bomb stops at budget + 1.
                piece = self._obj.decompress(pending, budget - len(out) + 1)
            except zlib.error as exc:
                if self.name == "deflate" and not self._raw_deflate_tried and not out:
                    # Some servers send raw DEFLATE without the zlib wrapper RFC 9110 asks for.
                    self._raw_deflate_tried = True
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise Fatal(f"could not decode {self.name} body ({exc})") from exc
            if piece:  # output means the header was accepted: the format is settled
                self._raw_deflate_tried = True
            out += piece
            if len(out) > budget:
                raise TooLarge
            pending = self._obj.unconsumed_tail
            if not piece and pending:  # no progress: never spin
                raise Fatal(f"could not decode {self.name} body (stalled)")
        return bytes(out)

    def finish(self) -> None:
        """Check that the compressed stream ended properly (catches truncated bodies)."""
        if self._obj is not None and self._fed and not self._obj.eof:
            raise Fatal(f"could not decode {self.name} body (truncated stream)")
