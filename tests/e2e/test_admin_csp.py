"""The admin pages under their own Content-Security-Policy, in real Chromium (issue 22,
defect 12): the rules editor set its number fields' widths with style attributes, which
``style-src 'self'`` blocks, so the widths were lost. Every admin page is opened with the
CSP enforced (the other admin tests bypass it) and must cause no violation."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import E2E, PASSWORD
from tests.e2e.test_admin import AdminHub, admin_hub, chromium  # noqa: F401  (fixtures)

pytestmark = E2E

# Set before any page script runs: every CSP violation the page causes, as it happens.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__violations.push(`${e.violatedDirective}: ${e.blockedURI || "inline"} (${where})`);
});
"""


async def test_every_admin_page_renders_under_the_csp_without_a_violation(
    admin_hub: AdminHub,  # noqa: F811
    chromium: Any,  # noqa: F811
) -> None:
    context = await chromium.new_context(locale="en-GB", viewport={"width": 1400, "height": 1000})
    await context.add_init_script(RECORD_VIOLATIONS)
    page = await context.new_page()
    console_errors: list[str] = []
    page_errors: list[str] = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    response = await page.goto(f"{admin_hub.url}/admin/")
    assert response is not None
    assert "style-src 'self'" in (await response.all_headers())["content-security-policy"]
    await page.fill("input[name=email]", "ada@e2e.example")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#rules-form")

    # the rules editor with a second target: its number fields have their widths
    await page.click("#add-rule")
    await page.wait_for_selector("#rule-0-name")
    assert await page.evaluate("window.__violations") == []
    widths = await page.eval_on_selector_all(
        "table.targets input[type=number]",
        """els => els.map(e => [e.className, parseFloat(getComputedStyle(e).width) /
                                         parseFloat(getComputedStyle(e).fontSize)])""",
    )
    assert {name for name, _ in widths} == {"timeout", "priority"}
    for name, ems in widths:
        assert {"timeout": 6.5, "priority": 5.5}[name] < ems < {"timeout": 7.5, "priority": 6.5}[name], widths

    for name, marker in [
        ("agents", "#agents"),
        ("channels", "#channels"),
        ("sites", "#sites"),
        ("canned", "#canned"),
        ("tokens", "#tokens"),
        ("audit", "#audit-form"),
        ("import", "#import-form"),
    ]:
        await page.click(f"#nav-{name}")
        await page.wait_for_selector(marker)
    await page.click("#nav-agents")
    await page.click("#new-agent")
    await page.wait_for_selector("#agent-form")

    assert await page.evaluate("window.__violations") == []
    assert [e for e in console_errors if "Content Security Policy" in e] == []
    assert page_errors == []
    await context.close()
