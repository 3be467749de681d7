"""Polishing by a language model, against stub chat-completions servers on 127.0.0.1: one that
times out, one that answers garbage, one that drops a citation, one that works. Also the
fetcher's `post_json`, which carries those requests."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from kb.config import LlmSettings, load_settings
from kb.drafts import draft_from_incident, render_draft
from kb.drafts.citations import MARKER, uncited_sentences
from kb.drafts.draft import Draft
from kb.drafts.polish import polish_draft, section_texts, verify
from kb.errors import ConfigError
from kb.model import ImpactWindow, Incident, Kind, Phase, Severity, SourceRef, Update
from scrapers.errors import FetchError
from scrapers.fetch import Fetcher, FetchSettings

T0 = datetime(2026, 4, 28, 17, 34, tzinfo=UTC)
PATH = "/v1/chat/completions"


def sample_draft() -> Draft:
    texts = [(7, Phase.INVESTIGATING, "We are investigating elevated errors."),
             (30, Phase.IDENTIFIED, "The errors were caused by a bad deploy."),
             (90, Phase.RESOLVED, "Resolved. Impact occurred from 17:34 to 18:52 UTC.")]
    updates = tuple(Update(T0 + timedelta(minutes=m), p, p.value, t, t,
                           channels=("statuspage_json",)) for m, p, t in texts)
    return draft_from_incident(Incident(
        provider="example", native_id="abc", title="Elevated errors", kind=Kind.INCIDENT,
        status="resolved", severity=Severity.MAJOR, url="https://status.example.com/i/abc",
        impact_window=ImpactWindow(T0, T0 + timedelta(minutes=78),
                                   "Impact occurred from 17:34 to 18:52 UTC."),
        updates=updates,
        sources=(SourceRef("https://status.example.com/api", T0, "c" * 64, "statuspage"),),
    ))


def chat_answer(content: str) -> dict:
    return {"id": "x", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}


def rewriting(transform) -> object:  # type: ignore[no-untyped-def]
    """A handler that rewrites every section it is sent with `transform(text)`."""
    def handler(request: Request) -> Response:
        body = json.loads(request.data)
        sections = json.loads(body["messages"][1]["content"])["sections"]
        reply = {name: transform(text) for name, text in sections.items()}
        return Response(json.dumps(chat_answer(json.dumps(reply))),
                        content_type="application/json")
    return handler


def settings_for(*urls: str, timeout: float = 0.5) -> LlmSettings:
    return LlmSettings(tuple(urls), model="stub", timeout=timeout, retries=0)


@pytest.fixture
def second() -> Iterator[HTTPServer]:
    """Another stub server: a slow handler on one must not block the others."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def third() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


# -- fallback across endpoints ---------------------------------------------------------------


def test_timeout_then_garbage_then_a_good_rewrite(
    httpserver: HTTPServer, second: HTTPServer, third: HTTPServer
) -> None:
    def slow(_request: Request) -> Response:
        time.sleep(1.5)
        return Response(json.dumps(chat_answer("{}")), content_type="application/json")

    httpserver.expect_request(PATH, method="POST").respond_with_handler(slow)
    second.expect_request(PATH, method="POST").respond_with_data(
        "<html>502 Bad Gateway</html>", content_type="text/html")
    third.expect_request(PATH, method="POST").respond_with_handler(
        rewriting(lambda text: "In short: " + text))
    draft = sample_draft()
    result = polish_draft(draft, settings_for(
        httpserver.url_for(PATH), second.url_for(PATH), third.url_for(PATH)))
    assert result.endpoint == third.url_for(PATH)
    assert len(result.notes) == 2
    assert "read timed out (gave up after 1 attempt); trying the next endpoint" in result.notes[0]
    assert "answer is not JSON" in result.notes[1]
    sent = json.loads(third.log[0][0].data)
    assert sent["model"] == "stub" and sent["messages"][0]["role"] == "system"
    assert json.loads(sent["messages"][1]["content"])["sections"] == section_texts(draft)
    polished = result.draft.polished["summary"]
    assert polished.startswith("In short: On 2026-04-28")
    md = render_draft(result.draft)
    assert "In short: On 2026-04-28" in md and uncited_sentences(md) == []
    assert "rewritten by a language model" in md
    assert set(MARKER.findall(polished)) == set(MARKER.findall(section_texts(draft)["summary"]))


def test_a_rewrite_that_loses_a_citation_falls_back_to_the_next_and_then_to_none(
    httpserver: HTTPServer, second: HTTPServer
) -> None:
    httpserver.expect_request(PATH).respond_with_handler(
        rewriting(lambda text: MARKER.sub("", text)))  # strips every footnote
    second.expect_request(PATH).respond_with_json({"choices": []})  # valid JSON, no answer
    draft = sample_draft()
    result = polish_draft(draft, settings_for(httpserver.url_for(PATH), second.url_for(PATH)))
    assert result.draft is draft and result.endpoint is None
    assert "rejected (summary: lost citation [^page], [^u1], [^u2], [^u3];" in result.notes[0]
    assert "answer has no choices[0].message.content" in result.notes[1]
    assert result.notes[-1] == "no endpoint gave a usable rewrite; the draft is unpolished"
    assert render_draft(result.draft) == render_draft(draft)


def test_a_rewrite_that_invents_a_number_is_rejected(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_handler(
        rewriting(lambda text: text + " About 40% of requests failed.[^u1]"))
    result = polish_draft(sample_draft(), settings_for(httpserver.url_for(PATH)))
    assert result.endpoint is None
    assert "introduced numbers not in the facts: 40" in result.notes[0]


def test_refused_connection_and_http_errors_fall_through(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_data("nope", status=404)
    result = polish_draft(sample_draft(), settings_for(
        "http://127.0.0.1:9/v1", httpserver.url_for(PATH)))
    assert "connection failed" in result.notes[0]
    assert "HTTP 404" in result.notes[1]
    assert result.endpoint is None


def test_the_api_key_is_sent_and_never_printed(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH, headers={"Authorization": "Bearer s3cret"}).respond_with_data(
        "garbage", status=500)
    settings = replace(settings_for(httpserver.url_for(PATH)), api_key="s3cret")
    result = polish_draft(sample_draft(), settings)
    assert "HTTP 500" in result.notes[0]
    assert all("s3cret" not in note for note in result.notes)


# -- verification ----------------------------------------------------------------------------


@pytest.mark.parametrize(("rewrite", "reason"), [
    ("It broke at 17:34.[^u1] Fixed.[^u3]", None),
    ("It broke at 17:34.[^u1]", "lost citation [^u3]"),
    ("It broke at 17:34.[^u1] Fixed.[^u3][^u9]", "added citation [^u9]"),
    ("It broke at 17:35.[^u1] Fixed.[^u3]", "introduced numbers not in the facts: 17:35"),
    ("It broke at 17:34. Fixed.[^u1][^u3]",
     "citations moved: not the same markers after the same sentences in order"),
    ("   ", "empty rewrite"),
])
def test_verify(rewrite: str, reason: str | None) -> None:
    assert verify("The service broke at 17:34.[^u1] It was fixed.[^u3]", rewrite) == reason


# -- settings --------------------------------------------------------------------------------


def test_settings_from_the_environment(tmp_path: Path) -> None:
    def llm(**env: str) -> LlmSettings:
        return load_settings({"KB_HOME": str(tmp_path), **env}).llm

    assert llm().endpoints == () and llm(KB_LLM_URL=" , ").endpoints == ()
    s = llm(KB_LLM_URL="http://a:8000/v1, https://b.example/v1/chat/completions",
            KB_LLM_MODEL="llama", KB_LLM_TIMEOUT="5", KB_LLM_RETRIES="0", KB_LLM_API_KEY="k")
    assert s == LlmSettings(("http://a:8000/v1/chat/completions",
                                "https://b.example/v1/chat/completions"), "llama", "k", 5.0, 0)
    with pytest.raises(ConfigError, match="not an http"):
        llm(KB_LLM_URL="ftp://x")
    with pytest.raises(ConfigError, match="KB_LLM_TIMEOUT must be a number above 0"):
        llm(KB_LLM_URL="http://x", KB_LLM_TIMEOUT="soon")


# -- Fetcher.post_json -----------------------------------------------------------------------


def fetcher(**overrides: object) -> Fetcher:
    sleeps: list[float] = []
    settings = FetchSettings(**{"politeness_delay": 0.0, **overrides})  # type: ignore[arg-type]
    return Fetcher(settings, sleep=sleeps.append)


def test_post_json_sends_json_and_returns_the_object(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/p", method="POST", json={"a": [1, "é"]}).respond_with_json(
        {"ok": True})
    with fetcher() as f:
        assert f.post_json(httpserver.url_for("/p"), {"a": [1, "é"]}, {"X-Test": "1"}) == {
            "ok": True}
    request = httpserver.log[0][0]
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Test"] == "1"


def test_post_json_retries_transient_errors(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/p").respond_with_data("busy", status=503)
    httpserver.expect_oneshot_request("/p").respond_with_json({"ok": 2})
    with fetcher(retries=1) as f:
        assert f.post_json(httpserver.url_for("/p"), {}) == {"ok": 2}
    assert len(httpserver.log) == 2


@pytest.mark.parametrize(("body", "status", "reason"), [
    ("not json", 200, "answer is not JSON"),
    ("[1, 2]", 200, "answer is a JSON list, not an object"),
    ("{}", 400, "HTTP 400"),
])
def test_post_json_failures_are_one_line(httpserver: HTTPServer, body: str, status: int,
                                         reason: str) -> None:
    httpserver.expect_request("/p").respond_with_data(body, status=status)
    url = httpserver.url_for("/p")
    with fetcher(retries=0) as f, pytest.raises(FetchError) as info:
        f.post_json(url, {"q": 1})
    assert str(info.value).startswith(f"{url}: {reason}")
    assert "\n" not in str(info.value)


def test_post_json_respects_the_size_cap(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/p").respond_with_data("{" + " " * 5000 + "}")
    with fetcher(max_bytes=1000) as f, pytest.raises(FetchError, match="larger than 1000"):
        f.post_json(httpserver.url_for("/p"), {})


def test_post_json_refuses_unserialisable_payloads() -> None:
    with fetcher() as f, pytest.raises(FetchError, match="payload is not JSON"):
        f.post_json("http://127.0.0.1:9/p", {"when": object()})
