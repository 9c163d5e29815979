"""The dashboard in a real browser: `discolab ui` served on localhost, driven by headless Chromium
through chromedriver (Debian's `chromium` and `chromium-driver`, installed by .ci/run).

Screenshots go to test-output/browser/. Deselect with `-m 'not browser'`; in CI (CI set) a
missing browser is a failure, elsewhere a skip with the reason.
"""

import os
import shutil
import time

import pytest
from conftest import REPO, launch_dashboard

pytestmark = pytest.mark.browser
OUTPUT = REPO / "test-output" / "browser"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1100",
    # The network off, but for the dashboard itself: a page that needed a CDN would not render.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://0.0.0.0:9",
    "--proxy-bypass-list=127.0.0.1",
]
PAGES = ["discover", "distributions", "agent", "chared", "interp", "s2t2", "ddeq", "moe", "tree", "distill"]


def browser_tools() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser test, but chromium / chromedriver are missing")
        pytest.skip("needs Debian's chromium and chromium-driver (.ci/run installs them)")
    return chromium, driver


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    log = open(tmp_path_factory.mktemp("ui-log") / "streamlit.log", "w")
    home = tmp_path_factory.mktemp("ui-home")
    server, url = launch_dashboard(home, log)
    yield url
    server.terminate()
    server.wait(20)
    log.close()
    from discolab.ui import jobs

    old, os.environ["DISCOLAB_HOME"] = os.environ.get("DISCOLAB_HOME"), str(home)
    try:  # quick studies outlive the server by design; the tests stop theirs
        for name in jobs.STUDIES:
            jobs.cancel(name, grace=2.0)
    finally:
        if old is None:
            os.environ.pop("DISCOLAB_HOME")
        else:
            os.environ["DISCOLAB_HOME"] = old


def open_browser(tmp_path):
    chromium, driver = browser_tools()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return webdriver.Chrome(service=Service(driver), options=options)


def test_a_discovery_runs_in_the_browser_and_draws_graph_and_chart(dashboard, tmp_path):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser = open_browser(tmp_path)
    try:
        browser.get(dashboard)
        wait = WebDriverWait(browser, 120, ignored_exceptions=(StaleElementReferenceException,))  # re-renders

        def run_button(b):
            return next((e for e in b.find_elements(By.TAG_NAME, "button") if e.text.strip() == "Run"), None)

        button = wait.until(run_button)
        browser.save_screenshot(str(OUTPUT / "1-loaded.png"))
        button.click()
        wait.until(lambda b: "of 4 rounds" in b.find_element(By.TAG_NAME, "body").text)
        graph = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "[data-testid='stPlotlyChart'] .js-plotly-plot"))
        chart = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "[data-testid='stVegaLiteChart']"))
        browser.execute_script("arguments[0].scrollIntoView()", graph[0])
        time.sleep(1)  # let the charts finish drawing before the screenshot
        browser.save_screenshot(str(OUTPUT / "2-discovery.png"))
        assert graph[0].size["width"] > 300 and chart[0].size["height"] > 100
        assert "simulated expert" in browser.find_element(By.TAG_NAME, "body").text
        labels = [t.text for t in graph[0].find_elements(By.CSS_SELECTOR, ".scatterlayer text")]
        assert "asia" in labels and "dysp" in labels  # the nodes, drawn offline by plotly.js
        assert graph[0].find_elements(By.CSS_SELECTOR, ".annotation")  # the edges' arrows
        hover_text = hover_on_a_node(browser, graph[0])
        assert "Whether the patient" in hover_text, hover_text  # a node's description on hover

    finally:
        browser.quit()
    assert (OUTPUT / "2-discovery.png").stat().st_size > 20_000


def hover_on_a_node(browser, plot) -> str:
    """Move the mouse onto the first variable's marker; the hover label's text."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    points = plot.find_elements(By.CSS_SELECTOR, ".scatterlayer .trace")[1].find_elements(By.CSS_SELECTOR, ".point")
    for point in points[:3]:  # a marker under another element may not take the hover: try the next
        ActionChains(browser).move_to_element(point).pause(0.3).move_by_offset(1, 1).perform()
        try:
            return WebDriverWait(browser, 5).until(
                lambda b: next((h.text for h in plot.find_elements(By.CSS_SELECTOR, ".hoverlayer .hovertext")), None)
            )
        except Exception:
            continue
    return ""


def click_button(browser, wait, label: str) -> None:
    from selenium.webdriver.common.by import By

    button = wait.until(
        lambda b: next((e for e in b.find_elements(By.TAG_NAME, "button") if e.text.strip() == label), None)
    )
    browser.execute_script("arguments[0].scrollIntoView(); arguments[0].click();", button)


def test_a_quick_study_runs_from_its_page_and_its_results_appear(dashboard, tmp_path):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser = open_browser(tmp_path)
    try:
        browser.get(f"{dashboard}/distributions")
        # about 30 s on an idle 2-core machine; minutes when other work shares it
        wait = WebDriverWait(browser, 600, ignored_exceptions=(StaleElementReferenceException,))
        click_button(browser, wait, "Run the quick study (about 1 minute)")
        body = lambda b: b.find_element(By.TAG_NAME, "body").text  # noqa: E731
        wait.until(lambda b: "quick study running" in body(b) or "exact-match accuracy" in body(b))
        browser.save_screenshot(str(OUTPUT / "5-quick-study-running.png"))
        wait.until(lambda b: "exact-match accuracy" in body(b))  # the page reruns when it ends: its guide
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "[data-testid='stImage'] img"))  # and its plot
        picked = browser.find_element(By.CSS_SELECTOR, "[data-testid='stSelectbox'] input").get_attribute("value")
        assert picked == "count-task-quick (quick study: small budgets)"
        browser.save_screenshot(str(OUTPUT / "6-quick-study-results.png"))
    except Exception:
        browser.save_screenshot(str(OUTPUT / "5-quick-study-failed.png"))
        raise
    finally:
        browser.quit()


def test_a_tool_is_called_by_hand_on_the_agent_page(dashboard, tmp_path):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser = open_browser(tmp_path)
    try:
        browser.get(f"{dashboard}/agent")
        wait = WebDriverWait(browser, 120, ignored_exceptions=(StaleElementReferenceException,))
        wait.until(lambda b: "No model server is configured" in b.find_element(By.TAG_NAME, "body").text)
        click_button(browser, wait, "Call")  # the default tool, list_graphs, takes no arguments
        code = wait.until(
            lambda b: next(
                (c.text for c in b.find_elements(By.CSS_SELECTOR, "[data-testid='stCode']") if "alarm" in c.text), None
            )
        )
        assert '"name": "asia"' in code
        browser.save_screenshot(str(OUTPUT / "7-tool-by-hand.png"))
    finally:
        browser.quit()


@pytest.mark.parametrize("name", PAGES)
def test_every_page_loads_in_the_browser_without_an_exception(dashboard, tmp_path, name):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser = open_browser(tmp_path)
    try:
        browser.get(f"{dashboard}/{name}")
        wait = WebDriverWait(browser, 120, ignored_exceptions=(StaleElementReferenceException,))
        wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "h1"))
        time.sleep(1)
        wait.until(lambda b: "Stop" not in b.find_element(By.CSS_SELECTOR, "[data-testid='stHeader']").text)
        browser.save_screenshot(str(OUTPUT / f"page-{name}.png"))
        assert not browser.find_elements(By.CSS_SELECTOR, "[data-testid='stException']")
    finally:
        browser.quit()


def test_a_malformed_graph_file_is_named_in_the_page(dashboard, tmp_path):
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    bad = tmp_path / "broken.json"
    bad.write_text('{"name": "broken", "variables": [{"name": "a"}], "edges": [["a", "b"]]}')
    browser = open_browser(tmp_path)
    try:
        browser.get(dashboard)
        wait = WebDriverWait(browser, 120, ignored_exceptions=(StaleElementReferenceException,))  # re-renders
        radios = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "input[type='radio']"))
        browser.execute_script("arguments[0].click();", radios[1])  # "upload a graph file"
        text = None
        for _ in range(5):  # a file given while the page still reruns after the click can be dropped: give it again
            upload = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "input[type='file']"))
            try:
                upload[0].send_keys(str(bad))
            except StaleElementReferenceException:  # the rerun replaced the input between finding and typing
                continue
            try:
                text = WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
                    lambda b: next(
                        (a.text for a in b.find_elements(By.CSS_SELECTOR, "[data-testid='stAlert']") if a.text), None
                    )
                )
                break
            except TimeoutException:
                continue
        assert text, "no error was shown for the malformed upload"
        browser.save_screenshot(str(OUTPUT / "3-bad-upload.png"))
        assert "broken.json" in text
        assert "Discover" in browser.find_element(By.TAG_NAME, "body").text  # the app is still up
    except Exception:
        browser.save_screenshot(str(OUTPUT / "3-bad-upload-failed.png"))
        raise
    finally:
        browser.quit()


def test_a_users_own_problem_runs_and_exports_in_the_browser(dashboard, tmp_path):
    """The issue's whole path, as a user clicks it: her graph file (with knowledge, naming a data
    file), her observational table and her interventional table uploaded; a PC prior; the run
    shown with its data; the DOT, GML and DAGitty files downloaded."""
    from discolab.experiments.own_problem import write_problem
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    graph = write_problem(tmp_path / "mine", seed=0, rows=600)
    downloads = tmp_path / "downloads"
    browser = open_browser(tmp_path)
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    wait = WebDriverWait(browser, 120, ignored_exceptions=(StaleElementReferenceException,))  # re-renders

    def body() -> str:
        return browser.find_element(By.TAG_NAME, "body").text

    def upload(label: str, path) -> None:
        """Give ``path`` to the file input under ``label`` until the page shows it (a file given
        while the page reruns can be dropped)."""
        for _ in range(5):
            field = wait.until(
                lambda b: next(
                    (e for e in b.find_elements(By.CSS_SELECTOR, "[data-testid='stFileUploader']") if label in e.text),
                    None,
                )
            )
            try:
                field.find_element(By.CSS_SELECTOR, "input[type='file']").send_keys(str(path))
                WebDriverWait(browser, 20).until(lambda b: path.name in body())
                return
            except Exception:
                continue
        raise AssertionError(f"the page never showed the uploaded {path.name}")

    def choose(label: str, option: str) -> None:
        """Pick ``option`` in the select box ``label``, again if a rerun closed its list meanwhile."""
        field = f"[data-testid='stSelectbox'] input[aria-label='{label}']"
        options = (By.CSS_SELECTOR, "[role='option']")
        for _ in range(3):
            box = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, field).find_element(By.XPATH, "../.."))
            try:
                box.find_element(By.CSS_SELECTOR, "button[aria-haspopup='listbox']").click()
                quick = WebDriverWait(browser, 15, ignored_exceptions=(StaleElementReferenceException,))
                quick.until(lambda b: next((e for e in b.find_elements(*options) if e.text == option), None)).click()
                quick.until(lambda b: b.find_element(By.CSS_SELECTOR, field).get_attribute("value") == option)
                return
            except (TimeoutException, StaleElementReferenceException):
                continue
        raise AssertionError(f"could not choose {option!r} for {label!r}")

    try:
        browser.get(dashboard)
        radios = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "input[type='radio']"))
        browser.execute_script("arguments[0].click();", radios[1])  # "upload a graph file"
        upload("Graph file", graph)
        wait.until(lambda b: "the graph file names observational.csv" in body())
        choose("Prior", "pc")
        choose("Update", "structural")
        choose("Experimenter", "your interventional data")
        wait.until(lambda b: "Upload the interventional data table and the graph file's data" in body())
        upload("Interventional data", graph.parent / "interventions.csv")
        upload("Observational data", graph.parent / "observational.csv")
        run = wait.until(
            lambda b: next((e for e in b.find_elements(By.TAG_NAME, "button") if e.text.strip() == "Run"), None)
        )
        wait.until(lambda b: run.is_enabled())
        run.click()
        wait.until(lambda b: "Data: 600 rows" in body())  # this run's page (an earlier test's run shows first)
        text = body()
        assert "of 4 rounds" in text and "PC test fisherz" in text and "answered as direct edges" in text, text
        for fmt in ("dot", "gml", "dagitty"):  # each file is made on click; a rerun meanwhile voids it
            for _ in range(3):
                wait.until(lambda b: not b.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget']"))
                button = wait.until(
                    lambda b, fmt=fmt: next(
                        (e for e in b.find_elements(By.CSS_SELECTOR, "[data-testid='stDownloadButton'] button")
                         if e.text.strip() == fmt),
                        None,
                    )
                )  # fmt: skip
                browser.execute_script("arguments[0].scrollIntoView(); arguments[0].click();", button)
                try:
                    WebDriverWait(browser, 15).until(
                        lambda b, fmt=fmt: (
                            list(downloads.glob(f"*-round-4.{fmt}")) and not list(downloads.glob("*.crdownload"))
                        )
                    )
                    break
                except TimeoutException:
                    continue
        browser.save_screenshot(str(OUTPUT / "4-own-problem.png"))
    except Exception:
        browser.save_screenshot(str(OUTPUT / "4-own-problem-failed.png"))
        raise
    finally:
        browser.quit()
    files = {path.suffix: path.read_text() for path in downloads.iterdir()}
    assert "smoking -> tar" in files[".dot"].replace('"', "") and "digraph" in files[".dot"]
    assert "directed 1" in files[".gml"] and files[".dagitty"].startswith("dag {")
