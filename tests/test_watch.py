"""`kb watch`: a real status page on 127.0.0.1 that changes between rounds, and receivers of
each target kind that record what they get.

The page replays a recorded Anthropic incident (tests/fixtures/statuspage/anthropic_slice.json,
6304r9jjhj34) as it unfolded: its updates are revealed one round at a time (investigating,
another update, monitoring, resolved), then reopened. Its other incident (1019wwb67615,
resolved in July) is history the first round must not announce.
"""

from __future__ import annotations

import copy
import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from kb.alerts.formats import slack_escape
from kb.alerts.targets import Target, load_targets
from kb.config import load_settings, load_source_list
from kb.pipeline import Line
from kb.store import Store, outbox
from kb.watch.round import RoundReport, run_round
from kb.watch.schedule import WatchSettings
from scrapers.archive import Archive
from scrapers.fetch import Fetcher, FetchSettings

FIX = Path(__file__).parent / "fixtures"
SLICE = json.loads((FIX / "statuspage" / "anthropic_slice.json").read_bytes())
KEY = "anthropic/6304r9jjhj34"
HISTORY = "anthropic/1019wwb67615"


def page(stage: str) -> bytes:
    """incidents.json as the page showed it at `stage`: open1 (first post), open2 (a second
    investigating update), monitoring, resolved, reopened (an investigating update 40 min
    after the resolution)."""
    data = copy.deepcopy(SLICE)
    incident = next(i for i in data["incidents"] if i["id"] == "6304r9jjhj34")
    updates = sorted(incident["incident_updates"], key=lambda u: u["created_at"])
    if stage == "deleted":  # the vendor took the incident down; its July one stays
        data["incidents"] = [i for i in data["incidents"] if i["id"] != "6304r9jjhj34"]
        return json.dumps(data).encode()
    shown = {"open1": 1, "open2": 2, "monitoring": 3, "resolved": 4, "reopened": 4}[stage]
    kept = updates[:shown]
    if stage == "reopened":
        back = copy.deepcopy(updates[0])
        back.update(id="reopen1", status="investigating",
                    body="We are seeing elevated errors again & <investigating>.",
                    created_at="2026-09-15T11:54:44.380Z", display_at="2026-09-15T11:54:44.380Z",
                    updated_at="2026-09-15T11:54:44.380Z")
        kept.append(back)
    incident["incident_updates"] = list(reversed(kept))
    incident["status"] = kept[-1]["status"]
    incident["updated_at"] = kept[-1]["created_at"]
    if incident["status"] != "resolved":
        incident["resolved_at"] = None
    if stage in ("open1", "open2"):
        incident["monitoring_at"] = None
    return json.dumps(data).encode()


class StatusPage:
    """A Statuspage-format page whose incidents.json is `stage`, with ETags (304s)."""

    def __init__(self, server: HTTPServer) -> None:
        self.stage = "open1"
        self.requests = 0
        self.day: str | None = None  # replay on this day (YYYY-MM-DD) instead of 2026-09-15
        self.not_modified = 0
        server.expect_request("/status/incidents.json").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.requests += 1
        body = page(self.stage)
        if self.day:
            body = body.replace(b"2026-09-15T", f"{self.day}T".encode())
        etag = f'"{self.stage}-{self.day}"'
        if request.headers.get("If-None-Match") == etag:
            self.not_modified += 1
            return Response(status=304, headers={"ETag": etag})
        return Response(body, content_type="application/json", headers={"ETag": etag})


class Receiver:
    """Records every POST; answers `answers` in turn (then the last one forever)."""

    def __init__(self, server: HTTPServer, path: str, *answers: Response,
                 delay: float = 0.0) -> None:
        self.got: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.times: list[float] = []
        self.answers = list(answers)
        self.delay = delay
        server.expect_request(path, method="POST").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.times.append(time.monotonic())
        self.got.append(json.loads(request.get_data()))
        self.headers.append(dict(request.headers))
        if self.delay:
            time.sleep(self.delay)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return Response(answer.get_data(), status=answer.status_code,
                        headers=dict(answer.headers))


def ok_slack() -> Response:
    return Response("ok", status=200, content_type="text/plain")


def ok_pd() -> Response:
    return Response(json.dumps({"status": "success", "dedup_key": "x"}), status=202,
                    content_type="application/json")


def write_home(home: Path, server: HTTPServer, alerts: str) -> None:
    (home / "sources.toml").write_text(
        "replace = true\n[[source]]\nslug = \"anthropic\"\nname = \"Anthropic\"\n"
        f"url = \"{server.url_for('/status').rstrip('/')}\"\nplatform = \"gcp\"\n",
        encoding="utf-8")
    (home / "kb.toml").write_text(
        "[fetch]\npoliteness_delay = 0.0\nretries = 0\nread_timeout = 2.0\n" + alerts,
        encoding="utf-8")


def targets_toml(server: HTTPServer, **extra: str) -> str:
    more = "".join(f"{k} = {v}\n" for k, v in extra.items())
    return (f"[[alert]]\nkind = \"slack\"\nname = \"slack\"\nurl = \"{server.url_for('/slack')}\""
            f"\nmin_interval = 0\n{more}"
            f"[[alert]]\nkind = \"pagerduty\"\nname = \"pd\"\nurl = \"{server.url_for('/pd')}\""
            f"\nrouting_key = \"R0UTING\"\nmin_interval = 0\n{more}"
            f"[[alert]]\nkind = \"webhook\"\nname = \"hook\"\n"
            f"url = \"{server.url_for('/hook')}\"\nmin_interval = 0\n{more}")


@pytest.fixture
def watched(kb_home: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[Any]:
    monkeypatch.setenv("KB_EMBED_MODEL", "fake-hash")
    monkeypatch.delenv("KB_SOURCES")
    write_home(kb_home, httpserver, targets_toml(httpserver))
    status = StatusPage(httpserver)
    slack = Receiver(httpserver, "/slack", ok_slack())
    pd = Receiver(httpserver, "/pd", ok_pd())
    hook = Receiver(httpserver, "/hook", Response("{}", status=200))

    class World:
        pass

    world = World()
    world.status, world.slack, world.pd, world.hook = status, slack, pd, hook
    world.home = kb_home
    world.round = lambda **kw: one_round(**kw)
    yield world


def one_round(targets: list[Target] | None = None, now: datetime | None = None,
              refresh: bool = False) -> RoundReport:
    settings = load_settings()
    sources = list(load_source_list(settings).sources)
    store, _ = Store.open(settings.database_url, write=True)
    try:
        line = Line(store, Archive(settings.raw_dir), sources)
        with Fetcher(FetchSettings(**settings.fetch)) as fetcher:
            return run_round(line, fetcher, settings, WatchSettings(),
                             targets if targets is not None else
                             load_targets(settings.alerts, settings.config_path),
                             sources, followed=[s.slug for s in sources], now=now,
                             refresh=refresh, rng=random.Random(1))
    finally:
        store.close()


def kinds(report: RoundReport) -> list[tuple[str, str]]:
    return [(c.incident_key, c.kind) for c in report.changes]


def test_one_message_per_change_none_when_unchanged(watched: Any) -> None:
    first = watched.round()
    assert first.first_look == ["anthropic"]
    # history is not news: only the open incident is announced
    assert kinds(first) == [(KEY, "new")]
    assert len(watched.slack.got) == len(watched.pd.got) == len(watched.hook.got) == 1

    again = watched.round()  # unchanged page: a 304, nothing to say
    assert again.changes == [] and again.recorded == 0
    assert watched.status.not_modified == 1  # conditional GET, as kb scrape does
    assert len(watched.slack.got) == 1

    expected = [("open2", "update"), ("monitoring", "phase"), ("resolved", "resolved"),
                ("reopened", "reopened")]
    for stage, kind in expected:
        watched.status.stage = stage
        assert kinds(watched.round()) == [(KEY, kind)], stage
        assert kinds(watched.round()) == [], f"{stage}, second look"
    assert [m["change"]["kind"] for m in watched.hook.got] == [
        "new", "update", "phase", "resolved", "reopened"]
    assert len(watched.slack.got) == 5
    # PagerDuty: trigger while open, resolve on the resolution, trigger again on reopening,
    # always with the incident key as dedup_key
    assert [(e["event_action"], e["dedup_key"]) for e in watched.pd.got] == [
        ("trigger", KEY), ("trigger", KEY), ("trigger", KEY), ("resolve", KEY),
        ("trigger", KEY)]
    states = outbox.counts(Store.open(load_settings().database_url)[0])
    assert states == {"sent": 15}


def test_flapping_page_makes_no_storm(watched: Any) -> None:
    watched.round()
    for stage in ["resolved", "reopened"] * 4:  # the page flips between two states
        watched.status.stage = stage
        watched.round()
    # each state's bytes are stored once; a repeat is the same payload, no new change
    kinds_sent = [m["change"]["kind"] for m in watched.hook.got]
    assert kinds_sent == ["new", "resolved", "reopened"]


def test_messages_carry_the_facts_escaped(watched: Any) -> None:
    watched.round()
    watched.status.stage = "reopened"
    watched.round()
    hook = watched.hook.got[-1]
    assert hook["schema"] == "outage-kb.alert/1"
    assert hook["incident"]["key"] == KEY and hook["incident"]["open"] is True
    assert hook["incident"]["components"]  # the real incident lists four
    assert hook["incident"]["latest_update"]["text"].startswith("We are seeing elevated")
    assert hook["event_id"] == watched.hook.headers[-1]["Idempotency-Key"]
    # unknown stays unknown: one past incident has no similar history to time it
    assert hook["typical_duration_minutes"] is None
    slack = json.dumps(watched.slack.got[-1])
    assert "&amp; &lt;investigating&gt;" in slack and "<investigating>" not in slack
    assert slack_escape("a <!channel> & b") == "a &lt;!channel&gt; &amp; b"
    assert "unknown" in json.dumps(watched.slack.got[-1]["blocks"])


def test_retries_on_429_and_5xx(watched: Any, httpserver: HTTPServer) -> None:
    flaky = Receiver(httpserver, "/flaky",
                     Response("slow down", status=429, headers={"Retry-After": "1"}),
                     Response("oops", status=502), Response("{}", status=200))
    target = Target("flaky", "webhook", httpserver.url_for("/flaky"), retries=3,
                    min_interval=0, timeout=2)
    started = time.monotonic()
    report = watched.round(targets=[target])
    assert report.send.sent and not report.send.failed
    assert len(flaky.got) == 3
    assert len({m["event_id"] for m in flaky.got}) == 1  # the same notification each time
    assert flaky.times[1] - flaky.times[0] >= 0.9  # Retry-After: 1 honoured
    assert time.monotonic() - started < 10


def test_failure_after_retries_is_kept_for_the_next_round(watched: Any,
                                                          httpserver: HTTPServer) -> None:
    down = Receiver(httpserver, "/down", Response("no", status=503), Response("no", status=503),
                    Response("{}", status=200))
    target = Target("down", "webhook", httpserver.url_for("/down"), retries=1,
                    min_interval=0, timeout=2)
    first = watched.round(targets=[target])
    assert first.send.failed and "HTTP 503" in first.send.failed[0]
    store = Store.open(load_settings().database_url)[0]
    [row] = outbox.items(store)
    assert row.state == "failed" and row.attempts == 1
    later = datetime.now(UTC) + timedelta(hours=2)
    from kb.alerts.send import send_due
    again = send_due(store, [target], now=later)
    assert again.sent and outbox.items(store)[0].state == "sent"
    assert len(down.got) == 3


def test_200_with_an_error_body_is_a_failure(watched: Any, httpserver: HTTPServer) -> None:
    Receiver(httpserver, "/bad-slack", Response("invalid_payload", status=200))
    target = Target("bad", "slack", httpserver.url_for("/bad-slack"), retries=0,
                    min_interval=0)
    report = watched.round(targets=[target])
    assert report.send.failed and "invalid_payload" in report.send.failed[0]
    assert "bad (slack, " in report.send.failed[0]  # named by name and host, not its URL path


def test_a_hanging_target_does_not_delay_the_others(watched: Any) -> None:
    slow = HTTPServer(threaded=True)
    slow.start()
    try:
        Receiver(slow, "/hang", Response("{}", status=200), delay=3.0)
        hanging = Target("hang", "webhook", slow.url_for("/hang"), retries=0, timeout=0.5,
                         min_interval=0)
        fast = Target("fast", "webhook", slow.url_for("/fast"), retries=0, min_interval=0)
        quick = Receiver(slow, "/fast", Response("{}", status=200))
        started = time.monotonic()
        report = watched.round(targets=[hanging, fast])
        elapsed = time.monotonic() - started
    finally:
        slow.clear()
        slow.stop()
    assert report.send.sent == ["fast: new " + KEY]
    assert report.send.failed and "timed out" in report.send.failed[0]
    assert quick.times and quick.times[0] - started < 2.5  # not behind the 3 s hang
    assert elapsed < 3.0  # the round waited for the hanging target's 0.5 s timeout only


def test_rate_limit_holds_then_supersedes(watched: Any, httpserver: HTTPServer) -> None:
    target = Target("hook", "webhook", httpserver.url_for("/hook"), min_interval=600)
    watched.round(targets=[target])
    watched.status.stage = "open2"
    watched.round(targets=[target])
    watched.status.stage = "monitoring"
    watched.round(targets=[target])
    assert [m["change"]["kind"] for m in watched.hook.got] == ["new"]
    store = Store.open(load_settings().database_url)[0]
    states = {(i.change_kind, i.state) for i in outbox.items(store)}
    assert ("phase", "pending") in states and ("update", "pending") in states
    from kb.alerts.send import send_due
    report = send_due(store, [target], now=datetime.now(UTC) + timedelta(minutes=11))
    assert report.superseded == 1 and len(report.sent) == 1  # only the newest state goes out
    assert watched.hook.got[-1]["change"]["kind"] == "phase"


def kb(home: Path, *args: str) -> Any:
    import os
    import subprocess
    import sys

    env = {**os.environ, "KB_HOME": str(home), "KB_EMBED_MODEL": "fake-hash"}
    env.pop("KB_SOURCES", None)
    return subprocess.run([sys.executable, "-m", "kb", *args], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow  # three kb processes: ~20-40 s on the shared 2-core machine
@pytest.mark.parametrize("kind", ["slack", "webhook"])
def test_no_duplicate_after_sigkill_between_send_and_record(
        kind: str, kb_home: Path, httpserver: HTTPServer) -> None:
    """The receiver gets the notification, then the watcher is killed before it can record
    "sent". The next round must not notify twice: Slack (which cannot deduplicate) is not
    resent and the row says its delivery is unknown; the webhook is resent with the same
    event id, which its receiver deduplicates on (docs/alerts.md)."""
    import os
    import signal
    import subprocess
    import sys

    StatusPage(httpserver)
    write_home(kb_home, httpserver, f"[[alert]]\nkind = \"{kind}\"\nname = \"t\"\n"
                                    f"url = \"{httpserver.url_for('/t')}\"\nmin_interval = 0\n")
    got: list[dict[str, Any]] = []
    victim: dict[str, subprocess.Popen[str]] = {}

    def handle(request: Request) -> Response:
        got.append(json.loads(request.get_data()))
        if "proc" in victim:  # the first watcher dies before it reads this answer
            os.kill(victim.pop("proc").pid, signal.SIGKILL)
            time.sleep(0.2)
        return Response("ok" if kind == "slack" else "{}", status=200)

    httpserver.expect_request("/t", method="POST").respond_with_handler(handle)
    env = {**os.environ, "KB_HOME": str(kb_home), "KB_EMBED_MODEL": "fake-hash"}
    env.pop("KB_SOURCES", None)
    proc = subprocess.Popen([sys.executable, "-m", "kb", "watch", "--once", "--no-refresh"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim["proc"] = proc
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert len(got) == 1
    listed = json.loads(kb(kb_home, "alerts", "--json").stdout)
    assert listed["counts"] == {"sending": 1}

    second = kb(kb_home, "watch", "--once", "--no-refresh")
    third = kb(kb_home, "watch", "--once", "--no-refresh")
    assert second.returncode == 0 and third.returncode == 0, second.stderr + third.stderr
    listed = json.loads(kb(kb_home, "alerts", "--json").stdout)
    if kind == "slack":
        assert len(got) == 1  # never twice
        assert listed["counts"] == {"unknown": 1}
        assert "in doubt" in second.stderr
        assert "delivery unknown" in listed["items"][0]["last_error"]
    else:
        assert len(got) == 2 and got[0]["event_id"] == got[1]["event_id"]
        assert listed["counts"] == {"sent": 1}
    assert "0 notification(s) recorded" in third.stdout


BAD_TARGETS = {
    'kind = "webhook"\nurl = "ftp://example.com/hook"': "url must be an http(s) URL",
    'kind = "email"\nurl = "https://example.com"': "kind must be one of",
    'kind = "pagerduty"\nurl = "https://events.pagerduty.com/v2/enqueue"':
        "routing_key is required",
    'kind = "slack"\nurl = "https://hooks.example.com/x"\nretries = "many"': "retries must be",
    'kind = "slack"\nurl = "https://hooks.example.com/x"\nrouting_key = "k"':
        "routing_key is for pagerduty",
    'kind = "webhook"\nurl = "https://x.example/h"\nmin_severity = "huge"': "min_severity",
}


@pytest.mark.parametrize("body", sorted(BAD_TARGETS))
def test_bad_targets_are_refused_by_name(body: str) -> None:
    import tomllib

    from kb.errors import ConfigError

    entries = tomllib.loads(f"[[alert]]\n{body}\n")["alert"]
    with pytest.raises(ConfigError) as caught:
        load_targets(entries, Path("kb.toml"))
    message = str(caught.value)
    assert BAD_TARGETS[body] in message and "kb.toml: alert #1" in message
    assert "\n" not in message


def test_cli_refuses_a_bad_target_with_one_line(kb_home: Path, httpserver: HTTPServer) -> None:
    write_home(kb_home, httpserver, '[[alert]]\nkind = "webhook"\nurl = "file:///etc/passwd"\n')
    result = kb(kb_home, "watch", "--once")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "url must be an http(s) URL" in lines[0]


def test_alerts_test_sends_a_labelled_sample(kb_home: Path, httpserver: HTTPServer) -> None:
    write_home(kb_home, httpserver, targets_toml(httpserver))
    slack = Receiver(httpserver, "/slack", ok_slack())
    pd = Receiver(httpserver, "/pd", ok_pd())
    hook = Receiver(httpserver, "/hook", Response("{}", status=200))
    result = kb(kb_home, "alerts", "test")
    assert result.returncode == 0, result.stderr
    assert "Test" in slack.got[0]["text"]
    assert pd.got[0]["routing_key"] == "R0UTING" and pd.got[0]["event_action"] == "trigger"
    assert hook.got[0]["change"]["kind"] == "test"
    listed = kb(kb_home, "alerts")
    assert "3 sent" in listed.stdout


@pytest.mark.skipif(not __import__("os").environ.get("KB_TEST_POSTGRES_URL"),
                    reason="KB_TEST_POSTGRES_URL not set")
def test_watch_on_postgres(watched: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from tests.conftest import reset_postgres

    url = os.environ["KB_TEST_POSTGRES_URL"]
    reset_postgres(url)
    monkeypatch.setenv("KB_DATABASE_URL", url)
    assert kinds(watched.round()) == [(KEY, "new")]
    assert kinds(watched.round()) == []
    watched.status.stage = "resolved"
    assert kinds(watched.round()) == [(KEY, "resolved")]
    assert [(e["event_action"], e["dedup_key"]) for e in watched.pd.got] == [
        ("trigger", KEY), ("resolve", KEY)]
    assert len(watched.hook.got) == len(watched.slack.got) == 2


def test_fallback_lists_followed_providers_up_now(watched: Any, httpserver: HTTPServer,
                                                  kb_home: Path) -> None:
    openai = (FIX / "statuspage" / "openai_slice.json").read_bytes()
    httpserver.expect_request("/openai/incidents.json").respond_with_data(
        openai, content_type="application/json")
    with (kb_home / "sources.toml").open("a", encoding="utf-8") as handle:
        handle.write(f"[[source]]\nslug = \"openai\"\nname = \"OpenAI\"\n"
                     f"url = \"{httpserver.url_for('/openai').rstrip('/')}\"\n"
                     "platform = \"gcp\"\n")
    report = watched.round()
    assert kinds(report) == [(KEY, "new")]  # OpenAI's two closed incidents are history
    [fallback] = watched.hook.got[0]["fallbacks"]
    assert fallback["provider"] == "openai" and fallback["name"] == "OpenAI"
    # measured where the KB covers both (the slices' payload spans), not "never" over a year;
    # Anthropic's incidents there state no measurable time, so how long both were down is
    # unknown, not a reassuring 0 h (kb compare's rule)
    assert fallback["both_down_hours"] is None and fallback["both_covered_hours"] > 0
    assert "OpenAI: time down together unknown (50.9 h both covered)" in json.dumps(
        watched.slack.got[0])


MAINTENANCES = json.loads((FIX / "statuspage" / "anthropic_maintenances.json").read_bytes())


def maintenance_page(shown: int) -> bytes:
    """scheduled-maintenances.json with maintenance x017628t2rl5's first `shown` updates."""
    data = copy.deepcopy(MAINTENANCES)
    item = next(m for m in data["scheduled_maintenances"] if m["id"] == "x017628t2rl5")
    data["scheduled_maintenances"] = [item]
    updates = sorted(item["incident_updates"], key=lambda u: u["created_at"])[:shown]
    item["incident_updates"] = list(reversed(updates))
    item["status"] = updates[-1]["status"]
    item["updated_at"] = updates[-1]["created_at"]
    if item["status"] != "completed":
        item["resolved_at"] = None
    return json.dumps(data).encode()


def test_maintenance_start_is_notified_once(watched: Any, httpserver: HTTPServer,
                                            kb_home: Path) -> None:
    shown = {"n": 1}
    httpserver.expect_request("/maint/incidents.json").respond_with_handler(
        lambda _r: Response(maintenance_page(shown["n"]), content_type="application/json"))
    with (kb_home / "sources.toml").open("a", encoding="utf-8") as handle:
        handle.write(f"[[source]]\nslug = \"anthropic-maint\"\nname = \"Maint\"\n"
                     f"url = \"{httpserver.url_for('/maint').rstrip('/')}\"\n"
                     "platform = \"gcp\"\n")
    first = watched.round()
    assert ("anthropic-maint/x017628t2rl5", "maintenance_start") not in kinds(first)
    shown["n"] = 2  # in progress
    assert kinds(watched.round()) == [("anthropic-maint/x017628t2rl5", "maintenance_start")]
    shown["n"] = 3  # verifying: still the same maintenance under way
    assert kinds(watched.round()) == []
    assert [m["change"]["kind"] for m in watched.hook.got] == ["new", "maintenance_start"]
    assert len(watched.pd.got) == 1  # a maintenance pages nobody


def test_early_warning_then_all_clear_for_opted_in_targets(watched: Any,
                                                            httpserver: HTTPServer) -> None:
    from kb.store.signals import Unofficial, replace_derived

    now = datetime.now(UTC)
    settings = load_settings()
    store, _ = Store.open(settings.database_url, write=True)
    candidate = Unofficial(
        key=f"unofficial/anthropic/{now:%Y%m%dT%H%M}", provider="anthropic",
        start=now - timedelta(minutes=50), end=now - timedelta(minutes=20),
        signal_ids=("hn:1", "news:2"),
        titles=("Claude is down <again>", "Anthropic API outage reported"),
        source_families=("hackernews", "news"), score=0.7)
    replace_derived(store, [], [], [candidate], {})
    store.close()
    early = [Target("hook", "webhook", httpserver.url_for("/hook"), min_interval=0,
                    early_warning=True),
             Target("pd", "pagerduty", httpserver.url_for("/pd"), routing_key="R",
                    min_interval=0, early_warning=True),
             Target("slack", "slack", httpserver.url_for("/slack"), min_interval=0)]
    first = watched.round(targets=early)
    assert (candidate.key, "unconfirmed") in kinds(first)
    assert kinds(watched.round(targets=early)) == []  # once
    later = watched.round(targets=early, now=now + timedelta(hours=4))
    assert kinds(later) == [(candidate.key, "all_clear")]
    hook_kinds = [(m["change"]["kind"], m["change"]["unconfirmed"]) for m in watched.hook.got]
    assert ("unconfirmed", True) in hook_kinds and ("all_clear", True) in hook_kinds
    # Slack did not opt in: only the official incident
    assert [m["text"].split(":")[0] for m in watched.slack.got] == ["New incident"]
    assert any("Claude is down <again>" in m["incident"]["latest_update"]["text"]
               for m in watched.hook.got if m["change"]["kind"] == "unconfirmed")
    unconfirmed = [(e["event_action"], e["dedup_key"]) for e in watched.pd.got
                   if e["dedup_key"] == candidate.key]
    assert unconfirmed == [("trigger", candidate.key), ("resolve", candidate.key)]


@pytest.mark.slow  # two site builds (mkdocs): ~30-60 s on the shared machine
def test_a_changing_round_refreshes_the_ongoing_section(watched: Any) -> None:
    watched.status.day = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    title = SLICE["incidents"][0]["name"]

    def ongoing() -> str:
        home = (watched.home / "build" / "docs" / "index.md").read_text(encoding="utf-8")
        return home[home.index('id="ongoing"'):home.index('id="last-days"')]

    first = watched.round(refresh=True)
    assert kinds(first) == [(KEY, "new")]
    assert "site" in first.run.timings
    assert title in ongoing()
    watched.status.stage = "resolved"
    assert kinds(watched.round(refresh=True)) == [(KEY, "resolved")]
    assert title not in ongoing() and "Nothing ongoing" in ongoing()


def test_a_failing_fact_does_not_hold_back_the_alert(watched: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import kb.watch.round as round_module

    def broken(*_args: Any, **_kwargs: Any) -> dict:
        raise RuntimeError("similar search exploded")

    monkeypatch.setattr(round_module, "build_facts", broken)
    report = watched.round()
    assert kinds(report) == [(KEY, "new")]
    assert report.errors == [f"{KEY}: alert facts incomplete (RuntimeError: similar search "
                             "exploded)"]
    assert watched.hook.got[0]["incident"]["key"] == KEY
    assert watched.hook.got[0]["similar_note"] == "unavailable"


def test_a_failing_source_backs_off(watched: Any, httpserver: HTTPServer, kb_home: Path) -> None:
    from kb.watch.round import due_sources

    httpserver.expect_request("/gone/incidents.json").respond_with_data("gone", status=404)
    with (kb_home / "sources.toml").open("a", encoding="utf-8") as handle:
        handle.write(f"[[source]]\nslug = \"gone\"\nname = \"Gone\"\n"
                     f"url = \"{httpserver.url_for('/gone').rstrip('/')}\"\nplatform = \"gcp\"\n")
    now = datetime.now(UTC)
    report = watched.round(now=now)
    assert report.run.sources["gone"].failed  # reported, and the other source went on
    assert kinds(report) == [(KEY, "new")]
    store = Store.open(load_settings().database_url)[0]
    schedule = outbox.sources(store)
    assert schedule["gone"].failures == 1 and "404" in (schedule["gone"].last_error or "")
    assert schedule["anthropic"].failures == 0
    assert (schedule["gone"].next_due - now).total_seconds() >= 2 * 120 * 0.9
    assert (schedule["anthropic"].next_due - now).total_seconds() <= 120 * 1.1
    sources = list(load_source_list(load_settings()).sources)
    later = now + timedelta(seconds=140)
    assert [s.slug for s in due_sources(store, sources, later)] == ["anthropic"]


def test_an_incident_deleted_by_its_vendor_loses_nothing(watched: Any) -> None:
    watched.round()
    store = Store.open(load_settings().database_url)[0]
    before = outbox.items(store)
    watched.status.stage = "deleted"
    report = watched.round()
    assert kinds(report) == [(KEY, "withdrawn")] and not report.send.failed
    assert report.unlisted == [f"{KEY}: open, but no longer listed by its status page "
                               "(withdrawn by the vendor?); kept as last seen; a withdrawn "
                               "change is notified"]
    assert store.get(KEY).title  # still held as last seen (an API window is no withdrawal)
    rows = outbox.items(store)
    assert [r for r in rows if r.change_kind != "withdrawn"] == before  # nothing lost
    # sent once to Slack and the webhook; PagerDuty is not told (a deletion is no resolution)
    assert {(r.target, r.state) for r in rows if r.change_kind == "withdrawn"} == {
        ("slack", "sent"), ("hook", "sent"), ("pd", "superseded")}
    assert watched.hook.got[-1]["change"]["kind"] == "withdrawn"
    assert watched.slack.got[-1]["text"].startswith("Withdrawn by the vendor: Anthropic")
    assert "no longer lists this incident" in json.dumps(watched.slack.got[-1]["blocks"])
    again = watched.round()  # said once (here a 304)
    assert again.unlisted == [] and again.changes == []
    watched.status.stage = "open2"  # back, with an update: one notification for that
    back = watched.round()
    assert kinds(back) == [(KEY, "update")] and back.unlisted == []
    watched.status.stage = "resolved"
    assert kinds(watched.round()) == [(KEY, "resolved")]
    watched.status.stage = "deleted"  # gone once closed: nothing to say
    assert watched.round().unlisted == []
    assert [m["change"]["kind"] for m in watched.hook.got] == [
        "new", "withdrawn", "update", "resolved"]
    assert [e["event_action"] for e in watched.pd.got] == ["trigger", "trigger", "resolve"]


def test_an_unlisted_incident_is_not_notified_when_an_endpoint_answered_304() -> None:
    """A 304's incidents are not known to the round: the line, no notification."""
    from kb.stage import RunReport
    from kb.watch.round import _unlisted

    state = {"open": True, "kind": "incident", "last_update_at": "2026-09-15T10:00:00+00:00"}
    old = {"open": False, "kind": "incident", "last_update_at": "2026-07-01T10:00:00+00:00"}
    seen = {KEY: outbox.Watched(KEY, "anthropic", "h1", state),
            HISTORY: outbox.Watched(HISTORY, "anthropic", "h2", old)}
    run = RunReport()
    run.count("anthropic", HISTORY, "unchanged")
    run.source("anthropic").docs = 1
    run.source("anthropic").not_modified = 1
    report = RoundReport(run, polled=["anthropic"])
    rows, gone = _unlisted(run, report, seen)
    assert gone == [] and [r.incident_key for r in rows] == [KEY]
    assert report.unlisted[0].endswith("not notified: an endpoint answered 304 and its last "
                                       "payload is not known, so the round does not know "
                                       "all the page lists")
    run.source("anthropic").not_modified = 0
    assert _unlisted(run, RoundReport(run, polled=["anthropic"]), seen)[1] == [KEY]
    older = {**state, "last_update_at": "2026-06-01T10:00:00+00:00"}  # out of the window
    seen[KEY] = outbox.Watched(KEY, "anthropic", "h1", older)
    assert _unlisted(run, RoundReport(run, polled=["anthropic"]), seen) == ([], [])


@pytest.mark.parametrize("second", ["maintenances", "same-incidents"])
def test_an_endpoint_answering_304_still_lists_what_it_listed(
        watched: Any, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch,
        second: str) -> None:
    """A page of two endpoints; the incident leaves the first, the second answers 304. When
    the second's last payload (its maintenances) never listed the incident, it is withdrawn;
    when it did (a second copy of the incidents), the page still lists it: nothing said."""
    from scrapers import registry

    monkeypatch.setitem(registry.PLATFORMS, "twofold", registry.Platform(
        "twofold", ("/status/incidents.json", "/other.json")))
    static = maintenance_page(1) if second == "maintenances" else page("open1")
    served = {"n": 0}

    def other(request: Any) -> Response:
        served["n"] += 1
        if request.headers.get("If-None-Match") == '"fixed"':
            return Response(status=304, headers={"ETag": '"fixed"'})
        return Response(static, content_type="application/json", headers={"ETag": '"fixed"'})

    httpserver.expect_request("/other.json").respond_with_handler(other)
    (watched.home / "sources.toml").write_text(
        "replace = true\n[[source]]\nslug = \"anthropic\"\nname = \"Anthropic\"\n"
        f"url = \"{httpserver.url_for('/').rstrip('/')}\"\nplatform = \"twofold\"\n",
        encoding="utf-8")
    assert kinds(watched.round()) == [(KEY, "new")]
    watched.status.stage = "deleted"
    report = watched.round()
    assert served["n"] == 2 and report.run.sources["anthropic"].not_modified == 1
    if second == "maintenances":
        assert kinds(report) == [(KEY, "withdrawn")]
        assert report.unlisted[0].endswith("a withdrawn change is notified")
    else:
        assert report.changes == [] and report.unlisted == []
    assert [m["change"]["kind"] for m in watched.hook.got] == (
        ["new", "withdrawn"] if second == "maintenances" else ["new"])


def test_filters_choose_the_targets(watched: Any, httpserver: HTTPServer) -> None:
    """providers, components (any one, any case) and min_severity, on the real incident
    (Anthropic, major, four components among them "claude.ai")."""
    store = Store.open(load_settings().database_url)[0]
    hook = httpserver.url_for("/hook")
    chosen = {
        "other-provider": ({"providers": ("openai",)}, False),
        "this-provider": ({"providers": ("anthropic",)}, True),
        "component-any-case": ({"components": ("CLAUDE.AI", "nothing else")}, True),
        "other-component": ({"components": ("Console",)}, False),
        "critical-only": ({"min_severity": "critical"}, False),
        "minor-and-up": ({"min_severity": "minor"}, True),
    }
    targets = [Target(name, "webhook", hook, min_interval=0, **extra)
               for name, (extra, _) in chosen.items()]
    report = watched.round(targets=targets)
    assert kinds(report) == [(KEY, "new")]
    assert store.get(KEY).stated_severity == "major"
    assert sorted(i.target for i in outbox.items(store)) == sorted(
        name for name, (_, wanted) in chosen.items() if wanted)
    assert len(watched.hook.got) == 3
