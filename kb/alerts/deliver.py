"""POST one notification to one target: per-target timeout, retries with backoff.

An attempt is retried (tenacity) on a timeout, a transport error, 429 or 5xx, waiting the
target's Retry-After when it gives one, else 0.5 s doubling to 30 s, within the target's
budget for the round: `timeout × (retries + 1)` plus the waits, never more than
`BUDGET_CAP`. A Retry-After longer than what is left ends the attempts for this round; the
row keeps the wait as its next try. Any other answer is final: a 2xx is success, except a
Slack webhook whose body is not "ok" (Slack answers errors such as "invalid_payload" as text),
a PagerDuty answer whose JSON status is not "success", and a webhook answer that is a JSON
object saying `"ok": false`; a 3xx (redirects are not followed: a POST must not be moved
to another host) or another 4xx is a failure.

Errors name the target by its name and host only: webhook URLs and routing keys are secrets.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from kb.alerts.targets import Target
from scrapers.retry import (
    RETRY_AFTER_STATUSES,
    RETRY_STATUSES,
    TRANSIENT_ERRORS,
    Fatal,
    Transient,
    one_line,
    parse_retry_after,
    transport_reason,
)

USER_AGENT = "outage-kb/0.1 alerts (+https://github.com/outage-kb/outage-kb)"
MAX_ANSWER = 64 * 1024  # bytes of a receiver's answer read
BUDGET_CAP = 300.0  # seconds one notification may take in one round, waits included
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0


@dataclass(frozen=True)
class Delivery:
    """How one notification went."""

    ok: bool
    attempts: int
    status: int | None = None
    error: str | None = None  # one line, without secrets
    retry_after: float | None = None  # seconds the target asked to wait, when it did


def post(client: httpx.Client, target: Target, body: Mapping[str, Any],
         headers: Mapping[str, str] | None = None, *,
         sleep: Callable[[float], None] = time.sleep,
         clock: Callable[[], float] = time.monotonic) -> Delivery:
    """POST `body` as JSON to `target`, retrying what can be retried (see module docstring)."""
    content = json.dumps(body, ensure_ascii=False).encode("utf-8")
    sent = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
    started = clock()
    budget = min(BUDGET_CAP, target.timeout * (target.retries + 1) + 2 * BACKOFF_MAX)
    attempts = 0
    last: dict[str, Any] = {"status": None, "retry_after": None}

    def attempt() -> int:
        nonlocal attempts
        attempts += 1
        status = _attempt(client, target, content, sent, started + budget, clock)
        last["status"] = status
        return status

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (state.attempt_number - 1))
        hinted = getattr(exc, "retry_after", None)
        last["retry_after"] = hinted
        pause = max(backoff, hinted or 0.0)
        if clock() + pause > started + budget:
            raise _OutOfTime(f"{exc}; target asked to wait {pause:g} s, past this round's "
                             "budget" if hinted else f"{exc}; out of time for this round")
        return pause

    retrying = Retrying(stop=stop_after_attempt(target.retries + 1), wait=wait, sleep=sleep,
                        retry=retry_if_exception_type(Transient), reraise=True)
    try:
        status = retrying(attempt)
    except _OutOfTime as exc:
        return Delivery(False, attempts, last["status"], _where(target, str(exc)),
                        last["retry_after"])
    except (Transient, Fatal) as exc:
        return Delivery(False, attempts, last["status"], _where(target, exc.reason),
                        getattr(exc, "retry_after", None))
    return Delivery(True, attempts, status)


class _OutOfTime(Exception):
    pass


def _where(target: Target, reason: str) -> str:
    return one_line(f"{target.shown}: {reason}")[:300]


def _attempt(client: httpx.Client, target: Target, content: bytes,
             headers: Mapping[str, str], deadline: float,
             clock: Callable[[], float]) -> int:
    """One POST; the status on success, else Transient or Fatal."""
    left = max(0.1, min(target.timeout, deadline - clock()))
    began = clock()
    try:
        with client.stream("POST", target.url, content=content, headers=headers,
                           timeout=httpx.Timeout(left), follow_redirects=False) as response:
            answer = b""
            for chunk in response.iter_bytes():
                answer += chunk
                if len(answer) > MAX_ANSWER:
                    break
                if clock() - began > left:  # a receiver that drips its answer
                    raise Transient(f"no complete answer within {left:g} s")
            status = response.status_code
            retry_after = parse_retry_after(response.headers.get("Retry-After"),
                                            datetime.now(UTC))
    except TRANSIENT_ERRORS as exc:
        raise Transient(transport_reason(exc)) from None
    except httpx.HTTPError as exc:
        raise Fatal(one_line(f"request failed ({type(exc).__name__})")) from None
    text = answer[:200].decode("utf-8", "replace")
    if status in RETRY_STATUSES:
        hint = retry_after if status in RETRY_AFTER_STATUSES else None
        raise Transient(f"HTTP {status} {one_line(text)[:80]}".strip(), hint)
    if not 200 <= status < 300:
        raise Fatal(f"HTTP {status} {one_line(text)[:120]}".strip())
    _check_answer(target, answer)
    return status


def _check_answer(target: Target, answer: bytes) -> None:
    """Fatal when a 2xx answer says the notification was refused."""
    text = answer.decode("utf-8", "replace").strip()
    if target.kind == "slack":
        if text != "ok":
            raise Fatal(f"Slack answered 2xx but not 'ok': {one_line(text)[:120]!r}")
        return
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if target.kind == "pagerduty":
        if not isinstance(data, dict) or data.get("status") != "success":
            raise Fatal(f"PagerDuty answered 2xx without status 'success': "
                        f"{one_line(text)[:120]!r}")
    elif isinstance(data, dict) and data.get("ok") is False:
        raise Fatal(f"receiver answered ok=false: {one_line(text)[:120]!r}")
