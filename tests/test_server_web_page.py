"""The web page at / and the API docs at /docs in headless Chromium.

The page: key, two photos (one corrupt), a batch, progress, results and the zip link; then an analysis
with its measurements tables; privacy levels labelled beside the original, swap face numbers, options
greyed out without their model, no zip link when every item failed.

Needs Debian's ``chromium`` and ``chromium-driver`` (installed by .ci/run) and ``selenium``; skipped otherwise.
"""

from __future__ import annotations

import os
import shutil

import pytest

from chromium import chromium_driver
from server_app_helpers import png_bytes
from test_server_restart import Server



@pytest.fixture
def browser(tmp_path):
    driver = chromium_driver(tmp_path / "chromium-profile", "--disable-quic")
    yield driver
    driver.quit()


def test_web_page_runs_a_batch_and_shows_results(tmp_path, t1_path, t1_image, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(png_bytes()[:150])
    photo = tmp_path / "t1.jpg"
    shutil.copy(t1_path, photo)
    server = Server(tmp_path, {**os.environ, "PLAYALTER__PATHS__DATA_DIR": str(tmp_path / "data")})
    try:
        browser.get(server.url + "/")
        browser.find_element(By.ID, "api-key").send_keys(server.admin_key)
        Select(browser.find_element(By.ID, "operation")).select_by_value("detect")
        browser.find_element(By.ID, "images").send_keys(f"{photo}\n{corrupt}")
        browser.find_element(By.ID, "run").click()

        wait = WebDriverWait(browser, 180)
        wait.until(lambda driver: "completed" in driver.find_element(By.ID, "status").text
                   and driver.find_element(By.ID, "download").is_displayed())
        items = [element.text for element in browser.find_elements(By.CSS_SELECTOR, "#items li")]
        assert items[0] == "t1.jpg: completed"
        assert items[1].startswith("corrupt.png: failed")
        [picture] = browser.find_elements(By.CSS_SELECTOR, "img.result-image")
        assert browser.execute_script("return arguments[0].naturalWidth", picture) == t1_image.shape[1]
        assert "invalid_image" in browser.find_element(By.ID, "results").text
        assert browser.find_element(By.ID, "download").text == "download all (zip)"

        Select(browser.find_element(By.ID, "operation")).select_by_value("analyze")  # the measurements tables
        browser.find_element(By.ID, "images").clear()
        browser.find_element(By.ID, "images").send_keys(str(photo))
        browser.find_element(By.ID, "run").click()
        wait.until(lambda driver: "completed" in driver.find_element(By.ID, "status").text
                   and driver.find_elements(By.CSS_SELECTOR, "table.measurements"))
        tables = browser.find_elements(By.CSS_SELECTOR, "table.measurements")
        assert len(tables) == 6
        rows = tables[0].find_elements(By.CSS_SELECTOR, "tbody tr")
        assert len(rows) >= 3 and sum(row.text.endswith("yes") for row in rows) >= 3
        assert any(" mm" in row.text and "±" in row.text for row in rows)

        browser.get(server.url + "/docs")  # the API docs render from /openapi.json, offline
        wait.until(lambda driver: len(driver.find_elements(By.CSS_SELECTOR, "details.operation")) >= 12)
        summaries = [element.text for element in browser.find_elements(By.CSS_SELECTOR, "details.operation summary")]
        assert any("/api/batch/process" in summary for summary in summaries)
    finally:
        server.stop()


def test_web_page_labels_levels_numbers_faces_and_greys_out_what_is_missing(tmp_path, t1_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    photo = tmp_path / "t1.jpg"
    shutil.copy(t1_path, photo)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(png_bytes()[:150])
    environ = {**os.environ, "PLAYALTER__PATHS__DATA_DIR": str(tmp_path / "data"),
               "PLAYALTER_MODELS_DIR": str(tmp_path / "no-models"), "PLAYALTER__MODELS__AUTO_FETCH": "false"}
    server = Server(tmp_path, environ)
    try:
        browser.get(server.url + "/")
        wait = WebDriverWait(browser, 180)
        key = browser.find_element(By.ID, "api-key")
        key.send_keys(server.admin_key)
        browser.find_element(By.ID, "levels").click()  # leaves the key field: capabilities load
        synthetic = browser.find_element(By.CSS_SELECTOR, "#mask-type option[value=synthetic]")
        wait.until(lambda driver: not synthetic.is_enabled())
        assert "inswapper_128" in synthetic.get_attribute("title")
        assert "inswapper_128" in browser.find_element(By.ID, "note-mask-type-synthetic").text
        flame = browser.find_element(By.CSS_SELECTOR, "#measurement-model option[value=flame]")
        assert not flame.is_enabled() and "flame" in flame.get_attribute("title")

        browser.find_element(By.ID, "levels").clear()
        browser.find_element(By.ID, "levels").send_keys("2")
        browser.find_element(By.ID, "images").send_keys(str(photo))
        browser.find_element(By.ID, "run").click()
        wait.until(lambda driver: "completed" in driver.find_element(By.ID, "status").text
                   and driver.find_elements(By.CSS_SELECTOR, "#results figcaption"))
        captions = [element.text for element in browser.find_elements(By.CSS_SELECTOR, "#results figcaption")]
        assert captions[0] == "original: t1.jpg"
        assert captions[1].startswith("level 1 of 2: medium") and captions[2].startswith("level 2 of 2: complete")
        links = browser.find_elements(By.CSS_SELECTOR, "#results figcaption a[download]")
        assert [link.get_attribute("download") for link in links] == ["privacy_levels_00001_.png",
                                                                       "privacy_levels_00002_.png"]

        browser.find_element(By.ID, "images").clear()
        browser.find_element(By.ID, "levels").clear()
        browser.find_element(By.ID, "levels").send_keys("0")
        browser.find_element(By.ID, "images").send_keys(str(corrupt))
        browser.find_element(By.ID, "run").click()
        wait.until(lambda driver: "failed" in driver.find_element(By.ID, "status").text)
        assert not browser.find_element(By.ID, "download").is_displayed()

        Select(browser.find_element(By.ID, "operation")).select_by_value("swap")
        assert "inswapper_128" in browser.find_element(By.ID, "swap-note").text
        browser.find_element(By.ID, "source-image").send_keys(str(photo))
        wait.until(lambda driver: "6 face(s), numbered largest first" in
                   driver.find_element(By.ID, "source-preview").text)
        assert browser.find_elements(By.CSS_SELECTOR, "#source-preview canvas")
        browser.find_element(By.ID, "images").clear()
        browser.find_element(By.ID, "images").send_keys(str(photo))
        browser.find_element(By.ID, "run").click()
        wait.until(lambda driver: "done in" in driver.find_element(By.ID, "status").text)
        results = browser.find_element(By.ID, "results").text
        assert "warning: fell back to the model-free method" in results
        assert [link.get_attribute("download") for link in
                browser.find_elements(By.CSS_SELECTOR, "#results figcaption a[download]")] == ["face_swap_00001_.png"]
    finally:
        server.stop()
