"""`kb site build` end to end: render the docs folder, then mkdocs it into the site folder.

Layout (all generated, git-ignored): <build>/docs (Markdown from the database),
<build>/site (the HTML people browse), where <build> is $KB_HOME/build by default (each KB
home has its own site: two homes never overwrite each other's), and mkdocs.yml with the
site/ sources is in the repository. mkdocs runs in-process on a fresh folder that replaces
the old site only when the build succeeded, so `kb site serve` never shows a half-built
site. Builds of one build folder take turns (a lock file), and mkdocs is skipped when
nothing it reads changed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from kb.config import env_value
from kb.errors import ConfigError, KbError
from kb.render.output import replace_dir
from kb.render.site import Progress, RenderReport, render_site

if TYPE_CHECKING:
    from kb.render.sections import Section
    from kb.store import Store

STAMP = ".kb-site-stamp"  # digest of what the current site was built from
SITE_DIR_ENV = "KB_SITE_DIR"  # build folder override (kb site build/serve, the site stage)


@dataclass(frozen=True)
class Layout:
    """Where the site's sources and outputs are."""

    config: Path  # mkdocs.yml
    build: Path  # the generated folder
    sources: Path | None = None  # templates, assets, pages (default: site/ beside mkdocs.yml)

    @property
    def source(self) -> Path:
        return self.sources or self.config.parent / "site"

    @property
    def docs(self) -> Path:
        return self.build / "docs"

    @property
    def site(self) -> Path:
        return self.build / "site"


def find_layout(config: Path | None = None, build: Path | None = None, *,
                home: Path | None = None) -> Layout:
    """mkdocs.yml given, else ./mkdocs.yml, else the one beside the installed `kb` package
    (an editable install of the repository). The build folder: `build`, else $KB_SITE_DIR,
    else build/ in the KB home `home`, else build/ beside mkdocs.yml."""
    if build is None and (named := env_value(SITE_DIR_ENV)):
        build = Path(named).expanduser()
    if build is None and home is not None:
        build = home / "build"
    candidates = [config] if config else [Path("mkdocs.yml"),
                                          Path(__file__).resolve().parents[2] / "mkdocs.yml"]
    for candidate in candidates:
        if candidate and candidate.is_file() and (candidate.parent / "site" / "templates").is_dir():
            root = candidate.resolve()
            return Layout(root, (build or root.parent / "build").resolve())
    raise ConfigError("mkdocs.yml with a site/ folder beside it not found; run in the "
                      "repository or pass --config")


@dataclass
class BuildReport:
    render: RenderReport
    built: bool = False  # False: mkdocs skipped, nothing it reads changed
    mkdocs_seconds: float = 0.0
    mkdocs_cpu_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


@contextlib.contextmanager
def _turn(build: Path) -> Iterator[None]:
    """One build of a build folder at a time (flock: released if the process dies)."""
    build.mkdir(parents=True, exist_ok=True)
    fd = os.open(build / ".kb-site.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _inputs_digest(layout: Layout, docs_digest: str) -> str:
    """What mkdocs reads: the docs folder, mkdocs.yml and the theme overrides."""
    h = hashlib.sha256(docs_digest.encode())
    h.update(layout.config.read_bytes())
    overrides = layout.source / "overrides"
    for path in sorted(overrides.rglob("*")) if overrides.is_dir() else []:
        if path.is_file():
            h.update(path.relative_to(overrides).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage().splitlines()[0] if record.getMessage() else "")


def run_mkdocs(layout: Layout, site_dir: Path) -> list[str]:
    """mkdocs build of `layout.docs` into `site_dir`; returns mkdocs' warning lines."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    collect = _Collect()
    logger = logging.getLogger("mkdocs")
    logger.addHandler(collect)
    try:
        config = load_config(str(layout.config), docs_dir=str(layout.docs),
                             site_dir=str(site_dir))
        config.plugins.on_startup(command="build", dirty=False)
        try:
            build(config)
        finally:
            config.plugins.on_shutdown()
    except MkDocsException as exc:
        raise KbError(f"mkdocs: {str(exc).splitlines()[0] if str(exc) else exc!r}") from None
    finally:
        logger.removeHandler(collect)
    return collect.lines


def build_site(
    store: Store,
    layout: Layout,
    *,
    as_of: date | None = None,
    force: bool = False,
    extra_sections: Sequence[Section] = (),
    progress: Progress | None = None,
) -> BuildReport:
    """Render the database into build/docs and, when anything mkdocs reads changed (or
    `force`), build build/site from it."""
    with _turn(layout.build):
        stamp = layout.build / STAMP
        if layout.site.is_dir() and not stamp.is_file() and any(layout.site.iterdir()):
            raise ConfigError(f"{layout.site} holds files `kb site build` did not write; "
                              "choose a new or empty build folder")
        rendered = render_site(store, layout.docs, layout.source, as_of=as_of,
                               extra_sections=extra_sections, progress=progress)
        report = BuildReport(rendered)
        digest = _inputs_digest(layout, rendered.digest)
        current = stamp.read_text().strip() if stamp.is_file() else ""
        if not force and current == digest and (layout.site / "index.html").is_file():
            return report
        fresh = layout.build / f"site.new-{os.getpid()}"
        if fresh.exists():
            shutil.rmtree(fresh)
        started, cpu = time.perf_counter(), time.process_time()
        try:
            report.warnings = run_mkdocs(layout, fresh)
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        report.mkdocs_seconds = time.perf_counter() - started
        report.mkdocs_cpu_seconds = time.process_time() - cpu
        replace_dir(fresh, layout.site)
        stamp.write_text(digest + "\n")
        report.built = True
        return report
