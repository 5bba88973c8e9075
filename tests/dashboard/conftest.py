"""On a browser test's failure, keep the page's state: a screenshot and what the page held.

Saved under ``build/dashboard/failures/<test>-<n>.{png,json}`` (the JSON: URL, the pending
request count, the stream's state and last ``seq``, the venue rows' statuses, the events
list's first lines, the error box, console errors), so a failure seen once in many runs
can be read afterwards.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

FAILURES = Path(__file__).resolve().parents[2] / "build" / "dashboard" / "failures"

_STATE = """() => ({
  url: location.href,
  pending: document.body.dataset.pending,
  ws: (document.getElementById('ws-state') || {}).className,
  wsSeq: ((document.getElementById('ws-state') || {}).dataset || {}).seq,
  rows: [...document.querySelectorAll('#venue-table tbody tr')].map(
    tr => [tr.dataset.account, (tr.querySelector('td.status') || {dataset: {}}).dataset.status]),
  events: [...document.querySelectorAll('#events li')].slice(0, 30).map(li => li.textContent),
  error: (document.getElementById('error') || {}).textContent,
})"""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Save the open page's screenshot and state when a test using a page fails."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    pages = [v for v in getattr(item, "funcargs", {}).values() if hasattr(v, "errors")]
    if not pages:  # not a test with a page (a Watched fixture: .page and .errors)
        return
    watched = pages[0]
    FAILURES.mkdir(parents=True, exist_ok=True)
    stem = FAILURES / f"{item.name}-{time.strftime('%Y%m%dT%H%M%S')}"
    try:
        watched.page.screenshot(path=str(stem.with_suffix(".png")), full_page=True)
        state = watched.page.evaluate(_STATE)
    except Exception as exc:  # a page that cannot answer: say so, keep the report
        state = {"unreadable": repr(exc)}
    state["console_errors"] = list(watched.errors)
    stem.with_suffix(".json").write_text(json.dumps(state, indent=1))
