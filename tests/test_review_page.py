"""The review page in a real browser: `letters review serve` as its own process, Debian's Chromium
driven by Playwright; a held debtor goes from `held` to `generated` by a click and a key press."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from letters.errors import ExitCode
from tests.helpers import at, batch_dirs, manifest, run_in_process

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [  # no sandbox as root; no calls out to the network this machine does not have
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
NEXT_DAY = date(2026, 11, 21)
URL_LINE = re.compile(r"^Review page \(Ctrl-C stops it\): (http://127\.0\.0\.1:\d+/\?token=\S+)$")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is missing: `make install` installs it"
)


class Server:
    """`letters review serve` running in its own process, and the URL it printed."""

    def __init__(self, out: Path, *extra: str) -> None:
        command = [sys.executable, "-m", "letters.cli.app", "review", "serve", "--port", "0",
                   "--out", str(out), *extra]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        line = self.process.stdout.readline().strip()
        match = URL_LINE.match(line)
        assert match, (line, self.process.stderr.read() if self.process.poll() is not None else "")
        self.url = match.group(1)
        self.base = self.url.split("/?", 1)[0]

    def stop(self) -> tuple[int, str]:
        """SIGTERM, as a terminal's Ctrl-C or a service manager would: the exit code and stderr."""
        self.process.send_signal(signal.SIGTERM)
        _out, err = self.process.communicate(timeout=20)
        return self.process.returncode, err


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def server(held: tuple[Path, Path, Path]) -> Iterator[Server]:
    running = Server(held[2], "--by", "J. Doe")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


def _page(browser: Browser) -> Page:
    page = browser.new_page()
    page.set_default_timeout(20_000)
    return page


def test_a_reviewer_clears_the_queue_in_the_browser_and_the_next_run_mails_it(
    held: tuple[Path, Path, Path], server: Server, browser: Browser
) -> None:
    page = _page(browser)
    page.goto(server.url)
    assert "token=" not in page.url  # the token moves into a cookie at once
    assert page.locator("h1").inner_text() == "Held for their address: 2 waiting"
    page.keyboard.press("n")  # the oldest waiting debtor
    page.wait_for_url(re.compile(r"/debtor/C2$"))
    assert page.locator("#reviewer").input_value() == "J. Doe"  # from --by
    assert page.locator("table.candidates thead th").count() == 3  # a header cell, 2 candidates
    assert page.locator("tr.factor th", has_text="source_trust").count() == 1
    letter = page.locator("img.page").first  # the letter that would go, as a PNG
    letter.wait_for()
    page.wait_for_function("() => [...document.images].every(image => image.complete)")
    width, height = letter.evaluate("image => [image.naturalWidth, image.naturalHeight]")
    assert width > 500 and abs(height / width - 11 / 8.5) < 0.01  # a US Letter page
    accept_key = page.locator('button[data-key="1"]').inner_text()
    assert accept_key.startswith("Accept candidate 1")

    page.keyboard.press("1")  # accept candidate 1; the page goes on to the next waiting debtor
    page.wait_for_url(re.compile(r"/debtor/C3\?done="))
    assert page.locator("#done").inner_text() == "C2: accept 1 recorded"

    page.keyboard.press("a")  # type a corrected address for C3, Enter sends it
    assert page.evaluate("document.activeElement.id") == "address"
    page.keyboard.type("nowhere at all")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert page.locator("#error").inner_text().startswith("address: not a deliverable address")
    page.locator("#address").fill("500 w madison street suite 1200, chicago, il 60661")
    page.locator("#decide-address").click()
    page.wait_for_url(re.compile(r"/\?done="))
    assert page.locator("h1").inner_text() == "Held for their address: 0 waiting"
    assert page.locator("#done").inner_text() == "C3: address recorded"

    code, err = server.stop()
    assert (code, err.strip()) == (0, "review page stopped")

    accounts, sources, out = held
    result = run_in_process(accounts, [sources], out, as_of=NEXT_DAY, now=at("09:00:00", NEXT_DAY))
    assert result.exit_code == ExitCode.DONE, result.summary()
    rows = {row["account_id"]: row for row in manifest(batch_dirs(out)[-1])}
    assert (rows["A2"]["status"], rows["A2"]["reason_code"]) == ("generated", "letter_due")
    assert "reviewer" in rows["A2"]["address_sources"].split(";")
    assert re.search(
        r"; chosen by a reviewer on 2026-11-20 \(review:\d+\)", rows["A2"]["reason_detail"]
    )
    assert (rows["A3"]["status"], rows["A3"]["address_line1"]) == ("generated", "500 W MADISON ST")


def _status(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_page_needs_its_token_and_refuses_cross_site_posts(
    server: Server, browser: Browser
) -> None:
    assert _status(server.base + "/") == 403  # no token
    assert _status(server.base + "/?token=not-the-token") == 403
    assert _status(server.base + "/debtor/C2") == 403

    page = _page(browser)
    page.goto(server.url)
    (cookie,) = [c for c in page.context.cookies() if c["name"].startswith("letters_review_")]
    assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Strict")
    with_cookie = {"Cookie": f"{cookie['name']}={cookie['value']}"}
    assert _status(server.base + "/debtor/C2", headers=with_cookie) == 200
    form = b"customer_id=C2&decision=leave&reviewer=Mallory&csrf=x"
    cross_site = {**with_cookie, "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    assert _status(server.base + "/decide", form, cross_site) == 403
    same_site = {**with_cookie, "Origin": server.base}
    assert _status(server.base + "/decide", form, same_site) == 403  # a wrong CSRF token
    foreign_host = {**with_cookie, "Host": "evil.example"}
    assert _status(server.base + "/", headers=foreign_host) == 400  # DNS rebinding

    page.goto(server.base + "/debtor/C2")
    assert page.locator("#leave").is_visible()
    assert "C2" not in "".join(line for line in server.stop()[1].splitlines())  # no names logged
