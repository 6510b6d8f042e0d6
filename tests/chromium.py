"""Headless Chromium for the browser tests: Debian's ``chromium`` and ``chromium-driver`` driven by ``selenium``.

A test that asks for it is skipped where one of the three is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def chromium_driver(profile: Path, *flags: str):
    """A selenium driver of headless Chromium keeping its profile in ``profile``, with ``flags`` added to
    ``FLAGS``; the caller quits it."""
    if not CHROMIUM.is_file() or not CHROMEDRIVER.is_file():
        pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, *flags, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(str(CHROMEDRIVER)))
