"""The HTML report: self-contained, one page per trial, and checked in a real browser."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import pytest

from lrbench.store import Store, TaskInfo, TrialStatus
from lrbench.viz.report import write_report

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_report_is_self_contained_with_a_page_per_trial(studies, tmp_path: Path) -> None:
    store, _ = studies
    index = write_report(store, ["normal"], tmp_path / "report")
    html = index.read_text()
    assert "For toy, use cosine(lr=0.1,total_steps=100): acc 0.955" in html
    assert "http://" not in html and "https://" not in html  # nothing to fetch
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 5
    assert all(base64.b64decode(image)[:8] == b"\x89PNG\r\n\x1a\n" for image in images)
    pages = sorted((tmp_path / "report" / "trials").glob("*.html"))
    assert len(pages) == 12
    assert "Final metrics" in pages[0].read_text() and "data:image/png" in pages[0].read_text()


def test_report_compares_several_studies_and_survives_odd_ones(studies, tmp_path: Path) -> None:
    store, _ = studies
    index = write_report(
        store, ["normal", "empty", "one-trial", "all-diverged", "big"], tmp_path / "all"
    )
    html = index.read_text()
    assert "Comparison of 5 studies" in html
    assert "No configuration of toy completed yet" in html


CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
def test_report_in_headless_chromium_loads_every_image_and_sorts(studies, tmp_path: Path) -> None:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.by import By

    store, _ = studies
    index = write_report(store, ["normal", "one-trial"], tmp_path / "report")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1400,1800",
    ):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    browser = webdriver.Chrome(options=options, service=service)
    try:
        browser.get(index.as_uri())
        loaded = browser.execute_script(
            "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
        )
        assert len(loaded) == 10 and all(loaded)
        table = browser.find_elements(By.CSS_SELECTOR, "table.leaderboard")[0]
        lr_header = table.find_elements(By.TAG_NAME, "th")[3]

        def column() -> list[float]:
            cells = table.find_elements(By.CSS_SELECTOR, "tbody tr td:nth-child(4)")
            return [float(c.get_attribute("data-value")) for c in cells]

        lr_header.click()
        assert column() == sorted(column())
        lr_header.click()
        assert column() == sorted(column(), reverse=True)
        ARTIFACTS.mkdir(exist_ok=True)
        assert browser.save_screenshot(str(ARTIFACTS / "report.png"))
        browser.get((tmp_path / "report" / "trials" / "normal-0.html").as_uri())
        assert browser.execute_script("return document.images[0].naturalWidth") > 0
        browser.save_screenshot(str(ARTIFACTS / "report-trial.png"))
    finally:
        browser.quit()


def test_the_configuration_reads_as_a_user_wrote_it(tmp_path: Path) -> None:
    from lrbench.store import Store, TaskInfo

    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    store.create_study(
        name="configured",
        task=store.task(TaskInfo(name="toy")),
        objective="single-policy",
        metric="acc",
        mode="max",
        strategy="grid",
        config={
            "config": {
                "policies": ["fixed", "cosine"],
                "trials": 30,
                "seeds": 2,
                "baselines": [["step", 0.1], ["cosine", 2e-05]],
            }
        },
        trials=[],
    )
    html = write_report(store, ["configured"], tmp_path / "r", trial_pages=False).read_text()
    assert "<dt>policies</dt><dd>fixed, cosine</dd>" in html
    assert "<dt>baselines</dt><dd>0.1 step, 2e-05 cosine</dd>" in html
    assert "<dt>configurations (--trials)</dt><dd>30</dd>" in html


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>$\\frac{$[/bold]'


def test_names_and_values_from_a_shared_database_are_escaped_in_the_report(
    tmp_path: Path,
) -> None:
    """Everything a report shows came from a database others write to: none of it is HTML."""
    store = Store(f"sqlite:///{tmp_path / 'hostile.db'}")
    study = store.create_study(
        name=f"study {HOSTILE}",
        task=store.task(TaskInfo(name=f"task {HOSTILE}", model=HOSTILE, optimizer=HOSTILE)),
        objective="single-policy", metric=f"acc{HOSTILE}", mode="max", strategy="grid",
        config={
            "config": {"total_steps": 10, "policies": [HOSTILE], "baselines": [[HOSTILE, 0.1]]},
            "task_ref": HOSTILE,
        },
        trials=[{"policy": f"fixed(lr=0.1){HOSTILE}", "family": HOSTILE, "lr": 0.1, "seed": 0,
                 "total_steps": 10}],
    )  # fmt: skip
    trial = store.trials(study.id)[0]
    store.start_trial(trial.id)
    store.add_points(trial.id, 5, {f"acc{HOSTILE}": 0.5})
    store.finish_trial(
        trial.id, TrialStatus.failed, metrics={f"acc{HOSTILE}": 0.5}, cost_steps=5,
        cost_seconds=0.1, error=HOSTILE,
    )  # fmt: skip
    index = write_report(store, [study.name], tmp_path / "report")
    pages = [index, *(tmp_path / "report").rglob("*.html")]
    for page in pages:
        html = page.read_text()
        assert "<script>alert" not in html and "<img src=x" not in html, page.name
    assert "&lt;script&gt;alert(" in index.read_text()
