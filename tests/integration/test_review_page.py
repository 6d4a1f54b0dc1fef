"""review.html as a correction station, in a real (headless) browser: type the right values,
accept with Enter, export LABELS.csv, and ``train --fields`` can read what was exported."""

from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import parish
from formreader.cli import app

webdriver = pytest.importorskip("selenium.webdriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs chromium and chromedriver (apt)")]


def _browser(downloads: Path):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def test_corrections_typed_in_review_html_export_as_labels(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    crops = [p for p, _, _ in parish.crops("dev")[::97]][:12]
    for p in crops:
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "p.yaml").write_text('inputs: ["*.Jpg"]\nlayout: {mode: field}\noutputs: {review: review.html}\n')
    result = CliRunner().invoke(app, ["run", str(tmp_path / "p.yaml")])
    assert result.exit_code == 0, result.output
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser = _browser(downloads)
    try:
        browser.get((tmp_path / "review.html").as_uri())
        boxes = browser.find_elements(By.CSS_SELECTOR, "input.fix")
        assert len(boxes) >= 2, "the sample must have fields to review"
        boxes[0].click()
        boxes[0].clear()
        boxes[0].send_keys("4711", Keys.ENTER)  # a correction
        read_second = boxes[1].get_attribute("value")
        assert browser.switch_to.active_element == boxes[1]  # Enter moved on
        boxes[1].send_keys(Keys.ENTER)  # accepted as read
        assert browser.find_element(By.ID, "accepted").text == "2"
        browser.find_element(By.ID, "export").click()
        target = downloads / "LABELS.csv"
        for _ in range(50):
            if target.exists():
                break
            time.sleep(0.1)
        rows = list(csv.DictReader(target.read_text().splitlines()))
    finally:
        browser.quit()
    assert [r["value"] for r in rows] == ["4711", read_second]
    assert all(Path(r["image"]).is_file() and r["page"] == "1" for r in rows)
    from formreader.training.finetune import read_labels

    usable, problems = read_labels(target)
    assert [u.value for u in usable] == ["4711", read_second] and not problems
