"""The web console in a real headless Chromium against ``app-tokens serve``, as a person uses it.

Playwright drives Debian's Chromium (``/usr/bin/chromium``, or ``CHROMIUM``); Playwright's own
browser download is never used. Every step leaves a screenshot in ``artifacts/console/``. The
API is also called directly (urllib) to check what the console claims: that a copied secret
works, that a grace keeps the old one alive, that a cascade revoked the child.
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.e2e.test_local_server import Server, _launch, _stop, request

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "console"
AXE = ROOT / "tests" / "console" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
TOKENS = "/v1/orgs/demo/apps/demo-app/tokens"
WIDE = {"width": 1440, "height": 1000}
NARROW = {"width": 375, "height": 800}
# A token may create only tokens no broader than itself: the child keeps every restriction.
CHILD = {
    "name": "child-of-deploy-bot",
    "permissions": ["app_tokens:list"],
    "scopes": ["deploy:write"],
    "endpoint_paths": ["/v1/*"],
    "environment_ids": ["prod"],
    "rate_limit_rps": 5,
    "rate_limit_burst": 10,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = _launch(tmp_path_factory.mktemp("serve") / "stderr.log")
    yield running
    if running.process.poll() is None:
        _stop(running, signal.SIGINT)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    assert AXE.is_file(), "axe-core is missing: npm ci in tests/console (make test-console does it)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class Console:
    """One browser context on the console, and what it logged: a CSP violation is an error too."""

    def __init__(self, browser: Browser, server: Server, viewport: dict[str, int] = WIDE) -> None:
        self.context: BrowserContext = browser.new_context(
            viewport={"width": viewport["width"], "height": viewport["height"]}
        )
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda message: self._note(message.type, message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.server = server
        self.page.goto(server.url + "/console/")

    def _note(self, kind: str, text: str) -> None:
        # The browser logs a failed request (a 403, a 422 the test asked for) as an error too.
        if kind == "error" and "Failed to load resource" not in text:
            self.errors.append(text)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def sign_in(self, token: str) -> None:
        self.page.get_by_label("API token").fill(token)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("heading", name="Tokens", exact=True)).to_be_visible()

    def create(self, fields: dict[str, str]) -> None:
        self.page.get_by_role("button", name="Create token").click()
        dialog = self.page.locator("#create-dialog")
        for label, value in fields.items():
            dialog.get_by_label(label, exact=True).fill(value)

    def stored(self) -> dict[str, object]:
        """Everything the page could have kept: storage, cookies, the URL, IndexedDB's names."""
        kept = self.page.evaluate(
            """async () => ({
                local: JSON.stringify({...localStorage}), session: JSON.stringify({...sessionStorage}),
                cookie: document.cookie, url: location.href,
                databases: (await indexedDB.databases()).map((d) => d.name),
            })"""
        )
        kept["cookies"] = self.context.cookies()
        return dict(kept)

    def axe(self) -> list[dict[str, object]]:
        """axe-core's serious and critical violations on the page as it is now."""
        self.page.evaluate(AXE.read_text())  # evaluate, not a <script> tag: the page's CSP allows none
        result = self.page.evaluate("async () => (await axe.run(document)).violations")
        return [v for v in result if v["impact"] in ("serious", "critical")]

    def close(self) -> None:
        self.context.close()


def _admin_whoami(server: Server, token: str) -> int:
    return request(server, "GET", "/v1/whoami", token)[0]


def test_a_person_manages_tokens_through_the_console(browser: Browser, server: Server) -> None:
    console = Console(browser, server)
    page = console.page
    console.shot("01-sign-in")
    assert not console.axe()

    console.sign_in(server.admin_token)
    expect(page.locator("#who")).to_contain_text("org demo, app demo-app")
    kept = console.stored()
    assert server.admin_token not in json.dumps(kept, default=str)
    assert page.get_by_label("API token").input_value() == ""
    console.shot("02-list")

    # Create with restrictions; the plaintext is shown once, copied, then gone.
    console.create(
        {
            "Name": "deploy-bot",
            "Description": "CI deploys",
            "Permissions": "app_tokens:create\napp_tokens:list",
            "Scopes": "deploy:write",
            "Endpoint paths": "/v1/*",
            "Environment ids": "prod, staging",
            "Rate limit, requests per second": "5",
            "Rate limit, burst": "10",
        }
    )
    expires = page.locator("#c-expires_at")
    earliest, latest = expires.get_attribute("min"), expires.get_attribute("max")
    assert earliest and latest and earliest < latest
    in_a_month = page.evaluate(
        "() => { const d = new Date(Date.now() + 30 * 864e5); d.setSeconds(0, 0);"
        " return [new Date(d - d.getTimezoneOffset() * 6e4).toISOString().slice(0, 16), d.toISOString()]; }"
    )
    expires.fill(in_a_month[0])
    console.shot("03-create-form")
    page.locator("#create-dialog").get_by_role("button", name="Create", exact=True).click()
    secret_dialog = page.get_by_role("dialog", name="Copy the new secret now")
    expect(secret_dialog).to_be_visible()
    secret = page.locator("#secret-value").input_value()
    assert re.fullmatch(r"atok_\w+", secret)
    page.keyboard.press("Escape")  # only the explicit button closes it
    expect(secret_dialog).to_be_visible()
    console.shot("04-secret-dialog")
    assert not console.axe()
    secret_dialog.get_by_role("button", name="Copy access token").click()
    expect(page.locator("#copy-status")).to_contain_text("copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    assert _admin_whoami(server, secret) == 200  # what was copied is the working secret
    secret_dialog.get_by_role("button", name="I have stored it").click()
    expect(secret_dialog).to_be_hidden()
    assert secret not in page.content()
    assert secret not in json.dumps(
        page.evaluate("[...document.querySelectorAll('input')].map((i) => i.value)")
    )

    # The child this token creates, for the cascade at the end.
    status, child = request(server, "POST", TOKENS, secret, CHILD)
    assert status == 201, child

    # Find it in the list, newest first, with relative and absolute times.
    page.get_by_label("Status").select_option("active")
    name_button = page.get_by_role("button", name="deploy-bot", exact=True)
    row = page.locator("#token-table tbody tr").filter(has=name_button)
    expect(page.locator("#token-table tbody tr").first).to_contain_text("child-of-deploy-bot")
    expect(row).to_contain_text(re.compile(r"in (12 months|\d+ days|3 months|\d+ months) \(\d{4}-\d\d-\d\d"))
    name_button.click()
    expect(page.get_by_role("heading", name="Token deploy-bot")).to_be_visible()
    expect(page.locator("#detail-fields")).to_contain_text("deploy:write")
    day = in_a_month[1][:10]
    expect(page.locator("#detail-fields")).to_contain_text(
        re.compile(rf"in (4 weeks|30 days|1 month|next month) \({day}")
    )
    expect(page.locator("#detail-details")).to_contain_text("active")
    expect(page.locator("#history")).to_contain_text("created")
    console.shot("05-details")
    assert not console.axe()

    # Rotate with a grace: a new secret once, and the old one still works for now.
    page.get_by_role("button", name="Rotate").click()
    page.get_by_label("Keep the current secret working for (seconds)").fill("600")
    page.locator("#rotate-dialog").get_by_role("button", name="Rotate").click()
    expect(secret_dialog).to_be_visible()
    rotated = page.locator("#secret-value").input_value()
    assert rotated != secret and _admin_whoami(server, rotated) == 200
    assert _admin_whoami(server, secret) == 200
    console.shot("06-rotated")
    secret_dialog.get_by_role("button", name="I have stored it").click()
    expect(page.locator("#detail-details")).to_contain_text("previous_secret_expires_at")
    expect(page.locator("#history")).to_contain_text("rotated")

    # Disable, then enable again.
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("button", name="Enable")).to_be_visible()
    expect(page.locator("#detail-details")).to_contain_text("disabled")
    assert _admin_whoami(server, rotated) != 200
    console.shot("07-disabled")
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("button", name="Disable")).to_be_visible()
    assert _admin_whoami(server, rotated) == 200

    # Edit the name and description.
    page.get_by_role("button", name="Edit name and description").click()
    page.locator("#edit-dialog").get_by_label("Name").fill("deploy-bot-2")
    page.locator("#edit-dialog").get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Token deploy-bot-2")).to_be_visible()
    expect(page.locator("#history")).to_contain_text("updated")

    # Revoke with cascade: the child it created goes too.
    page.get_by_role("button", name="Revoke").click()
    page.get_by_label("Reason").fill("retired")
    page.get_by_label("Also revoke every token it created").check()
    console.shot("08-revoke")
    page.locator("#revoke-dialog").get_by_role("button", name="Revoke").click()
    expect(page.locator("#history")).to_contain_text("revoked")
    expect(page.get_by_role("button", name="Rotate")).to_be_disabled()
    status, read = request(server, "GET", f"{TOKENS}/{child['token']['token_id']}", server.admin_token)
    assert status == 200 and read["details"]["status"] == "revoked"
    console.shot("09-revoked")

    # The list again, at both widths; nothing wider than the screen at 375 px.
    page.get_by_role("button", name="Back to the list").click()
    page.get_by_label("Status").select_option("")
    expect(page.locator("#status")).to_have_text("Page 1: 3 tokens.")
    expect(page.locator("#token-table tbody tr").nth(1)).to_contain_text("revoked")
    console.shot("10-list-wide")
    page.set_viewport_size({"width": NARROW["width"], "height": NARROW["height"]})
    assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
    console.shot("11-list-375")
    assert not console.axe()

    # A reload forgets the token.
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert server.admin_token not in json.dumps(console.stored(), default=str)
    assert console.errors == []
    console.close()


def test_a_bad_field_is_pointed_at(browser: Browser, server: Server) -> None:
    console = Console(browser, server)
    console.sign_in(server.admin_token)
    console.create({"Name": "bad-paths", "Endpoint paths": "no-leading-slash"})
    console.page.locator("#create-dialog").get_by_role("button", name="Create", exact=True).click()
    field = console.page.locator("#c-endpoint_paths")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(console.page.locator("#c-endpoint_paths-error")).to_be_visible()
    expect(console.page.locator("#create-dialog [role=alert]")).to_contain_text("body.endpoint_paths")
    console.shot("12-invalid-field")
    assert not console.axe()
    assert console.errors == []
    console.close()


def test_a_weaker_token_is_told_which_permission_it_lacks(browser: Browser, server: Server) -> None:
    status, weak = request(
        server, "POST", TOKENS, server.admin_token, {"name": "reader", "permissions": ["app_tokens:list"]}
    )
    assert status == 201
    console = Console(browser, server, NARROW)
    console.sign_in(weak["plaintext_token"])
    console.create({"Name": "not-allowed"})
    console.page.locator("#create-dialog").get_by_role("button", name="Create", exact=True).click()
    expect(console.page.locator("#create-dialog [role=alert]")).to_contain_text("app_tokens:create")
    console.shot("13-forbidden-375")
    assert console.page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
    assert console.errors == []
    console.close()


def test_the_console_answers_with_its_security_headers(server: Server) -> None:
    import urllib.request

    with urllib.request.urlopen(server.url + "/console/", timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in policy and "unsafe" not in policy and "frame-ancestors 'none'" in policy


def test_paging_follows_the_api_cursor(browser: Browser, server: Server) -> None:
    for number in range(21):  # one more than a page of the console (PAGE_SIZE in app.js)
        assert request(server, "POST", TOKENS, server.admin_token, {"name": f"page-{number:02}"})[0] == 201
    console = Console(browser, server)
    console.sign_in(server.admin_token)
    page = console.page
    expect(page.locator("#token-table tbody tr").first).to_contain_text("page-20")  # newest first
    expect(page.locator("#token-table tbody tr")).to_have_count(20)
    page.get_by_role("button", name="Next page").click()
    expect(page.locator("#status")).to_contain_text("Page 2")
    expect(page.locator("#token-table tbody")).not_to_contain_text("page-20")
    page.get_by_role("button", name="Previous page").click()
    expect(page.locator("#status")).to_contain_text("Page 1")
    expect(page.locator("#token-table tbody tr").first).to_contain_text("page-20")
    assert console.errors == []
    console.close()


def test_the_guards_are_set_in_the_form_and_shown_in_the_details(browser: Browser, server: Server) -> None:
    """Issue 16's fields through the console: an IP allowlist, credits with a refill, a canary."""
    console = Console(browser, server)
    page = console.page
    console.sign_in(server.admin_token)
    console.create(
        {
            "Name": "metered-office",
            "IP allowlist (CIDRs)": "127.0.0.1, 2001:DB8::/32",
            "Remaining uses": "50",
            "Refill amount": "100",
        }
    )
    page.locator("#c-refill-interval").select_option("daily")
    page.locator("#create-dialog").get_by_role("button", name="Create", exact=True).click()
    secret_dialog = page.get_by_role("dialog", name="Copy the new secret now")
    expect(secret_dialog).to_be_visible()
    secret = page.locator("#secret-value").input_value()
    secret_dialog.get_by_role("button", name="I have stored it").click()
    status, read = request(server, "GET", f"{TOKENS}/{secret.split('_')[1]}", server.admin_token)
    assert status == 200
    assert read["details"]["ip_allowlist"] == ["127.0.0.1/32", "2001:db8::/32"]  # canonical
    assert read["details"]["credits"]["remaining"] == 50
    assert read["details"]["credits"]["refill"] == {"amount": 100, "interval": "daily"}
    page.get_by_role("button", name="metered-office", exact=True).click()
    expect(page.locator("#detail-details")).to_contain_text("127.0.0.1/32, 2001:db8::/32")
    expect(page.locator("#detail-details")).to_contain_text('"remaining":50')
    console.shot("14-guards")
    page.get_by_role("button", name="Back to the list").click()

    console.create({"Name": "planted-decoy"})
    page.get_by_label("Canary (any use of this token raises an alert)").check()
    page.locator("#create-dialog").get_by_role("button", name="Create", exact=True).click()
    secret_dialog = page.get_by_role("dialog", name="Copy the new secret now")
    expect(secret_dialog).to_be_visible()
    decoy = page.locator("#secret-value").input_value()
    secret_dialog.get_by_role("button", name="I have stored it").click()
    assert _admin_whoami(server, decoy) == 401  # a canary never authenticates
    page.get_by_role("button", name="planted-decoy", exact=True).click()
    expect(page.locator("#detail-details")).to_contain_text("canary")
    status, read = request(server, "GET", f"{TOKENS}/{decoy.split('_')[1]}", server.admin_token)
    assert status == 200 and read["details"]["canary"] is True and read["details"]["last_tripped_at"]
    assert not console.axe()
    assert console.errors == []
    console.close()
