"""`kb postmortem PROVIDER/ID`: a cited postmortem draft from everything the KB knows."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from kb.commands.common import err, open_store


def register(app: typer.Typer) -> None:
    """Add `kb postmortem` to the CLI."""
    app.command()(postmortem)


def postmortem(
    key: Annotated[str, typer.Argument(help="PROVIDER/ID, e.g. github/zjchv3zvfg50")],
    template: Annotated[str, typer.Option(help="sre, atlassian, pagerduty, or a path to your own jinja2 file (*.md.j2, or *.html.j2 for HTML).")] = "sre",  # noqa: E501
    fmt: Annotated[str, typer.Option("--format", help="md, html or json.")] = "md",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File (default stdout).")] = None,  # noqa: E501
    polish: Annotated[bool, typer.Option("--polish", help="Let a language model (KB_LLM_URL) rewrite the summary and lessons; every citation is verified.")] = False,  # noqa: E501
) -> None:
    """Draft a postmortem of one incident from public data, every fact with a footnote.

    What the public record does not say is left as a "Not disclosed by the provider" slot.
    With --polish and KB_LLM_URL set (one or more OpenAI-compatible chat-completions URLs,
    comma-separated; KB_LLM_MODEL, KB_LLM_API_KEY, KB_LLM_TIMEOUT), the summary and lessons
    are rewritten from the draft's own facts; a rewrite that loses a citation is discarded.

    Example: kb postmortem github/zjchv3zvfg50 --template atlassian --format html -o pm.html
    """
    from kb.config import load_settings
    from kb.drafts import build_draft, check_draft, render_draft
    from kb.drafts.render import FORMATS
    from kb.errors import ConfigError
    from kb.terminal import escape_controls
    from scrapers.archive import Archive

    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    settings = load_settings()
    with open_store(settings) as store:
        draft = build_draft(store, key)
        archive = Archive(settings.raw_dir) if settings.raw_dir.is_dir() else None
        for problem in check_draft(store, draft, archive=archive):
            err.print(f"warning: {key}: citation {problem}", markup=False)
    if polish:
        from kb.drafts.polish import polish_draft

        polish_settings = settings.llm if settings.llm.endpoints else None
        if polish_settings is None:
            raise ConfigError("--polish needs KB_LLM_URL (an OpenAI-compatible chat "
                              "completions URL; several may be given, comma-separated)")
        result = polish_draft(draft, polish_settings)
        for note in result.notes:
            err.print(f"kb: polish: {note}", markup=False)
        draft = result.draft
    text = render_draft(draft, template, fmt)
    if output is None:
        # Vendor text on a terminal: controls made visible (kb.terminal); a file keeps it all.
        sys.stdout.write(escape_controls(text))
        return
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)
    err.print(f"kb: wrote {fmt} draft of {key} to {output}")
