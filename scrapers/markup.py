"""HTML fragments (status-update bodies, feed content) turned into readable plain text.

Every HTML body the scrapers and the `kb` normalizer see passes through `html_to_text`, so it
must be cheap and must never raise: bodies come from third parties and may be huge, malformed
or deliberately hostile. The tree walk below is iterative (no recursion limit on 10k-deep
nesting) and any failure falls back to a linear regex stripper.
"""

from __future__ import annotations

import html
import re
import threading
import warnings

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from bs4.element import (
    CData,
    Comment,
    Declaration,
    Doctype,
    NavigableString,
    ProcessingInstruction,
    Tag,
)
from lxml import etree

__all__ = ["html_to_text"]

# Elements whose content is never readable text (code, embedded documents, metadata).
_DROP = frozenset({
    "script", "style", "template", "iframe", "frame", "frameset", "noscript", "object",
    "embed", "applet", "svg", "math", "canvas", "head", "title", "meta", "link", "base",
    "select", "option", "textarea", "button", "audio", "video", "source", "track", "map",
})
# Elements that start a new paragraph.
_BLOCK = frozenset({
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "ul", "ol", "dl", "dt",
    "dd", "blockquote", "pre", "section", "article", "aside", "header", "footer", "nav",
    "main", "figure", "figcaption", "address", "details", "summary", "fieldset", "form",
    "hr", "body", "html", "caption", "thead", "tbody", "tfoot",
})
_CELL = frozenset({"td", "th"})
# Non-text node types bs4 models as strings.
_SKIP_STRINGS = (Comment, CData, Declaration, Doctype, ProcessingInstruction)

# Above this size the tree parse costs more than it is worth; the regex stripper is linear.
_TREE_LIMIT = 2_000_000

# Private-use sentinels mark structure while text is still being collected, so that
# whitespace in the source can be collapsed without touching the breaks we insert.
_LINE = "\ue000"
_PARA = "\ue001"
_ITEM = "\ue002"
_NO_SENTINELS = str.maketrans({_LINE: " ", _PARA: " ", _ITEM: " "})

_WS = re.compile(r"[^\S\n]+")  # whitespace except newline (includes NBSP and friends)
_ANY_WS = re.compile(r"\s+")


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: `<br>` → newline, blocks → blank-line-separated
    paragraphs, `<li>` → "- item" lines, scripts/styles/comments dropped, entities decoded,
    runs of spaces collapsed, result stripped. Never raises; returns "" for empty input."""
    if not markup:
        return ""
    try:
        text = markup if isinstance(markup, str) else str(markup)
        text = text.translate(_NO_SENTINELS)  # input must not forge our structure markers
        if "<" not in text and "&" not in text:
            return _finish(_ANY_WS.sub(" ", text))
        if len(text) > _TREE_LIMIT:
            return _regex_to_text(text)
        try:
            return _events_to_text(text)
        except Exception:  # whatever lxml's event stream refuses, the soup path decides
            return _tree_to_text(text)
    except Exception:  # hostile input must not break the caller; degrade, don't fail
        try:
            return _regex_to_text(str(markup).translate(_NO_SENTINELS))
        except Exception:
            return ""


class _TextTarget:
    """lxml parser target that writes the text as the events arrive.

    The same parser bs4's "lxml" builder drives (etree.HTMLParser, recover=True), the same
    events, the same output as `_tree_to_text` (proved over every corpus body by
    tests/test_markup_equivalence.py), without building a tree: bs4's tree cost most of an
    ingest's normalizing time. Consecutive data events are joined between structural events,
    as bs4 joins them into one string; comments, processing instructions and doctypes are
    dropped, as bs4's special strings are.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.out: list[str] = []
        self._data: list[str] = []
        self._closers: list[str | None] = []
        self._skip = 0  # depth inside a dropped element (or a <br>'s content)

    def _flush(self) -> None:
        if self._data:
            if not self._skip:
                self.out.append(_ANY_WS.sub(" ", "".join(self._data)))
            self._data = []

    def start(self, tag: str, attrib: object) -> None:
        self._flush()
        if self._skip:
            self._skip += 1
            return
        name = tag.rpartition("}")[2].lower() if tag.startswith("{") else tag.lower()
        if name in _DROP:
            self._skip = 1
        elif name == "br":
            self.out.append(_LINE)
            self._skip = 1
        elif name == "li":
            self.out.append(_ITEM)
            self._closers.append(_LINE)
        elif name in _BLOCK:
            self.out.append(_PARA)
            self._closers.append(_PARA)
        elif name in _CELL:
            self.out.append(" ")
            self._closers.append(" ")
        else:
            self._closers.append(None)

    def end(self, tag: str) -> None:
        self._flush()
        if self._skip:
            self._skip -= 1
            return
        if self._closers:
            closer = self._closers.pop()
            if closer is not None:
                self.out.append(closer)

    def data(self, data: str) -> None:
        self._data.append(data)

    def comment(self, text: str) -> None:
        self._flush()

    def pi(self, target: str, data: str) -> None:
        self._flush()

    def doctype(self, name: str, pubid: str, system: str) -> None:
        self._flush()

    def close(self) -> None:
        self._flush()


class _EventParser(threading.local):
    """One parser and target per thread, reused: making an lxml parser inspects its target's
    methods, which cost as much as parsing a short body."""

    def __init__(self) -> None:
        self.target = _TextTarget()
        self.parser = etree.HTMLParser(target=self.target, recover=True, huge_tree=False)


_EVENTS = _EventParser()


def _events_to_text(text: str) -> str:
    """The fast path: lxml's parser events straight to text (see `_TextTarget`)."""
    if text[:1] == "\N{BYTE ORDER MARK}":  # as bs4 strips it before parsing a str
        text = text[1:]
    target, parser = _EVENTS.target, _EVENTS.parser
    target.reset()
    try:
        parser.feed(text)
        parser.close()
    except BaseException:
        _EVENTS.__init__()  # a parser left mid-document is not reused
        raise
    return _finish("".join(target.out))


def _tree_to_text(text: str) -> str:
    """The reference path through a BeautifulSoup tree; used where the event path fails."""
    with warnings.catch_warnings():
        # Fragments that look like a URL or like XML are still HTML fragments here.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(text, "lxml")
    out: list[str] = []
    # Iterative walk: a node is pushed as itself (enter) and a string marker for its close.
    stack: list[object] = [soup]
    while stack:
        node = stack.pop()
        if isinstance(node, str) and not isinstance(node, NavigableString):
            out.append(node)  # a closing marker pushed below
            continue
        if isinstance(node, NavigableString):
            if not isinstance(node, _SKIP_STRINGS):
                out.append(_ANY_WS.sub(" ", str(node)))
            continue
        if not isinstance(node, Tag):
            continue
        name = (node.name or "").lower()
        if name in _DROP:
            continue
        if name == "br":
            out.append(_LINE)
            continue
        if name == "li":
            out.append(_ITEM)
            stack.append(_LINE)
        elif name in _BLOCK:
            out.append(_PARA)
            stack.append(_PARA)
        elif name in _CELL:
            out.append(" ")
            stack.append(" ")
        stack.extend(reversed(node.contents))
    return _finish("".join(out))


_R_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
_R_DROP = re.compile(
    r"<(script|style|template|iframe|noscript|object|svg|math|head|title|textarea)\b"
    r"[^>]*>.*?(?:</\1\s*>|$)",
    re.S | re.I,
)
_R_BR = re.compile(r"<br\b[^>]*>", re.I)
_R_LI = re.compile(r"<li\b[^>]*>", re.I)
_R_BLOCK = re.compile(
    r"</?(?:p|div|h[1-6]|tr|table|ul|ol|dl|dt|dd|blockquote|pre|section|article|hr|li)\b[^>]*>",
    re.I,
)
_R_TAG = re.compile(r"<[^>]*>?")


def _regex_to_text(text: str) -> str:
    """Linear fallback for inputs the tree walk refuses (size, parser failure)."""
    text = _R_COMMENT.sub(" ", text)
    text = _R_DROP.sub(" ", text)
    text = _R_BR.sub(_LINE, text)
    text = _R_LI.sub(_ITEM, text)
    text = _R_BLOCK.sub(_PARA, text)
    text = _R_TAG.sub("", text)
    text = html.unescape(_ANY_WS.sub(" ", text))
    return _finish(text)


def _finish(text: str) -> str:
    """Turn sentinels into newlines, strip every line, keep at most one blank line."""
    text = text.replace(_ITEM, "\n\n- ").replace(_PARA, "\n\n\n").replace(_LINE, "\n")
    lines = [_WS.sub(" ", line).strip() for line in text.split("\n")]
    paragraphs: list[str] = []
    current: list[str] = []
    blank = False
    for line in lines:
        if not line or line == "-":
            blank = bool(current) or blank
            continue
        if blank and current:
            paragraphs.append("\n".join(current))
            current = []
        blank = False
        current.append(line)
    if current:
        paragraphs.append("\n".join(current))
    return _join_items("\n\n".join(paragraphs))


_ITEM_GAP = re.compile(r"(^- [^\n]*)\n\n(?=- )", re.M)


def _join_items(text: str) -> str:
    """List items are single lines, not paragraphs: "- a\\n- b", not "- a\\n\\n- b"."""
    previous = None
    while previous != text:
        previous = text
        text = _ITEM_GAP.sub(r"\1\n", text)
    return text
