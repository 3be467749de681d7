"""SSRF through links in third-party content (issue #15 item 7).

A URL written by someone else (an article link in a news feed, a link inside a payload, and
every redirect it leads to) must not reach loopback, private, link-local (cloud metadata) or
other non-public addresses; what the user configured is trusted as configured, 127.0.0.1
included. Everything here runs against local servers on 127.0.0.1: where a test needs a
"public" server it injects an address check that counts 127.0.0.1 as public, and asserts what
else is still refused.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from scrapers.addresses import refusal
from scrapers.errors import FetchError
from scrapers.fetch import Fetcher, FetchSettings

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = FetchSettings(politeness_delay=0, retries=0)


def at(server: HTTPServer, path: str) -> str:
    """The server's URL by address (its url_for says "localhost", which may also be ::1)."""
    return f"http://127.0.0.1:{server.port}{path}"


def loopback_is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """The real check, except that 127.0.0.1 stands in for a public server."""
    return None if str(address) == "127.0.0.1" else refusal(address)


@pytest.mark.parametrize(("address", "why"), [
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("127.0.0.1", "loopback"), ("127.8.9.1", "loopback"), ("::1", "loopback"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("172.31.255.254", "private"),
    ("192.168.1.1", "private"), ("fd00::1", "private"), ("fd12:3456::1", "private"),
    ("100.64.0.1", "shared"), ("100.127.255.254", "shared"),
    ("224.0.0.1", "multicast"), ("240.0.0.1", "private"), ("198.18.0.1", "private"),
    # IPv6 that carries an IPv4 address is judged by it
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "link-local"),
    ("64:ff9b::a9fe:a9fe", "link-local"), ("2002:7f00:1::1", "loopback"),
    ("2002:a00:1::1", "private"),
])
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    reason = refusal(ipaddress.ip_address(address))
    assert reason is not None and why in reason


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "151.101.1.69",
                                     "2606:4700:4700::1111", "172.32.0.1", "100.128.0.1"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_an_untrusted_url_on_loopback_is_refused_before_any_request(
        httpserver: HTTPServer) -> None:
    httpserver.expect_request("/secret").respond_with_data("internal")
    with Fetcher(SETTINGS, untrusted=True) as fetcher:
        with pytest.raises(FetchError, match=r"refused: 127\.0\.0\.1, a loopback address"):
            fetcher.get(at(httpserver, "/secret"))
        # a name is resolved and every address it resolves to is checked
        with pytest.raises(FetchError, match=r"refused: localhost resolves to .*loopback"):
            fetcher.get(f"http://localhost:{httpserver.port}/secret")
        with pytest.raises(FetchError, match=r"refused: file scheme"):
            fetcher.get("file:///etc/passwd")
    assert httpserver.log == []
    # the same URL configured by the user is trusted as configured
    with Fetcher(SETTINGS) as trusted:
        assert trusted.get(at(httpserver, "/secret")).doc.body == b"internal"


def test_every_redirect_hop_is_checked(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/article").respond_with_response(Response(
        status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/iam/"}))
    httpserver.expect_request("/to-private").respond_with_response(Response(
        status=301, headers={"Location": "http://10.0.0.5/admin"}))
    httpserver.expect_request("/loop").respond_with_response(Response(
        status=307, headers={"Location": "/loop"}))
    httpserver.expect_request("/hop").respond_with_response(Response(
        status=302, headers={"Location": "/final"}))
    httpserver.expect_request("/final").respond_with_data("<html>ok</html>",
                                                          content_type="text/html")
    with Fetcher(SETTINGS, untrusted=True, address_check=loopback_is_public) as fetcher:
        with pytest.raises(FetchError, match=r"refused: 169\.254\.169\.254, a link-local"):
            fetcher.get(at(httpserver, "/article"))
        with pytest.raises(FetchError, match=r"refused: 10\.0\.0\.5, a private address"):
            fetcher.get(at(httpserver, "/to-private"))
        with pytest.raises(FetchError, match=r"refused: more than 5 redirects"):
            fetcher.get(at(httpserver, "/loop"))
        outcome = fetcher.get(at(httpserver, "/hop"))  # a public redirect is followed
    assert outcome.doc is not None and outcome.doc.body == b"<html>ok</html>"
    assert outcome.final_url == at(httpserver, "/final")
    assert outcome.doc.url == at(httpserver, "/hop")


def test_it_connects_to_the_address_it_checked(httpserver: HTTPServer) -> None:
    """No second DNS look-up between check and connect (DNS rebinding): the request goes to
    the checked address with the original Host header."""
    httpserver.expect_request("/page", headers={"Host": f"news.example:{httpserver.port}"}
                              ).respond_with_data("<html>pinned</html>")
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    with Fetcher(SETTINGS, untrusted=True, resolver=resolver,
                 address_check=loopback_is_public) as fetcher:
        outcome = fetcher.get(f"http://news.example:{httpserver.port}/page")
    assert outcome.doc is not None and outcome.doc.body == b"<html>pinned</html>"
    assert asked == ["news.example"]

    def mixed(host: str, port: int) -> list[str]:  # one public answer, one internal
        return ["127.0.0.1", "10.0.0.7"]

    with Fetcher(SETTINGS, untrusted=True, resolver=mixed, address_check=loopback_is_public
                 ) as fetcher, pytest.raises(FetchError, match=r"news\.example resolves to 10"):
        fetcher.get(f"http://news.example:{httpserver.port}/page")


FEED_ITEMS = [("ok", "ChatGPT is down for millions"),
              ("meta", "OpenAI outage: ChatGPT unavailable")]


def test_kb_signals_fetch_reads_the_configured_feed_and_refuses_its_loopback_links(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    """Through the CLI: a loopback feed listed in sources.toml is fetched (trusted as
    configured); its article links, also on loopback (one redirecting to the metadata
    address), are refused with a one-line reason and never requested."""
    entries = "".join(
        f"<item><title>{title}</title><link>{at(httpserver, '/a/' + slug)}</link>"
        f"<guid>{slug}</guid><pubDate>Tue, 04 Jun 2024 16:38:02 +0000</pubDate>"
        f"<description>Feed summary of {slug}.</description></item>"
        for slug, title in FEED_ITEMS)
    httpserver.expect_request("/feed.rss").respond_with_data(
        "<?xml version='1.0'?><rss version='2.0'><channel><title>Local press</title>"
        f"<link>https://press.example</link><description>d</description>{entries}"
        "</channel></rss>", content_type="application/rss+xml")
    httpserver.expect_request("/a/meta").respond_with_response(Response(
        status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}))
    httpserver.expect_request("/a/ok").respond_with_data("<html>internal page</html>",
                                                         content_type="text/html")
    sources = tmp_path / "sources.toml"
    sources.write_text(  # replace: none of the packaged news feeds is fetched
        'replace = true\n\n[[source]]\nslug = "openai"\nname = "OpenAI"\nurl = "https://status.openai.com"\n\n'
        '[signals]\nhn_api = "http://127.0.0.1:9/api"\noutage_words = ["down", "outage"]\n\n'
        '[signals.match.openai]\nnames = ["OpenAI", "ChatGPT"]\n\n'
        f'[[signals.feed]]\nname = "Local"\nurl = "{at(httpserver, "/feed.rss")}"\n',
        encoding="utf-8")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "kb.toml").write_text(
        "[fetch]\npoliteness_delay = 0\nretries = 0\n", encoding="utf-8")
    env = dict(os.environ, KB_HOME=str(tmp_path / "home"), KB_SOURCES=str(sources))
    env.pop("KB_CONFIG", None)
    env.pop("KB_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "kb", "signals", "fetch", "openai", "--source", "news",
         "--since", "2024-01-01", "--until", "2024-07-01"],
        capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    requested = [request.path for request, _ in httpserver.log]
    assert requested == ["/feed.rss"]  # the feed, and no article link
    said = " ".join(result.stderr.split())  # the console folds long lines
    for slug, _title in FEED_ITEMS:
        assert (f"warning: {at(httpserver, '/a/' + slug)}: article not fetched (refused: "
                "127.0.0.1, a loopback address; a link from third-party content may only "
                "reach public addresses): feed summary only") in said, result.stderr
    stored = subprocess.run([sys.executable, "-m", "kb", "signals", "--json"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert "internal page" not in stored.stdout
    assert not any(b"internal page" in p.read_bytes()
                   for p in (tmp_path / "home" / "raw").rglob("*") if p.is_file())
