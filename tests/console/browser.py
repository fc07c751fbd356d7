"""A real browser for the console's tests: Debian's chromium driven by Playwright (the Python package), never
a browser that Playwright downloads. Screenshots go to a folder of the test run (not committed), named in
the run's summary; a test can also keep them elsewhere with GSOMIA_SCREENSHOTS=DIR."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
TIMEOUT_MS = 20_000  # every wait of a test is bounded by this


def spki_pin(certificate_pem: bytes) -> str:
    """Chromium's --ignore-certificate-errors-spki-list form of a certificate: base64(SHA-256(its SPKI)). The
    browser then trusts that one node certificate, and nothing else that is not publicly trusted."""
    public = x509.load_pem_x509_certificate(certificate_pem).public_key()
    spki = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@contextmanager
def chromium(pins: list[str]) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium (.ci/apt-packages)")
        pytest.skip("Debian's chromium is not installed here (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), timeout=TIMEOUT_MS,
                                             args=[*ARGS, f"--ignore-certificate-errors-spki-list={','.join(pins)}"])
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Screens:
    """Where the run's screenshots go, and what the console's pages said to the browser's console."""

    folder: Path
    taken: list[Path] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    @classmethod
    def at(cls, default: Path) -> Screens:
        folder = Path(os.environ.get("GSOMIA_SCREENSHOTS") or default)
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder)

    def shoot(self, page: Page, name: str, *, full_page: bool = True) -> Path:
        """The page as a person sees it; `full_page=False` for a modal dialog (the window, as it is shown)."""
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        self.taken.append(path)
        return path

    def watch(self, page: Page) -> None:
        def seen(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
                self.csp_violations.append(f"{page.url}: {message.text}")
        page.on("console", seen)


def new_context(browser: Browser, base_url: str) -> BrowserContext:
    context = browser.new_context(base_url=base_url, accept_downloads=True, viewport={"width": 1440, "height": 900},
                                  locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(TIMEOUT_MS)
    return context
