"""`kb site build` end to end: render the docs folder, then mkdocs it into the site folder.

Layout (all generated, git-ignored): <build>/docs (Markdown from the database),
<build>/site (the HTML people browse), where <build> is $KB_HOME/build by default (each KB
home has its own site: two homes never overwrite each other's), and mkdocs.yml with the
site/ sources is in the repository. mkdocs runs in-process on a fresh folder that replaces
the old site only when the build succeeded, so `kb site serve` never shows a half-built
site. Builds of one build folder take turns (a lock file), and mkdocs is skipped when
nothing it reads changed.

When only a few pages changed since the last build (and mkdocs.yml and the theme did not),
mkdocs builds just those pages (`run_mkdocs_pages`: the same theme, hook and search plugin,
through mkdocs' own page functions), moves each into the site atomically, deletes the pages
no longer produced and patches the search index, instead of rebuilding every page: at 100k
incidents a full mkdocs pass is minutes, one page well under a second (docs/site.md,
"Incremental builds"). `kb site build --force` always builds everything.

When the caller knows which incidents changed (`changed`: `kb update`, `kb watch`) and the
site was built before with the same theme, the render itself is limited to the pages those
incidents affect (kb.render.site.render_site); the stamp then says the site is "incremental
since" the last full render, and the next build without `changed` renders everything again
and brings the pages such a build leaves alone up to date.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import logging
import os
import shutil
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from kb.config import load_settings
from kb.errors import ConfigError, KbError
from kb.render.output import replace_dir
from kb.render.site import Progress, RenderReport, render_site

if TYPE_CHECKING:
    from kb.render.sections import Section
    from kb.store import Store

STAMP = ".kb-site-stamp"  # digest of what the current site was built from, then the theme's
# The stamp's first line after a changed-keys build: the docs folder is the full render of
# <digest> with the changed incidents' pages rendered since (the site matches the folder).
SINCE = "incremental since "
# At most this share of the pages built one by one into the existing site; above it a full
# mkdocs pass (which also refreshes sitemap.xml) costs about the same.
INCREMENTAL_SHARE = 0.25
INCREMENTAL_MIN = 50  # ... but a change of up to this many files is always built one by one
# From this many pages a full build runs mkdocs' page functions a chunk at a time
# (run_mkdocs_chunked) instead of mkdocs' build(), which holds every page's HTML in memory
# until the end (the site is about 23 KB of HTML a page).
CHUNKED_FROM = 5000
CHUNK = 1000


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
    if build is None and (named := load_settings().site_dir):
        build = named.expanduser()
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
    incremental: bool = False  # True: only the changed pages were built (run_mkdocs_pages)
    html_written: int = 0  # files of the site written or removed by an incremental build
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
    return hashlib.sha256(docs_digest.encode() + _theme_digest(layout).encode()).hexdigest()


def _theme_digest(layout: Layout) -> str:
    """What every page depends on: mkdocs.yml, the theme overrides and the hooks (a change
    there rebuilds every page)."""
    h = hashlib.sha256(layout.config.read_bytes())
    overrides = layout.source / "overrides"
    for path in sorted(overrides.rglob("*")) if overrides.is_dir() else []:
        if path.is_file():
            h.update(path.relative_to(overrides).as_posix().encode() + b"\0" + path.read_bytes())
    hooks = layout.source / "hooks"
    for path in sorted(hooks.glob("*.py")) if hooks.is_dir() else []:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage().splitlines()[0] if record.getMessage() else "")


@contextmanager
def _mkdocs(layout: Layout, site_dir: Path, *, dirty: bool) -> Iterator[tuple[Any, list[str]]]:
    """What every mkdocs pass of the KB shares: mkdocs.yml's config for a build of
    `layout.docs` into `site_dir` with its plugins started (and shut down however the block
    ends), the list that collects mkdocs' warning lines, and mkdocs' errors as one KbError."""
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    collect = _Collect()
    logger = logging.getLogger("mkdocs")
    logger.addHandler(collect)
    try:
        config = load_config(str(layout.config), docs_dir=str(layout.docs),
                             site_dir=str(site_dir))
        config.plugins.on_startup(command="build", dirty=dirty)
        try:
            yield config, collect.lines
        finally:
            config.plugins.on_shutdown()
    except MkDocsException as exc:
        raise KbError(f"mkdocs: {str(exc).splitlines()[0] if str(exc) else exc!r}") from None
    finally:
        logger.removeHandler(collect)


def run_mkdocs(layout: Layout, site_dir: Path) -> list[str]:
    """mkdocs build of `layout.docs` into `site_dir`; returns mkdocs' warning lines."""
    from mkdocs.commands.build import build

    with _mkdocs(layout, site_dir, dirty=False) as (config, warnings):
        build(config)
    return warnings


def run_mkdocs_chunked(layout: Layout, site_dir: Path) -> list[str]:
    """A full build of `layout.docs` into `site_dir` with mkdocs' own steps (config, files,
    theme files, nav, static templates, pages, search index), in mkdocs' order except that
    pages are read and written `CHUNK` at a time and their HTML dropped after each chunk:
    memory grows with the number of pages' titles and search entries, not with their HTML.
    The pages are the ones mkdocs' build() writes (tests/test_site_incremental.py compares
    them file by file). Returns mkdocs' warning lines."""
    from mkdocs.commands.build import _build_page, _build_theme_template, _populate_page
    from mkdocs.structure.files import get_files, set_exclusions
    from mkdocs.structure.nav import get_navigation
    from mkdocs.structure.pages import Page

    with _mkdocs(layout, site_dir, dirty=False) as (config, warnings):
        config = config.plugins.on_config(config)
        config.plugins.on_pre_build(config=config)
        files = get_files(config)
        env = config.theme.get_env()
        files.add_files_from_theme(env, config)
        files = config.plugins.on_files(files, config=config)
        set_exclusions(files, config)
        nav = get_navigation(files, config)
        nav = config.plugins.on_nav(nav, config=config, files=files)
        doc_files = files.documentation_pages()
        for file in doc_files:
            if file.page is None:
                Page(None, file, config)
        env = config.plugins.on_env(env, config=config, files=files)
        files.copy_static_files()
        for template in config.theme.static_templates:
            _build_theme_template(template, env, files, config, nav)
        for start in range(0, len(doc_files), CHUNK):
            chunk = [f.page for f in doc_files[start:start + CHUNK] if f.page is not None]
            for page in chunk:
                _populate_page(page, config, files)
            for page in chunk:
                _build_page(page, config, doc_files, nav, env)
            for page in chunk:  # what the next chunks never read again
                page.markdown = page.content = None
        search = config.plugins.get("material/search")
        if search is not None and search.config.enabled:
            # The search index one entry a line, written as it goes (material's own
            # on_post_build makes it one string: 195 MB at 100k incidents, the build's peak
            # memory), and patched a line at a time by run_mkdocs_pages.
            _write_search_index(site_dir / "search" / "search_index.json",
                                _search_config(search), search.search_index.entries)
            search.config.enabled = False  # its on_post_build then writes nothing
        config.plugins.on_post_build(config=config)
    return warnings


SEARCH_HEAD = b'{"config":'  # the search index: {"config":{...},"docs":[\n{entry},\n...\n]}
SEARCH_DOCS = b',"docs":[\n'
SEARCH_TAIL = b"\n]}"


def _search_config(search: Any) -> dict[str, Any]:
    """What material's search plugin writes as the index's "config" (generate_search_index)."""
    return {key: search.config[key] for key in ["lang", "separator", "pipeline", "fields"]}


def _dumps(value: object) -> bytes:
    return _ENCODER.encode(value).encode("utf-8")


# material's json.dumps arguments; one encoder (json.dumps with arguments makes one a call)
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


def _write_search_index(path: Path, config: dict[str, Any],
                        entries: Iterable[dict[str, Any] | bytes]) -> None:
    """The search index material's search plugin writes (the same JSON value), one entry a
    line, atomically. `entries`: dicts, or entry lines already encoded."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as handle:
        handle.write(SEARCH_HEAD + _dumps(config) + SEARCH_DOCS)
        lines = (entry if isinstance(entry, bytes) else _dumps(entry) for entry in entries)
        first = True
        while block := list(itertools.islice(lines, 1000)):  # a write per entry cost 30 %
            handle.write((b"" if first else b",\n") + b",\n".join(block))
            first = False
        handle.write(SEARCH_TAIL)
    tmp.replace(path)


def _nav_docs(items: object) -> Iterator[str]:
    """The Markdown paths named in mkdocs.yml's nav (any nesting)."""
    if isinstance(items, str):
        if items.endswith(".md"):
            yield items
    elif isinstance(items, dict):
        for value in items.values():
            yield from _nav_docs(value)
    elif isinstance(items, list):
        for value in items:
            yield from _nav_docs(value)


def run_mkdocs_pages(layout: Layout, changed: Sequence[str], removed: Sequence[str]) -> int:
    """Bring an existing `layout.site` up to date with the docs files `changed` (written by
    the render) and `removed` (pruned by it), without a full mkdocs pass: each changed
    Markdown page goes through mkdocs' own page functions (plugins, the kb_pages hook, the
    theme's templates, the nav of mkdocs.yml) into a staging folder, other files are copied
    as mkdocs copies them, then each file is moved into the site (atomic per file); the
    pages' old search entries are replaced by their new ones (what material's search does on
    a dirty reload). sitemap.xml and 404.html are left as the last full build wrote them.
    Returns how many files of the site were written or removed."""
    from mkdocs.commands.build import _build_page, _populate_page
    from mkdocs.structure.files import File, Files, set_exclusions
    from mkdocs.structure.nav import get_navigation
    from mkdocs.structure.pages import Page

    stage = layout.build / f"site.part-{os.getpid()}"
    if stage.exists():
        shutil.rmtree(stage)
    pages = sorted(p for p in changed if p.endswith(".md"))
    others = sorted(p for p in changed if not p.endswith(".md"))
    touched = 0
    try:
        with _mkdocs(layout, stage, dirty=True) as (config, _warnings):
            config = config.plugins.on_config(config)
            config.plugins.on_pre_build(config=config)
            env = config.theme.get_env()
            # Only the nav's pages and the changed ones: the generated pages link to each
            # other by relative URL (no Markdown link resolution), so mkdocs needs no list
            # of the other 100k files to build these.
            wanted = sorted(set(_nav_docs(config.nav)) | set(pages))
            files = Files([File(p, config.docs_dir, config.site_dir, config.use_directory_urls)
                           for p in wanted if (layout.docs / p).is_file()])
            set_exclusions(files, config)
            nav = get_navigation(files, config)
            nav = config.plugins.on_nav(nav, config=config, files=files)
            todo = []
            for file in files.documentation_pages():
                if file.page is None:
                    Page(None, file, config)
                if file.src_uri in pages:
                    assert file.page is not None
                    _populate_page(file.page, config, files)
                    todo.append(file)
            env = config.plugins.on_env(env, config=config, files=files)
            doc_files = files.documentation_pages()
            for file in todo:
                _build_page(file.page, config, doc_files, nav, env)
            search = config.plugins.get("material/search")
            entries = (search.search_index.entries
                       if search is not None and search.config.enabled else None)
        for relative in others:
            target = stage / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(layout.docs / relative, target)
        for path in sorted(stage.rglob("*")):
            if path.is_file():
                target = layout.site / path.relative_to(stage)
                target.parent.mkdir(parents=True, exist_ok=True)
                path.replace(target)
                touched += 1
        urls = {f.url for f in todo}
        for relative in removed:
            target = layout.site / (_page_dest(relative) if relative.endswith(".md")
                                    else relative)
            urls.add(_page_url(relative))
            if target.is_file():
                target.unlink()
                touched += 1
                with contextlib.suppress(OSError):  # an emptied folder goes too
                    target.parent.rmdir()
        if entries is not None:
            _patch_search_index(layout.site / "search" / "search_index.json", urls, entries)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return touched


def _generated(page: Path) -> bool:
    """Whether a docs page is one the render generated (front matter `kb_html: true`: HTML
    with relative links only). A hand-written Markdown page may link to any other page by
    its .md name, which mkdocs resolves against the whole file list: a change to one builds
    the whole site."""
    try:
        with page.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    front = head.split(b"\n---", 1)[0] if head.startswith(b"---") else b""
    return b"\nkb_html: true" in front


def _page_url(doc: str) -> str:
    """The site URL of a docs page, as mkdocs (use_directory_urls) makes it."""
    stem = doc.removesuffix(".md")
    if stem == "index":
        return ""
    return stem.removesuffix("/index").removesuffix("index") + "/"


def _page_dest(doc: str) -> str:
    return _page_url(doc) + "index.html"


def _patch_search_index(path: Path, urls: set[str], entries: list[dict[str, object]]) -> None:
    """Replace the search entries of the pages at `urls` (a page's entries are its URL and
    its URL with an anchor) by `entries`, written atomically, one entry a line. An index
    in that form (what run_mkdocs_chunked writes) is read a line at a time; another one
    (material's, from mkdocs' build() of a small site) is read whole."""
    if not path.is_file():
        raise KbError(f"{path}: no search index to update; run `kb site build --force`")
    with path.open("rb") as handle:
        head = handle.readline(1 << 16)  # the config: a few hundred bytes
        if head.startswith(SEARCH_HEAD) and head.endswith(SEARCH_DOCS):
            config = json.loads(head[len(SEARCH_HEAD):-len(SEARCH_DOCS)])
            kept = [line for line in _entry_lines(handle) if _location(line) not in urls]
        else:
            handle.seek(0)
            data = json.loads(handle.read())
            config = data.get("config", {})
            kept = [_dumps(e) for e in data.get("docs", [])
                    if str(e.get("location", "")).split("#", 1)[0] not in urls]
    _write_search_index(path, config, [*kept, *entries])


def _entry_lines(handle: IO[bytes]) -> Iterator[bytes]:
    """The entry lines of a one-entry-a-line search index after its first line."""
    for line in handle:
        if line == SEARCH_TAIL[1:]:
            return
        yield line.rstrip(b"\n").removesuffix(b",")


_LOCATION = b'{"location":"'
_DECODER = json.JSONDecoder()


def _location(line: bytes) -> str:
    """The page URL (without anchor) of one search entry line: material writes the location
    first, so only the line's head is decoded (the whole of 300,000 lines took a second)."""
    if line.startswith(_LOCATION):
        try:
            found, _ = _DECODER.raw_decode(
                line[:1024].decode("utf-8", "ignore"), len(_LOCATION) - 1)
            return str(found).split("#", 1)[0]
        except ValueError:  # a location longer than the head
            pass
    return str(json.loads(line).get("location", "")).split("#", 1)[0]


def _scoped_mkdocs(layout: Layout, report: BuildReport, current: str,
                  theme: str) -> BuildReport:
    """mkdocs after a changed-keys render: its written pages only (nothing is removed by
    such a render); a full pass where one of them is a hand-written page. The stamp keeps the
    digest of the last full render, marked incremental when anything was written."""
    rendered = report.render
    if not rendered.written:
        (layout.build / STAMP).write_text(f"{current}\n{theme}\n")
        return report
    started, cpu = time.perf_counter(), time.process_time()
    if all(_generated(layout.docs / p) for p in rendered.written if p.endswith(".md")):
        report.html_written = run_mkdocs_pages(layout, rendered.written, [])
        report.incremental = True
    else:
        fresh = layout.build / f"site.new-{os.getpid()}"
        if fresh.exists():
            shutil.rmtree(fresh)
        try:
            report.warnings = run_mkdocs_chunked(layout, fresh)
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        replace_dir(fresh, layout.site)
    report.mkdocs_seconds = time.perf_counter() - started
    report.mkdocs_cpu_seconds = time.process_time() - cpu
    since = current if current.startswith(SINCE) else SINCE + current
    (layout.build / STAMP).write_text(f"{since}\n{theme}\n")
    report.built = True
    return report


def build_site(
    store: Store,
    layout: Layout,
    *,
    as_of: date | None = None,
    force: bool = False,
    extra_sections: Sequence[Section] = (),
    progress: Progress | None = None,
    changed: Collection[str] | None = None,
) -> BuildReport:
    """Render the database into build/docs and, when anything mkdocs reads changed (or
    `force`), build build/site from it.

    `changed`: the keys of the incidents changed since the last build (RunReport.changed).
    When the site was built completely before with the same mkdocs.yml, theme overrides and
    hooks, only the pages those incidents affect are rendered and built
    (`report.render.scoped`); otherwise (no stamp, a build cut short, another theme,
    `force`, too many keys, a key no longer stored) the build is a full one, as without."""
    with _turn(layout.build):
        stamp = layout.build / STAMP
        if layout.site.is_dir() and not stamp.is_file() and any(layout.site.iterdir()):
            raise ConfigError(f"{layout.site} holds files `kb site build` did not write; "
                              "choose a new or empty build folder")
        current, _, built_theme = (stamp.read_text() if stamp.is_file() else "").partition("\n")
        theme = _theme_digest(layout)
        scoped = (changed is not None and not force and bool(current)
                  and current != "incomplete" and built_theme.strip() == theme
                  and (layout.site / "index.html").is_file())
        if stamp.is_file():
            # Until this build ends well the site matches neither the old docs nor the new:
            # a build cut short (render or mkdocs) leaves this, and the next one is full.
            stamp.write_text("incomplete\n\n")
        rendered = render_site(store, layout.docs, layout.source, as_of=as_of,
                               extra_sections=extra_sections, progress=progress,
                               changed=changed if scoped else None)
        report = BuildReport(rendered)
        if rendered.scoped:
            return _scoped_mkdocs(layout, report, current, theme)
        digest = _inputs_digest(layout, rendered.digest)
        if not force and current == digest and (layout.site / "index.html").is_file():
            stamp.write_text(f"{digest}\n{theme}\n")
            return report
        changed = len(rendered.written) + len(rendered.removed)
        if (not force and current and built_theme.strip() == theme
                and (layout.site / "index.html").is_file()
                and changed <= max(INCREMENTAL_MIN, INCREMENTAL_SHARE * rendered.pages)
                and all(_generated(layout.docs / p) for p in rendered.written
                        if p.endswith(".md"))):
            started, cpu = time.perf_counter(), time.process_time()
            report.html_written = run_mkdocs_pages(layout, rendered.written, rendered.removed)
            report.mkdocs_seconds = time.perf_counter() - started
            report.mkdocs_cpu_seconds = time.process_time() - cpu
            stamp.write_text(f"{digest}\n{theme}\n")
            report.built = report.incremental = True
            return report
        fresh = layout.build / f"site.new-{os.getpid()}"
        if fresh.exists():
            shutil.rmtree(fresh)
        started, cpu = time.perf_counter(), time.process_time()
        try:
            whole = run_mkdocs_chunked if rendered.pages >= CHUNKED_FROM else run_mkdocs
            report.warnings = whole(layout, fresh)
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        report.mkdocs_seconds = time.perf_counter() - started
        report.mkdocs_cpu_seconds = time.process_time() - cpu
        replace_dir(fresh, layout.site)
        stamp.write_text(f"{digest}\n{theme}\n")
        report.built = True
        return report
