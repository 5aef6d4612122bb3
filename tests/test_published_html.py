"""The published history renders its graphs in a browser with no network.

Publishes the committed asv results into a temporary folder, installs the
offline asv-tachyon UI, serves it on localhost and loads it in headless
Chromium: each benchmark tile must draw a sparkline (a canvas with pixels).
"""
import functools
import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER) and os.environ.get("CI"):
    raise RuntimeError("CI must have Debian's chromium and chromium-driver (.ci/setup installs them)")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs chromium and chromedriver (.ci/setup installs them)")

# a canvas counts as drawn when some pixel is not transparent
DRAWN_CANVASES = """
return [...document.querySelectorAll('canvas.spark')].filter(c => {
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) return true;
  return false;
}).length;
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    html = tmp_path_factory.mktemp("html")
    subprocess.run([sys.executable, "-m", "asv", "publish", "--html-dir", str(html)], cwd=ROOT, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "asv_tachyon", "install", str(html)], check=True, capture_output=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(SimpleHTTPRequestHandler, directory=str(html)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", html
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,2000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_publish_writes_the_graph_data(site):
    _, html = site
    assert (html / "index.html").exists() and (html / "index.legacy.html").exists()
    graphs = list((html / "graphs").rglob("bench_filter_size.FilterSize.time_conv*.json"))
    assert graphs, "asv publish wrote no graph for the filter-size suite"
    # every variant of the registry is a parameter of the published layer suite (the committed full sweep)
    from convbench.interface import registry

    index = json.loads((html / "index.json").read_text())
    published = {value.strip("'") for value in index["benchmarks"]["bench_layers.Layers.time_conv"]["params"][1]}
    assert set(registry.LABELS) <= published


def test_published_page_draws_benchmark_graphs_offline(site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, html = site
    browser.get(url + view_of(longest_history(), html))
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(DRAWN_CANVASES) >= 4)
    names = {tile.get_attribute("data-bench") for tile in browser.find_elements(By.CSS_SELECTOR, "[data-bench]")}
    assert "bench_compression.Compression.time_conv" in names
    assert "bench_filter_size.FilterSize.time_conv" in names
    assert "Can not determine continental origin of swallow" not in browser.page_source
    # every machine with committed results (the GPU's beside the CPU's) can be chosen on the same page
    for machine in committed_machines():
        assert machine in browser.page_source, f"machine {machine} is not offered by the published page"


def committed_machines():
    return sorted(path.parent.name for path in (ROOT / "results").glob("*/machine.json"))


def longest_history():
    """The machine with the most committed runs: the one whose sparklines have a line to draw
    (a machine measured at one commit, like a lent GPU, has single points)."""
    return max(committed_machines(), key=lambda name: len(list((ROOT / "results" / name).glob("*-*.json"))))


def view_of(machine, html):
    """The UI's address for one machine: it otherwise opens on the first value of every selector."""
    index = json.loads((html / "index.json").read_text())
    entry = next(params for params in index["graph_param_list"] if params["machine"] == machine)
    return "#" + urlencode({key if key in ("machine", "branch", "python") else f"f-{key}": value
                            for key, value in entry.items() if value is not None})


LOADED_IMAGES = "return [...document.images].filter(i => i.complete && i.naturalWidth > 0).length;"


def test_the_report_page_shows_every_chart_and_the_index_links_to_it(site, browser, charts_from_committed_results):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from convbench.report.page import CAPTIONS, LINK_ID, write_report

    url, html = site
    charts = sorted(charts_from_committed_results.figures.glob("*.png"))
    write_report(html, charts)
    browser.get(url + "report.html")
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(LOADED_IMAGES) == len(charts))
    sections = browser.find_elements(By.CSS_SELECTOR, "section")
    assert len(sections) == len(charts) >= 6
    for section in sections:  # each chart says what it shows
        assert CAPTIONS[section.get_attribute("id")][:40] in section.text
    browser.get(url + "index.html")
    link = WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, LINK_ID))
    assert link.get_attribute("href").endswith("report.html")
