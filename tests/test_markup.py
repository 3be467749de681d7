"""html_to_text: readable text out of status-update HTML, and no exceptions on hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrapers import markup
from scrapers.markup import html_to_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("", ""),
        ("plain   text \n with  spaces ", "plain text with spaces"),
        ("<p>Hello <b>world</b></p><p>Second&nbsp;para &amp; more</p>",
         "Hello world\n\nSecond para & more"),
        ("line1<br>line2<br/>line3", "line1\nline2\nline3"),
        ("Intro<ul><li>a</li><li>b <i>c</i></li></ul>After", "Intro\n\n- a\n- b c\n\nAfter"),
        ("<ol><li>one</li><li></li><li>two</li></ol>", "- one\n- two"),
        ("<h1>Title</h1>body<div>block</div>", "Title\n\nbody\n\nblock"),
        ("<table><tr><td>a</td><td>b</td></tr><tr><th>c</th></tr></table>", "a b\n\nc"),
        ("<script>alert(1)</script><style>p{}</style><!-- note -->text"
         "<template>t</template><iframe src=x>i</iframe><noscript>n</noscript>", "text"),
        ("&lt;b&gt; &quot;q&quot; &#8217; &#x41;", "<b> \"q\" \u2019 A"),
        ("</p></div>stray closers<p", "stray closers"),
        ("<p>a<br /><li>Start</li><li> End</p><p>next</p>", "a\n\n- Start\n- End\n\nnext"),
        # A real Statuspage update header (Claude feed).
        ("<p> <small>Oct <var data-var='date'> 7</var>, <var data-var='time'>21:23</var> UTC"
         "</small><br> <strong>Resolved</strong> - done. </p>",
         "Oct 7, 21:23 UTC\nResolved - done."),
        # A Postmortem body: Markdown inside HTML (Parse RSS).
        ("# Summary\n<br />\n<br />We would like", "# Summary\n\nWe would like"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_text_without_markup_is_only_collapsed() -> None:
    assert html_to_text("  a\tb\n\nc  ") == "a b c"


def test_ten_thousand_deep_nesting() -> None:
    deep = "<div>" * 10_000 + "core" + "</div>" * 10_000
    assert html_to_text(deep) == "core"
    unclosed = "<b><i><span>" * 5_000 + "x"
    assert html_to_text(unclosed) == "x"


def test_huge_input_uses_linear_fallback() -> None:
    huge = "<p>hello <b>world</b></p>" * 100_000  # 2.5 MB, above the tree limit
    text = html_to_text(huge)
    assert text.startswith("hello world\n\nhello world")
    assert text.count("hello world") == 100_000


def test_unterminated_script_swallows_rest_only() -> None:
    assert html_to_text("before<script>var x = '</p>'; " + "x" * 1000) == "before"


def test_fallback_when_the_parser_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RecursionError("simulated")

    monkeypatch.setattr(markup, "BeautifulSoup", broken)
    text = html_to_text("<p>a &amp; b</p><script>x</script><ul><li>i</li></ul>c<br>d")
    assert text == "a & b\n\n- i\n\nc\nd"


_SOUP = st.lists(
    st.sampled_from(["<p>", "</p>", "<br>", "<li>", "<ul>", "</ul>", "<script>", "</script>",
                     "<!--", "-->", "<div", ">", "&amp;", "&#", "&nbsp;", "\ue001", "x", " ", "\n",
                     "<![CDATA[", "]]>", "<?xml", "<!DOCTYPE html>", "<table><tr><td>"]),
    max_size=60,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_SOUP | st.text())
def test_never_raises_and_output_is_clean(html: str) -> None:
    text = html_to_text(html)
    assert isinstance(text, str)
    assert text == text.strip()
    assert "\n\n\n" not in text
