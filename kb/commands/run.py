"""`kb ingest`, `kb scrape`, `kb update`, `kb reparse`: the runs that fill the store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kb.commands.common import (
    EmbedFlag,
    JsonFlag,
    check_providers,
    fetch_settings,
    finish_run,
    open_line,
)
from kb.errors import ConfigError

if TYPE_CHECKING:
    from kb.config import Settings
    from kb.pipeline import Line
    from kb.stage import RunReport


def register(app: typer.Typer) -> None:
    """Add `kb ingest`, `kb scrape`, `kb update` and `kb reparse` to the CLI."""
    for command in (ingest, scrape, update, reparse):
        app.command()(command)


def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files or folders of recorded payloads, or http(s) URLs of pages to fetch (a provider's write-up).")],  # noqa: E501
    provider: Annotated[str | None, typer.Option(help="Provider slug when the payload's host is not in sources.toml.")] = None,  # noqa: E501
    embed: EmbedFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Import recorded payloads (Statuspage JSON, Atom/RSS feeds, archiver wrappers).

    Formats are detected by content. Re-importing the same files changes nothing. A URL is
    fetched once (the fetch settings of `kb scrape`) and handled like a file: a provider's
    RCA or blog write-up becomes a postmortem document, another article a news signal.

    Example: kb ingest ../shared/corpus/statuspage_json/anthropic --embed
    """
    from kb.pipeline import fetch_urls, is_url
    from kb.pipeline import ingest as run

    urls = [p for p in paths if is_url(p)]
    with open_line() as (line, settings):
        if urls:
            from scrapers.fetch import Fetcher

            with Fetcher(fetch_settings(settings)) as fetcher:
                fetch_urls(line, urls, fetcher, provider=provider)
        report = run(line, [Path(p) for p in paths if not is_url(p)], provider=provider)
        _embed_after(line, settings, report, embed)
    finish_run(report, as_json)


def _embed_after(line: Line, settings: Settings, report: RunReport, embed: bool) -> None:
    """Run the embed stage after storing, when --embed asked for it."""
    if embed:
        from kb.pipeline import run_later_stages
        from kb.stage import StageContext

        run_later_stages(StageContext(line.store, settings, report, line.stage_progress),
                         only=["embed"])


ShardOption = Annotated[str | None, typer.Option(
    "--shard", metavar="K/N",
    help="Scrape only share K of N of the pages (sha1 of the slug mod N): N workers, "
         "one database.")]


def scrape(
    providers: Annotated[list[str] | None, typer.Argument(help="Provider slugs (default: all enabled).")] = None,  # noqa: E501
    embed: EmbedFlag = False,
    shard: ShardOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Fetch the configured status pages (conditional GET, retries, politeness) and store them.

    Example: kb scrape anthropic openai --embed
    Example: kb scrape --shard 2/3
    """
    from kb.pipeline import parse_shard

    part = parse_shard(shard) if shard is not None else None
    with open_line() as (line, settings):
        report = _scrape(line, settings, providers or [], part)
        _embed_after(line, settings, report, embed)
    finish_run(report, as_json)


def _scrape(line: Line, settings: Settings, providers: list[str],
            shard: tuple[int, int] | None = None) -> RunReport:
    from kb.pipeline import in_shard
    from kb.pipeline import scrape as run
    from scrapers.fetch import Fetcher

    chosen = [s for s in line.sources if (s.slug in providers if providers else s.enabled)]
    if shard is not None:
        every = len(chosen)
        chosen = [s for s in chosen if in_shard(s.slug, shard)]
        line.report.notes.append(f"shard {shard[0]}/{shard[1]}: {len(chosen)} of {every} "
                                 "page(s)")
    check_providers(providers, {s.slug for s in line.sources},
                    f"in the packaged list or {settings.sources_path}")
    with Fetcher(fetch_settings(settings)) as fetcher:
        return run(line, fetcher, chosen)


def update(
    from_dir: Annotated[Path | None, typer.Option("--from", help="Run on recorded payloads in this folder instead of the network.")] = None,  # noqa: E501
    shard: ShardOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Run the whole job: scrape (or import --from DIR), normalize, store, then every later
    stage (embedding, linking, site, ...), holding the writer lock throughout.

    Example: kb update --from data/samples
    """
    from kb.pipeline import ingest, parse_shard, run_later_stages
    from kb.stage import StageContext

    part = parse_shard(shard) if shard is not None else None
    if part is not None and from_dir is not None:
        raise ConfigError("--shard splits the pages scraped; it has no meaning with --from")
    with open_line() as (line, settings):
        report = (ingest(line, [from_dir]) if from_dir is not None
                  else _scrape(line, settings, [], part))
        run_later_stages(StageContext(line.store, settings, report, line.stage_progress))
    finish_run(report, as_json)


def reparse(as_json: JsonFlag = False) -> None:
    """Rebuild the normalized tables from the raw archive alone (offline)."""
    from kb.pipeline import reparse as run

    with open_line() as (line, _settings):
        report = run(line)
    finish_run(report, as_json)
