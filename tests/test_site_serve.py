"""`kb site serve`'s server (kb.render.serve): text files gzip-compressed for a client that
accepts gzip, byte-identical otherwise; directories, redirects and missing files as before."""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.render.serve import serve_in_thread


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    site = tmp_path / "site"
    (site / "search").mkdir(parents=True)
    (site / "index.html").write_text("<!doctype html><p>home</p>" * 200)
    (site / "page").mkdir()
    (site / "page" / "index.html").write_text("<p>a page</p>" * 200)
    (site / "search" / "search_index.json").write_text('{"docs": []}' * 500)
    (site / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10)
    server, base = serve_in_thread(site)
    yield site, base
    server.shutdown()
    server.server_close()


def get(url: str, gzip_ok: bool) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip_ok
                                     else {"Accept-Encoding": "identity"})
    # No proxy from the environment: the request must stay on 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


@pytest.mark.parametrize(("path", "file"), [("", "index.html"), ("page/", "page/index.html"),
                                            ("search/search_index.json",
                                             "search/search_index.json")])
def test_text_is_gzipped_only_for_a_client_that_accepts_it(
    served: tuple[Path, str], path: str, file: str,
) -> None:
    site, base = served
    on_disk = (site / file).read_bytes()
    status, headers, body = get(base + path, gzip_ok=True)
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert headers["Vary"] == "Accept-Encoding" and int(headers["Content-Length"]) == len(body)
    assert gzip.decompress(body) == on_disk and len(body) < len(on_disk) / 4
    status, headers, body = get(base + path, gzip_ok=False)
    assert status == 200 and "Content-Encoding" not in headers and body == on_disk


def test_binary_redirects_and_missing_files_are_left_to_the_stdlib(
    served: tuple[Path, str],
) -> None:
    site, base = served
    _, headers, body = get(base + "logo.png", gzip_ok=True)
    assert "Content-Encoding" not in headers and body == (site / "logo.png").read_bytes()
    # A directory without its slash is redirected (urllib follows), then compressed.
    status, headers, body = get(base + "page", gzip_ok=True)
    assert status == 200 and gzip.decompress(body) == (site / "page/index.html").read_bytes()
    with pytest.raises(urllib.error.HTTPError) as missing:
        get(base + "nothing/here.html", gzip_ok=True)
    assert missing.value.code == 404
