"""The review app in a real browser: Debian's chromium driven by Playwright against the app
served by uvicorn on a loopback port, over real runs (the text sample and the image sample).

A lead logs in and draws queues; an annotator judges three items with the keyboard, one after
another without the page reloading; the lead's dashboard shows the counts and precision, and
they change when the annotator changes a judgement. A screenshot of every page goes to
``test-artifacts/review/`` (or $KHO_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("playwright")
from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

from review.app import create_app  # noqa: E402
from review.db import ReviewDB  # noqa: E402
from review.settings import ReviewSettings  # noqa: E402
from review.users import add_user  # noqa: E402

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("KHO_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts")) / "review"
LEAD, ANNOTATOR = ("lead", "lead-password-1"), ("bao", "bao-password-1")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(review_runs, tmp_path_factory) -> Iterator[dict]:
    """The app on a loopback port, in a thread of this process (uvicorn, as `kho review serve`)."""
    import uvicorn

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: run scripts/setup.sh (it installs Debian's chromium)")
    db = ReviewDB(f"sqlite:///{tmp_path_factory.mktemp('review-db')}/review.sqlite")
    db.create_all()
    add_user(db, LEAD[0], "lead", LEAD[1])
    add_user(db, ANNOTATOR[0], "annotator", ANNOTATOR[1])
    port = _free_port()
    config = uvicorn.Config(create_app(review_runs["store"], db, ReviewSettings(port=port)),
                            host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
        time.sleep(0.05)
    try:
        yield {"url": f"http://127.0.0.1:{port}", "db": db, **review_runs}
    finally:
        uv.should_exit = True
        thread.join(10)
        db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                    "--disable-background-networking"])
        try:
            yield b
        finally:
            b.close()


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _login(browser: Browser, server: dict, who: tuple[str, str], shot: str | None = None) -> Page:
    page = browser.new_context().new_page()
    page.goto(server["url"] + "/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("#name", who[0])
    page.fill("#password", who[1])
    if shot:
        _shot(page, shot)
    page.click("#login")
    expect(page.locator(".who .user")).to_have_text(who[0])
    return page


def _draw(page: Page, server: dict, run_id: str, queue: str, per_queue: int) -> str:
    page.goto(f"{server['url']}/runs/{run_id}")
    page.select_option("#queue-name", queue)
    page.fill("input[name=per_queue]", str(per_queue))
    page.fill("input[name=double_share]", "0")
    page.click("#draw")
    expect(page).to_have_url(re.compile(r"/queues/\d+"))
    return page.url.split("?")[0]


def _dashboard_row(page: Page, server: dict, run_id: str, queue: str) -> dict[str, str]:
    page.goto(f"{server['url']}/runs/{run_id}/dashboard")
    row = page.locator(f"tr[data-queue='{queue}']")
    return {c: row.locator(f"td.{c}").inner_text() for c in ("judged", "correct", "wrong", "unsure", "precision")}


def test_annotator_judges_three_items_with_the_keyboard_and_the_dashboard_follows(server, browser) -> None:
    lead = _login(browser, server, LEAD, shot="01-login")
    _shot(lead, "02-runs")
    lead.click(f"a.run-link[href='/runs/{server['text_run']}']")
    _shot(lead, "03-run")
    queue_url = _draw(lead, server, server["text_run"], "kept", per_queue=5)

    ann = _login(browser, server, ANNOTATOR)
    ann.goto(queue_url)
    expect(ann.locator("#review[data-ready='1']")).to_be_attached()
    ann.evaluate("window.__noReload = true")  # survives only if the page never reloads
    expect(ann.locator("#progress")).to_have_text(re.compile(r"^0 of 5 judged"))
    _shot(ann, "04-queue")
    seen = []
    for n, key in enumerate(["1", "2", "1"], start=1):
        item = ann.locator("#item")
        seen.append(item.get_attribute("data-item-id"))
        ann.keyboard.press(key)
        expect(ann.locator("#progress")).to_have_text(re.compile(rf"^{n} of 5 judged"))
        expect(ann.locator("#item")).not_to_have_attribute("data-item-id", seen[-1])
    assert len(set(seen)) == 3
    assert ann.evaluate("window.__noReload") is True
    _shot(ann, "05-judged-three")

    before = _dashboard_row(lead, server, server["text_run"], "kept")
    assert before == {"judged": "3", "correct": "2", "wrong": "1", "unsure": "0", "precision": "66.7%"}
    _shot(lead, "06-dashboard")

    # p goes back to the third item and 2 turns it into a wrong decision: precision falls
    ann.keyboard.press("p")
    expect(ann.locator("#item")).to_have_attribute("data-item-id", seen[2])
    ann.keyboard.press("c")
    ann.keyboard.type("nội dung quảng cáo, không nên giữ")
    ann.keyboard.press("Escape")
    ann.keyboard.press("2")
    expect(ann.locator("#status")).to_have_text("saved: wrong")
    after = _dashboard_row(lead, server, server["text_run"], "kept")
    assert after == {"judged": "3", "correct": "1", "wrong": "2", "unsure": "0", "precision": "33.3%"}
    expect(lead.locator("ul.disputed")).to_contain_text("quảng cáo")
    _shot(lead, "07-dashboard-changed")


def test_image_items_show_the_published_image_and_duplicate_pairs_side_by_side(server, browser) -> None:
    lead = _login(browser, server, LEAD)
    _draw(lead, server, server["image_run"], "kept", per_queue=3)
    img = lead.locator(".viewer-image img").first
    expect(img).to_be_visible()
    assert lead.evaluate("(img) => img.complete && img.naturalWidth > 0", img.element_handle())
    _shot(lead, "08-image-kept")

    _draw(lead, server, server["image_run"], "duplicates", per_queue=3)
    pair = lead.locator(".viewer-pair")
    expect(pair.locator(".side.dropped img")).to_be_visible()
    expect(pair.locator(".side.kept img")).to_be_visible()
    for side in ("dropped", "kept"):
        handle = pair.locator(f".side.{side} img").element_handle()
        assert lead.evaluate("(img) => img.complete && img.naturalWidth > 0", handle), side
    _shot(lead, "09-image-duplicate-pair")
