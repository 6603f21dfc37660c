"""The trainer in a real browser: Playwright drives Debian's chromium (no browser download).

One test of the whole flow: a trainee starts a case, asks for a hint, takes the
recommended action and a deviation, advances to the end of the case and reads a debrief
that counts the hint and names the rules the deviation broke. Without chromium the test
fails and says how to install it (the CI installs it): it is never skipped.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The trainer app served by uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    from simulation.train.app import create_app
    from simulation.train.cases import load_library

    app = create_app(load_library(), tmp_path / "sessions")
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "the trainer did not start within 10 s"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_trainee_completes_a_case_with_a_deviation_and_a_hint(server: str) -> None:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.fail(
            "chromium is not installed; the trainer's browser test needs it: "
            "apt-get update && apt-get install -y chromium (.ci/run does this)"
        )
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            page.goto(server + "/")
            page.check("input[name=case_id][value=classic-chronic]")
            page.check("input[name=difficulty][value=standard]")
            page.fill("#trainee", "Ada <b>L</b>")
            page.click("#start-case")
            expect(page.locator("h1")).to_contain_text("Classic chronic AIH")
            # Hidden until asked for in standard mode; a hint shows it and is counted.
            expect(page.locator("#advice")).to_have_count(0)
            page.click("#hint")
            expect(page.locator("#advice")).to_contain_text("Start predniso(lo)ne (must)")
            expect(page.locator("#hint")).to_contain_text("used: 1")
            page.select_option("#action", "start_prednisolone")
            page.click("#take")
            expect(page.locator("#feedback")).to_contain_text("recommended")
            expect(page.locator("#drugs")).to_contain_text("prednisolone")
            # Azathioprine on the steroid's first day, TPMT unknown: a deviation, explained.
            page.select_option("#action", "add_azathioprine")
            page.fill("#comment", "<i>want it early</i>")
            page.click("#take")
            feedback = page.locator("#feedback")
            expect(feedback).to_contain_text("deviation")
            expect(feedback).to_contain_text("INV-05")
            expect(feedback).to_contain_text("G-EASL15")
            expect(feedback).to_contain_text("<i>want it early</i>")  # shown as text
            for _ in range(60):
                if page.locator("#over").count():
                    break
                # Each advance is one more decision (moments may share a day).
                done = page.get_attribute("#session", "data-decisions")
                page.click("#advance")
                expect(page.locator("#session")).not_to_have_attribute("data-decisions", done or "")
            expect(page.locator("#over")).to_contain_text("The case is over (horizon)")
            page.click("#open-debrief")
            expect(page.locator("h1")).to_contain_text("Debrief: Classic chronic AIH")
            expect(page.locator("#hints")).to_have_text("1")
            assert "Ada <b>L</b>" in page.locator("main > p.muted").first.inner_text()
            deviation = page.locator(".deviation-row", has_text="Add azathioprine")
            expect(deviation).to_have_count(1)
            expect(deviation).to_contain_text("INV-05")
            expect(deviation).to_contain_text("INV-07")
            # The score is the share of in-line decisions in the page's own decision list.
            classes = page.locator("#decisions .badge").all_inner_texts()
            in_line = sum(c in ("recommended", "allowed") for c in classes)
            assert classes[:2] == ["recommended", "deviation"]
            score = page.locator("#score .score").inner_text()
            assert score == f"{round(100 * in_line / len(classes), 1):g}%"
            outcomes = page.locator("#outcomes").inner_text()
            assert re.search(r"Care state at the end\s+\S", outcomes)
        finally:
            browser.close()
