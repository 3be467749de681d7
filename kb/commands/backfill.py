"""`kb backfill PROVIDER`: fetch a Statuspage page's whole incident history (resumable)."""

from __future__ import annotations

from typing import Annotated

import typer

from kb.commands.common import JsonFlag, check_providers, fetch_settings, finish_run, open_line


def register(app: typer.Typer) -> None:
    """Add `kb backfill` to the CLI."""

    @app.command()
    def backfill(
        provider: Annotated[str, typer.Argument(help="Provider slug from sources.toml (a Statuspage page).")],  # noqa: E501
        restart: Annotated[bool, typer.Option("--restart", help="Forget saved progress and walk the history from page 1.")] = False,  # noqa: E501
        max_pages: Annotated[int, typer.Option("--max-pages", min=1, help="Stop the history walk after this many pages.")] = 400,  # noqa: E501
        as_json: JsonFlag = False,
    ) -> None:
        """Walk /history.json back to the page's first incident, then store each incident's
        full JSON. Interrupted runs resume where they stopped; incidents already stored
        unchanged are not requested again; requests keep the per-host politeness delay.

        Example: kb backfill github
        """
        from kb.backfill import backfill as run
        from kb.backfill import state_path
        from scrapers.fetch import Fetcher

        with open_line() as (line, settings):
            check_providers([provider], {s.slug for s in line.sources},
                            f"in the packaged list or {settings.sources_path}")
            source = next(s for s in line.sources if s.slug == provider)
            with Fetcher(fetch_settings(settings)) as fetcher:
                report = run(line, fetcher, source, state_path(settings.home, provider),
                             max_pages=max_pages, restart=restart, progress=line.progress)
        # The summary rides in the run report's notes: printed on stderr, or in --json output.
        line.report.notes.append(report.summary())
        finish_run(line.report, as_json)
