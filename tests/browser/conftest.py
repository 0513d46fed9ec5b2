"""Shared browser fixtures: one headless Chromium per test module, pages at any viewport, demo data."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = {"width": 390, "height": 844}
NARROW = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def _module_chromium() -> Iterator:
    """One headless Chromium for the tests of a module (launching one per test cost seconds each);
    every test works in browser contexts of its own, closed when it ends."""
    # Playwright's sync API runs an event loop in this thread while the browser is open, and the
    # tests read the database from it. Set for this module only: the variable must never reach a
    # deployment check.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
            message = f"Chromium not found at {CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                      "--disable-sync"],
            )  # fmt: skip
            yield browser
            browser.close()


@pytest.fixture
def chromium(_module_chromium, live_server) -> Iterator:
    """A Chromium browser; `chromium.new_context(viewport=...)` for each viewport a test needs."""
    yield _module_chromium
    for context in _module_chromium.contexts:
        context.close()


def login(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def screenshot(page, name: str) -> Path:
    """Saved under test-artifacts/ for a person to look at (CI keeps the folder)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def horizontal_overflow(page) -> dict:
    """How far the page is wider than the viewport, and the widest elements that cause it."""
    return page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          const over = document.documentElement.scrollWidth - width;
          const culprits = [];
          if (over > 0) {
            for (const el of document.querySelectorAll('body *')) {
              const r = el.getBoundingClientRect();
              if (r.right > width + 1 && getComputedStyle(el).position !== 'fixed') {
                culprits.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                              (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''));
                if (culprits.length > 5) break;
              }
            }
          }
          return {over, culprits};
        }"""
    )
