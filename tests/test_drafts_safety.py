"""Drafts quote third-party text: hostile titles and updates stay inert in every format, and a
user's own template runs sandboxed."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.drafts import draft_from_incident, render_draft
from kb.drafts.citations import uncited_sentences
from kb.drafts.render import md_escape
from kb.errors import ConfigError
from kb.model import ImpactWindow, Incident, Kind, Phase, Severity, SourceRef, Update

T0 = datetime(2026, 4, 28, 17, 30, tzinfo=UTC)
HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) "
    "![x](http://evil.example/x.png) {{ 7*7 }} {% raw %} [^u1] | a | b | \u202eevil "
    "<a href='javascript:alert(4)'>x</a> &lt;script&gt; `code` **bold** # not a heading"
)


class _Elements(HTMLParser):
    """Every element of an HTML page with its attributes, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def assert_inert(page: str) -> None:
    """No script, image, frame or style element; no event handler; links http(s) or #."""
    parser = _Elements()
    parser.feed(page)
    for tag, attrs in parser.found:
        assert tag not in ("script", "img", "iframe", "style", "object", "embed") or (
            tag == "style" and not attrs), tag
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        href = attrs.get("href") or ""
        assert href.startswith(("http://", "https://", "#")) or tag != "a", href


def hostile_incident(title: str = HOSTILE, text: str = HOSTILE) -> Incident:
    updates = tuple(
        Update(T0 + timedelta(minutes=10 * i), phase, phase.value, text, text,
               channels=("statuspage_json",))
        for i, phase in enumerate((Phase.INVESTIGATING, Phase.RESOLVED))
    )
    return Incident(
        provider="evil", native_id="x1", title=title, kind=Kind.INCIDENT, status="resolved",
        severity=Severity.MAJOR, url="javascript:alert(5)",
        impact_window=ImpactWindow(T0, T0 + timedelta(minutes=20), text), updates=updates,
        sources=(SourceRef("file:///tmp/<script>.json", T0, "b" * 64, "statuspage"),),
    )


@pytest.mark.parametrize("template", ["sre", "atlassian", "pagerduty"])
def test_hostile_text_is_inert_in_markdown_and_html(template: str) -> None:
    draft = draft_from_incident(hostile_incident())
    md = render_draft(draft, template, "md")
    assert not re.search(r"(?<!\\)<(?:script|img|a |/script)", md)  # only escaped \<
    assert not re.search(r"(?<!\\)\]\(javascript:", md)  # no link can form
    assert "\u202e" not in md  # right-to-left override dropped
    assert "{{ 7\\*7 }}" in md and "49" not in md  # template syntax in data is just text
    assert uncited_sentences(md) == []
    page = render_draft(draft, template, "html")
    assert_inert(page)
    body = page.split("<body>", 1)[1]
    assert "<style" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body  # shown, not run


def test_a_ten_thousand_character_title_renders() -> None:
    draft = draft_from_incident(hostile_incident(title="Down " * 2000))
    md = render_draft(draft)
    assert md.startswith("# Postmortem: Down Down")
    assert uncited_sentences(md) == []


def test_html_templates_autoescape_and_are_sanitised(tmp_path: Path) -> None:
    own = tmp_path / "mine.html.j2"
    own.write_text("<h1>{{ draft.title }}</h1><p>{{ paragraph(draft.summary) }}</p>"
                   "<script>alert('template')</script>{{ footnotes() }}")
    page = render_draft(draft_from_incident(hostile_incident()), str(own), "html")
    assert_inert(page)  # even the template's own script is dropped by nh3
    body = page.split("<body>", 1)[1]
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert '<sup><a href="#fn-u1"' in body


@pytest.mark.parametrize("attack", [
    "{{ draft.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ fact.__globals__ }}",
])
def test_user_templates_are_sandboxed(tmp_path: Path, attack: str) -> None:
    own = tmp_path / "attack.md.j2"
    own.write_text(attack)
    with pytest.raises(ConfigError, match="template"):
        render_draft(draft_from_incident(hostile_incident()), str(own))


def test_markdown_escaping_keeps_the_text_and_blocks_constructs() -> None:
    assert md_escape("a_b *c* [d](e) <f> | `g` ~h~ &amp;") == (
        "a\\_b \\*c\\* \\[d\\](e) \\<f\\> \\| \\`g\\` \\~h\\~ \\&amp;")
    assert md_escape("# title") == "\\# title"
    assert md_escape("1. item") == "1\\. item"
    assert md_escape("multi\nline\ttext") == "multi line text"


printable = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=200)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=printable, text=printable)
def test_any_text_stays_text_and_every_number_stays_cited(title: str, text: str) -> None:
    draft = draft_from_incident(hostile_incident(title=title, text=text))
    md = render_draft(draft)
    assert uncited_sentences(md) == []
    assert_inert(render_draft(draft, "sre", "html"))


def test_polished_text_is_escaped_but_keeps_its_markers() -> None:
    draft = draft_from_incident(hostile_incident(title="Errors"))
    polished = replace(draft, polished={"summary": "<b>Bold</b> claim at 17:30.[^u1]"})
    md = render_draft(polished)
    assert "\\<b\\>Bold\\</b\\> claim at 17:30.[^u1]" in md
