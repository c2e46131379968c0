"""The HTML report in a real browser: headless Chromium loads it without console errors,
decodes every image, and every table-of-contents link lands on its section. Slow tier;
skips where selenium, Chromium or chromedriver is missing (.ci/run installs them)."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

import shapkit
from shapkit.reports.html import SECTIONS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    binary = next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
        None,
    )
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.skip("no headless Chromium with chromedriver on this machine")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver_path))
    yield driver
    driver.quit()


def _report(tmp_path):
    """A report with the awkward parts: two outputs shown, a group, a categorical
    column, names with markup and mathtext."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "age <b>": rng.normal(50, 10, 120),
            "cost_$\\frac$": rng.normal(size=120),
            "bmi": rng.normal(25, 4, 120),
            "group": pd.Categorical(rng.choice(["a", "b"], 120)),
        }
    )
    codes = X.assign(group=X["group"].cat.codes)
    y = (codes["bmi"] + 2 * codes["group"] + rng.normal(size=120) > 26).astype(int)
    model = LogisticRegression(max_iter=1000).fit(codes, y)

    def predict_proba(Z):
        return model.predict_proba(Z.assign(group=Z["group"].cat.codes))

    expl = shapkit.explain(
        predict_proba, X.iloc[:12], background=X.iloc[40:100], method="kernel",
        budget=64, seed=0, groups={"body & age": ["age <b>", "bmi"]},
    )  # fmt: skip
    return shapkit.report(expl, tmp_path / "report.html", all_outputs=True)


def test_report_loads_cleanly_in_chromium(browser, tmp_path):
    path = _report(tmp_path)
    browser.get(path.resolve().as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
    )
    # bar, two beeswarms, two rows x two outputs of waterfall and force plots
    assert len(images) == 1 + 2 + 8
    assert all(complete and width > 100 and height > 50 for complete, width, height in images)
    links = browser.execute_script(
        "return Array.from(document.querySelectorAll('a[href^=\"#\"]')).map("
        "a => [a.getAttribute('href'), document.getElementById(a.getAttribute('href').slice(1))"
        " !== null])"
    )
    assert sorted(href for href, _ in links) == sorted(f"#{key}" for key in SECTIONS)
    assert all(found for _, found in links)
    for key in SECTIONS:  # following a link scrolls its section into view
        browser.find_element("css selector", f'a[href="#{key}"]').click()
        top = browser.execute_script(
            f"return document.getElementById('{key}').getBoundingClientRect().top"
        )
        assert abs(top) < 5 or browser.execute_script(
            "return window.innerHeight + window.scrollY >= document.body.scrollHeight - 2"
        )
    text = browser.find_element("tag name", "body").text
    assert "body & age" in text and "cost_$\\frac$" in text  # shown as text, not markup
