"""The sanitising layer (kb/render/safe.py): what scraped text may and may not become."""

from __future__ import annotations

import re

import yaml
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import escape

from kb.render.safe import (
    clean_html,
    clean_text,
    clip,
    front_matter_title,
    one_line,
    path_segment,
    rich_text,
    safe_href,
)


def test_clean_text_drops_controls_and_shows_bidi_overrides() -> None:
    text = "a\x00b\x1bc\x7fd\x85e \u202eevil\u202c \u2066iso\u2069 \ud800 tab\tnl\n"
    cleaned = clean_text(text)
    assert cleaned == "abcde [U+202E]evil[U+202C] [U+2066]iso[U+2069] \ufffd tab\tnl\n"
    assert clean_text(None) == ""
    assert clean_text("crlf\r\nand cr\r") == "crlf\nand cr\n"


def test_clip_and_one_line() -> None:
    long = "word " * 5000
    assert len(clip(long, 120)) == 120  # cut, ellipsis included
    assert clip(long, 120).endswith("…")
    assert clip("short", 120) == "short"
    assert one_line("a\n  b\t\tc") == "a b c"


def test_safe_href_keeps_only_absolute_http_urls() -> None:
    assert safe_href("https://status.example.com/incidents/x?a=1") == (
        "https://status.example.com/incidents/x?a=1"
    )
    assert safe_href("http://example.com") == "http://example.com"
    for bad in ("javascript:alert(1)", " JavaScript:alert(1)", "jav\tascript:alert(1)",
                "data:text/html,<script>alert(1)</script>", "vbscript:x", "file:///etc/passwd",
                "/relative", "//evil.test/x", "https://", "https://exa mple.com",
                "https://example.com/\x00", None, 42, ""):
        assert safe_href(bad) is None, bad


def test_clean_html_keeps_the_allow_list_and_nothing_else() -> None:
    hostile = (
        '<p>Hi <script>alert(1)</script><b onclick="x()">bold</b></p>'
        '<a href="javascript:alert(2)">js</a><a href="/rel">rel</a>'
        '<a href="https://example.com/ok" onmouseover="x()">ok</a>'
        '<img src="https://evil.test/p.png" onerror="alert(3)"><iframe src="https://e.test"></iframe>'
        '<svg onload="alert(4)"><circle/></svg><style>*{display:none}</style>'
        "<ul><li>one</li></ul>\n\n<p>after a blank line</p>"
    )
    out = str(clean_html(hostile))
    assert "<script" not in out and "alert" not in out
    assert "onclick" not in out and "onerror" not in out and "onmouseover" not in out
    assert "<img" not in out and "<iframe" not in out and "<svg" not in out
    assert "<style" not in out and "display:none" not in out
    assert "javascript:" not in out and 'href="/rel"' not in out
    assert '<a href="https://example.com/ok" rel="nofollow noopener noreferrer">ok</a>' in out
    assert "<ul><li>one</li></ul>" in out and "<b>bold</b>" in out
    assert "\n" not in out  # a blank line would end the raw HTML block in Markdown


def test_rich_text_escapes_plain_bodies_and_keeps_line_breaks() -> None:
    out = str(rich_text("[x](javascript:alert(1)) <script>", "line one\n<script>two"))
    assert out == "line one<br>&lt;script&gt;two"
    assert str(rich_text("<ul><li>a</li></ul>", "- a")) == "<ul><li>a</li></ul>"


def test_front_matter_title_is_yaml_and_html_safe() -> None:
    title = 'A "quoted" <script>x</script> \u2028 line\u2029 sep \x85 next: # not a comment'
    fm = front_matter_title(title)
    parsed = yaml.safe_load(f"title: {fm}\n")["title"]
    assert parsed == str(escape(one_line(title, 120)))
    assert "<" not in parsed


@given(st.text())
def test_front_matter_round_trips_any_title(title: str) -> None:
    fm = front_matter_title(title)
    parsed = yaml.safe_load(f"title: {fm}\n")["title"]
    assert parsed == str(escape(one_line(title, 120)))
    assert len(one_line(title, 120)) <= 120


@given(st.text())
def test_escaped_text_never_carries_markup(text: str) -> None:
    shown = str(escape(clean_text(text)))
    assert "<" not in shown and ">" not in shown and '"' not in shown
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", shown)


@given(st.text(min_size=1, max_size=200))
def test_path_segment_is_safe_and_stable(value: str) -> None:
    seg = path_segment(value)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", seg)
    assert seg.lower() not in ("index", "readme")
    assert seg == path_segment(value)


def test_path_segment_keeps_plain_ids_and_separates_tricky_ones() -> None:
    assert path_segment("zzm4nczlpjyy") == "zzm4nczlpjyy"
    assert path_segment("01M2D1CZG0862JB4JHVW56QF89") == "01M2D1CZG0862JB4JHVW56QF89"
    assert path_segment("../../etc") != path_segment("..-..-etc")
    assert "/" not in path_segment("a/b") and "." not in path_segment("../x")
    assert path_segment("index").startswith("index-")
    assert path_segment("API Gateway") != path_segment("api gateway")


def test_a_crafted_id_cannot_take_the_file_of_another() -> None:
    hashed = path_segment("index")
    assert path_segment(hashed) != hashed
    assert path_segment("abc-deadbeef") != "abc-deadbeef"


def test_a_trailing_newline_never_passes_for_a_plain_id() -> None:
    # `$` also matches before a final newline: an id "0\n" once came back unchanged and
    # would have named a file with a newline in it.
    from kb.config import valid_slug

    assert path_segment("0\n") != "0\n"
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", path_segment("0\n"))
    assert not valid_slug("github\n")
    assert valid_slug("github")
