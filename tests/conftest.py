"""Shared test helpers and fixtures.

- `corpus`: the recorded corpus (../shared/corpus), or a clean skip where it is absent.
- `kb_home`: a private KB_HOME for in-process pipeline and CLI tests.
- `kb_env` / `run_kb`: the `python -m kb` subprocess, as users run it, on a given KB_HOME
  (for tests where start-up, signals, a kill, stdout bytes or peak memory are the point).
- `invoke_kb`: the same command line run in this process (typer's CliRunner isolation around
  `kb.cli.main`, so KbError → exit code mapping is the real one): no interpreter start-up
  and no re-import of kb per call, for tests that read a command's output.
- `recorded`: a RawDoc factory with a module's own URL and fetch time (`doc = recorded(URL,
  NOW)`), instead of a two-line `doc()` per parser test.
- `sqlite_store` / `ingested_store`: a writable SQLite store in a folder, empty or with
  recorded payloads imported through the real pipeline. An import of the same payloads is
  done once per test session; later callers get a copy of that database (a file copy costs
  milliseconds, an import seconds).

One ONNX export of the embedding model serves the whole run (KB_MODEL_CACHE, when unset).

Import the plain helpers with `from tests.conftest import run_kb` (tests/ is a package, so
this is the very module pytest loaded, not a second copy).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import pytest

from kb.config import PACKAGED_SOURCES

if TYPE_CHECKING:
    from typing import Literal

    from kb.store import Store
    from scrapers.records import RawDoc

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"

# Settings of the developer's own shell that would make a test read or write something other
# than its temporary KB: a database, a kb.toml, a language model endpoint.
PRIVATE_SETTINGS = ("KB_DATABASE_URL", "KB_CONFIG", "KB_LLM_URL")


@pytest.fixture
def corpus() -> Path:
    """../shared/corpus, or a clean skip where it is absent (a fresh clone elsewhere)."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    return CORPUS


@pytest.fixture
def kb_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private KB_HOME with the project's sources.toml, for CLI and pipeline tests."""
    home = tmp_path / "kbhome"
    home.mkdir()
    monkeypatch.setenv("KB_HOME", str(home))
    monkeypatch.setenv("KB_SOURCES", str(PACKAGED_SOURCES))
    for name in PRIVATE_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return home


def pytest_configure(config: pytest.Config) -> None:
    """Under xdist, give each worker its own PostgreSQL database (`<name>_gw0`, ...) beside
    the one KB_TEST_POSTGRES_URL names: PostgreSQL tests empty the database they use
    (`reset_postgres`), and two test files on two workers must not empty each other's. Set
    here, before collection, because test modules read the variable when imported; `kb`
    subprocesses inherit it."""
    url = os.environ.get("KB_TEST_POSTGRES_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if url and worker:
        os.environ["KB_TEST_POSTGRES_URL"] = _worker_database(url, worker)


def _worker_database(url: str, worker: str) -> str:
    from sqlalchemy import create_engine, make_url, text

    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                            {"n": name}).first() is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session", autouse=True)
def _shared_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One ONNX export of the embedding model for the whole run (every worker), instead of
    one per temporary KB_HOME: KB_MODEL_CACHE when the caller set none. The export is written
    to a temporary folder and renamed into place, so two workers exporting at once is safe."""
    if os.environ.get("KB_MODEL_CACHE"):
        yield
        return
    # getbasetemp() is per worker under xdist; its parent is the run's shared folder.
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "models"
    shared.mkdir(exist_ok=True)
    os.environ["KB_MODEL_CACHE"] = str(shared)
    yield
    os.environ.pop("KB_MODEL_CACHE", None)


# -- the command line -------------------------------------------------------------------------


def kb_env(home: Path, **env: str | None) -> dict[str, str]:
    """The environment of a `kb` run in a test: this process's, with KB_HOME=`home`, the
    packaged sources.toml, a 200-column terminal and none of PRIVATE_SETTINGS; then `env`
    (a value of None removes that variable)."""
    environ = dict(os.environ, KB_HOME=str(home), KB_SOURCES=str(PACKAGED_SOURCES),
                   COLUMNS="200")
    for name in PRIVATE_SETTINGS:
        environ.pop(name, None)
    for name, value in env.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return environ


@overload
def run_kb(home: Path, *args: str, text: Literal[True] = ..., timeout: float = ...,
           cwd: Path | None = ..., **env: str | None) -> subprocess.CompletedProcess[str]: ...
@overload
def run_kb(home: Path, *args: str, text: Literal[False], timeout: float = ...,
           cwd: Path | None = ..., **env: str | None) -> subprocess.CompletedProcess[bytes]: ...
def run_kb(home: Path, *args: str, text: bool = True, timeout: float = 300,
           cwd: Path | None = None, **env: str | None) -> subprocess.CompletedProcess[Any]:
    """`python -m kb ARGS` in a new process on KB_HOME=`home` (environment: `kb_env`)."""
    return subprocess.run([sys.executable, "-m", "kb", *args], capture_output=True, text=text,
                          env=kb_env(home, **env), timeout=timeout, cwd=cwd, check=False)


_in_process = threading.Lock()  # one in-process run at a time: it swaps os.environ and stdio


def invoke_kb(home: Path, *args: str, **env: str | None) -> subprocess.CompletedProcess[str]:
    """`kb ARGS` run in this process, with the environment `kb_env` gives a subprocess, and
    returned as a subprocess would return it (returncode, stdout, stderr as text).

    The real entry point runs (`kb.cli.main`: usage errors and KbError become one line and
    an exit code), inside typer's CliRunner isolation (os.environ, stdin, stdout and stderr
    swapped for the call and restored after). An exception kb does not map (a bug) reaches
    the test itself, where a subprocess would print a traceback and exit 1. Use `run_kb`
    where a new process is the point: start-up imports, signals, a crash, terminal bytes,
    peak memory, concurrency."""
    from typer.testing import CliRunner

    from kb.cli import main

    runner = CliRunner()
    full = kb_env(home, **env)
    # CliRunner's env only sets/overrides; None removes. Remove what kb_env left out.
    changes: dict[str, str | None] = {name: None for name in os.environ if name not in full}
    changes.update(full)
    code: int = 0
    with _in_process, runner.isolation(env=changes) as streams:
        argv = sys.argv
        sys.argv = ["kb", *args]
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = argv
            sys.stdout.flush()  # the isolation's text wrappers buffer; read what was written
            sys.stderr.flush()
        stdout, stderr = streams[0].getvalue(), streams[1].getvalue()
    return subprocess.CompletedProcess(["kb", *args], code,
                                       stdout.decode("utf-8", "replace"),
                                       stderr.decode("utf-8", "replace"))


# -- recorded payloads -------------------------------------------------------------------------


@dataclass(frozen=True)
class recorded:  # used like a function: doc = recorded(URL, NOW)
    """A RawDoc factory for one parser's tests: `doc = recorded(URL, NOW)` then
    `doc(body)` or `doc(body, url=OTHER, etag=...)`."""

    url: str
    fetched_at: datetime

    def __call__(self, body: bytes, url: str | None = None, *, at: datetime | None = None,
                 **extra: Any) -> RawDoc:
        from scrapers.records import RawDoc

        return RawDoc(body=body, url=url or self.url, fetched_at=at or self.fetched_at, **extra)


# -- stores ------------------------------------------------------------------------------------


def reset_postgres(url: str) -> None:
    """Empty the test PostgreSQL database at `url` (KB_TEST_POSTGRES_URL): every table of
    the public schema dropped, so the next Store.open creates the schema afresh."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def sqlite_store(folder: Path) -> Store:
    """A writable, current-schema SQLite store at `folder`/kb.db."""
    from kb.store import Store

    store, _ = Store.open(f"sqlite:///{folder / 'kb.db'}", write=True)
    return store


_imports: dict[tuple[str, ...], Path] = {}  # payload paths → the folder of their first import
_imports_lock = threading.Lock()


def ingested_store(folder: Path, paths: Sequence[Path],
                   sources: Path = PACKAGED_SOURCES) -> Store:
    """A writable SQLite store at `folder`/kb.db (archive in `folder`/raw) holding `paths`
    imported as `kb ingest` imports them; fails the test if a payload failed.

    The first call for a list of paths imports them; later calls in the same session (the
    same xdist worker) copy that database and archive instead: a file copy, not an import.
    Each caller owns its copy, so a test that writes changes no other test's store."""
    from kb.config import load_sources
    from kb.pipeline import Line, ingest
    from scrapers.archive import Archive

    key = (str(sources), *map(str, paths))
    folder.mkdir(parents=True, exist_ok=True)
    with _imports_lock:
        template = _imports.get(key)
        if template is None:
            store = sqlite_store(folder)
            report = ingest(Line(store, Archive(folder / "raw"), load_sources(sources)),
                            list(paths))
            assert not report.failures, report.failures
            store.close()
            template = folder.parent / f"{folder.name}.template"
            shutil.rmtree(template, ignore_errors=True)
            shutil.copytree(folder, template)
            _imports[key] = template
        else:
            shutil.copytree(template, folder, dirs_exist_ok=True)
    return sqlite_store(folder)
