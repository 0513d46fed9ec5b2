"""axe-core (vendored: tests/browser/vendor/axe.min.js, axe-core 4.14.1, MPL-2.0) finds no WCAG 2.0/2.1/2.2
A and AA violation on any page, on a laptop and on a phone, in light and dark mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import DESKTOP, NARROW, login
from .test_responsive import _pages, demo  # noqa: F401  (the demo data fixture)

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.django_db(transaction=True)]

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
RUN = """async tags => (await axe.run(document, {runOnly: tags})).violations.map(v =>
  v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))"""


@pytest.mark.parametrize(
    ("viewport", "scheme"), [(DESKTOP, "light"), (NARROW, "dark")], ids=["desktop-light", "phone-dark"]
)
def test_axe_finds_no_violation_on_any_page(chromium, live_server, demo, viewport, scheme):  # noqa: F811
    # The app's CSP allows only its own scripts; the test injects axe through the browser instead.
    page = chromium.new_context(viewport=viewport, color_scheme=scheme, bypass_csp=True).new_page()
    login(page, live_server.url, "ada", "outreach-demo")
    found = {}
    for path in _pages():
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        page.add_script_tag(content=AXE)
        violations = page.evaluate(RUN, TAGS)
        if violations:
            found[path] = violations
    assert found == {}
