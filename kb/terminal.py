"""What reaches a terminal: third-party text printed as text, never as markup or controls.

Titles, update bodies, HN titles and file names are written by third parties. Printed
through rich they are dangerous twice:

- as *console markup*: `API outage [/]` raises rich's MarkupError (the command dies), `[x]`
  silently disappears, `:smile:` becomes an emoji;
- as *terminal controls*: `ESC[2J` clears the screen, an OSC sequence retitles the window or
  plants an OSC-8 hyperlink whose text lies about its target, a C1 CSI (U+009B) does the same
  on terminals that honour 8-bit controls, and a bidi override reorders what a line says.

Every CLI console is a `SafeConsole` (kb.commands.common out, err): it never parses markup
(styling is done with `rich.text.Text` and `style=`, which cannot be injected) nor emoji
codes, and every piece of text it lays out or writes passes `escape_controls`, the one
function that makes controls visible. tests/test_output_safety.py fails if any module under
kb/ builds its own rich Console or parses markup.

Escapes are written as `\\uXXXX`: visible in a table, and inside a JSON string (`--json`,
where json.dumps already escapes C0 but not DEL, C1, lone surrogates or bidi controls) the
same six characters are a valid escape of the very character, so JSON output stays exact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.text import Text

# C0 controls except tab and newline (CR too: it rewinds the line and hides what came
# before), DEL, C1 controls, lone surrogates (they cannot even be encoded as UTF-8), the
# bidi embeddings/overrides/isolates ("Trojan Source"; LRM/RLM only mark direction), and the
# Unicode line/paragraph separators (str.splitlines and JavaScript end a line there, so a
# raw one would split a JSONL record or a log line in two).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def escape_controls(text: str) -> str:
    """`text` with every control character that could act on a terminal written as a visible
    `\\uXXXX` escape (newline and tab kept). Idempotent; plain text is returned unchanged."""
    if text.isascii() and text.isprintable():
        return text  # the common case: nothing to escape
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def escape_line(text: str) -> str:
    """`escape_controls`, and newlines and tabs escaped too: a message that must stay one line
    (an error or warning quoting a vendor's id) whatever the vendor put in it."""
    return escape_controls(text).replace("\n", "\\u000a").replace("\t", "\\u0009")


def plain(text: object, style: str = "") -> Text:
    """Third-party text as a rich `Text`: never read as markup, controls escaped. Use it for
    table cells and `Text.assemble` parts where the console is not known to be safe."""
    return Text(escape_controls("" if text is None else str(text)), style=style)


class SafeConsole(Console):
    """A rich Console that prints text as text (see the module docstring).

    Markup and emoji are off and cannot be turned on per call (`markup=True` is ignored:
    vendor text interpolated into a markup string is exactly the bug). Strings are escaped
    before layout (`render_str`, so tables measure what is shown); every rendered segment is
    checked again at the exit (`render`), which catches `Text` objects built elsewhere."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.update(markup=False, emoji=False)
        kwargs.setdefault("highlight", False)
        super().__init__(**kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:  # type: ignore[override]
        kwargs.update(markup=False, emoji=False)
        return super().render_str(escape_controls(text), **kwargs)

    def render(self, renderable: RenderableType,
               options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            # Control segments are rich's own cursor moves (progress bars), never vendor text.
            if segment.control or not segment.text:
                yield segment
            else:
                text = escape_controls(segment.text)
                yield segment if text == segment.text else Segment(text, segment.style)
