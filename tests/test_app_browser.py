"""End to end: the Streamlit app served on localhost (`streamlit run app/streamlit_app.py`), driven by
headless Chromium. A photo upload comes back annotated; on the live page, Chromium's fake camera plays the
bundled face clip into the browser-side component, which labels the faces in the page; a denied and a dropped
camera get their message; the layout is read (not compared pixel by pixel) at 1400 and 800 pixels wide.
Needs Debian's `chromium` and the `playwright` package; skipped, with the reason, without them. With
FER_SCREENSHOT_DIR set, saves screenshots of both pages there (docs/ for the README)."""
import os
import re
import sys
import time
from pathlib import Path

import pytest

from fer_utils.data import EMOTIONS, PROJECT_ROOT
from test_browser import (CHROMIUM, CHROMIUM_FLAGS, free_port, pytestmark, start_server,  # noqa: F401
                          stop_server, sync_playwright, write_y4m)

GRACE = PROJECT_ROOT / "data" / "images" / "grace_hopper.jpg"
GROUP = PROJECT_ROOT / "data" / "images" / "group_four.jpg"
COMPONENT = "iframe[title*='fer_live_camera']"
DENY_CAMERA = """navigator.mediaDevices.getUserMedia = () =>
    Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));"""


def small_png(path: Path, max_width: int = 960, colors: int = 96) -> None:
    """Shrink a screenshot for the docs: at most `max_width` pixels wide, a palette of `colors`."""
    from PIL import Image

    with Image.open(path) as image:
        scale = min(1.0, max_width / image.width)
        small = image.convert("RGB").resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    small.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


@pytest.fixture(scope="module")
def streamlit_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("app")
    port, log = free_port(), tmp / "streamlit.log"
    url = f"http://127.0.0.1:{port}"
    start = time.monotonic()
    server = start_server(
        [sys.executable, "-m", "streamlit", "run", "app/streamlit_app.py", "--server.headless=true",
         "--server.address=127.0.0.1", f"--server.port={port}", "--browser.gatherUsageStats=false"],
        f"{url}/_stcore/health", log, "the Streamlit server", timeout=120, cwd=PROJECT_ROOT)
    yield url, time.monotonic() - start, log
    if server.poll() is not None:
        pytest.fail(f"the server died ({server.returncode}): " + log.read_text()[-2000:])
    stop_server(server)
    ours = [line for line in log.read_text().splitlines()  # exceptions through the app's own code
            if str(PROJECT_ROOT / "app") in line or str(PROJECT_ROOT / "fer_utils") in line]
    assert not ours, "\n".join(ours)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    y4m = write_y4m(PROJECT_ROOT / "data" / "images" / "demo_faces.mp4", tmp_path_factory.mktemp("cam") / "camera.y4m")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=CHROMIUM_FLAGS + [f"--use-file-for-fake-video-capture={y4m}"])
        yield chromium
        chromium.close()


def open_page(browser, url: str, width: int = 1280, deny_camera: bool = False):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(180_000)  # a loaded 2-core machine is slow
    page.outside = []  # the app works offline: every request goes to the app's own server
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url.split("/live")[0])
               else (page.outside.append(route.request.url), route.abort()))
    if deny_camera:
        page.add_init_script(DENY_CAMERA)  # every frame, the component's too: as if the visitor pressed Block
    page.goto(url)
    return page


def component_state(frame) -> dict:
    """What the live component shows: its state, message, label, chart, statistics and whether the tips show."""
    return frame.locator("body").evaluate("""b => ({
        state: b.dataset.state || '', frames: Number(b.dataset.frames || 0),
        message: document.getElementById('message').hidden ? '' : document.getElementById('message').textContent,
        label: document.getElementById('label').textContent,
        fps: document.getElementById('fps').textContent, ms: document.getElementById('ms').textContent,
        tips: !document.getElementById('tips').hidden,
        bars: [...document.querySelectorAll('.bar-row')].map(r => [r.querySelector('.bar-name').textContent,
                                                                  r.querySelector('.bar-value').textContent])})""")


def wait_for(frame, condition, timeout: float, what: str) -> dict:
    end = time.monotonic() + timeout
    while not condition(state := component_state(frame)):
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; the component shows {state}")
        time.sleep(0.5)
    return state


def test_a_photo_comes_back_annotated(streamlit_app, browser, capsys):
    url, server_start_s, log = streamlit_app
    page = open_page(browser, url)
    page.get_by_text("Emotions in photos").wait_for()
    t = time.monotonic()
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(GRACE))
    page.get_by_text("1 face(s)").wait_for(timeout=180_000)
    first_result_s = time.monotonic() - t
    page.get_by_role("button", name="Download the annotated image").wait_for()
    assert page.locator("[data-testid='stImage'] img").count() >= 1
    assert page.locator("[data-testid='stAlertContentError']").count() == 0
    if os.environ.get("FER_SCREENSHOT_DIR"):
        shot = Path(os.environ["FER_SCREENSHOT_DIR"]) / "app_photos.png"
        page.screenshot(path=str(shot), full_page=False)
        small_png(shot)
    page.close()
    with capsys.disabled():
        print(f"\napp browser test: server up in {server_start_s:.1f} s; first photo result {first_result_s:.1f} s "
              f"after upload (model load included); load average {os.getloadavg()[0]:.1f}")


def test_the_live_camera_runs_in_the_page_and_says_when_the_camera_drops(streamlit_app, browser, capsys):
    url = streamlit_app[0]
    page = open_page(browser, f"{url}/live")
    page.get_by_text("Live camera").first.wait_for()
    live = page.frame_locator(COMPONENT)
    assert component_state(live)["tips"], "the tips show before the camera starts"
    live.get_by_role("button", name="Start camera").click()
    t = time.monotonic()
    wait_for(live, lambda s: s["frames"] >= 20 or s["message"], 180, "20 analysed frames")
    first_frames_s = time.monotonic() - t
    time.sleep(5)
    playing = component_state(live)
    if os.environ.get("FER_SCREENSHOT_DIR"):
        shot = Path(os.environ["FER_SCREENSHOT_DIR"]) / "app_live.png"
        page.screenshot(path=str(shot), full_page=False)
        small_png(shot)
    assert not playing["message"], playing["message"]
    assert playing["state"] == "playing" and not playing["tips"], "the tips hide while the camera plays"
    assert float(playing["fps"]) > 0 and float(playing["ms"]) > 0
    emotion, percent = re.fullmatch(r"(\w+) (\d+)%", playing["label"]).groups()
    bars = dict(playing["bars"])
    assert [name for name, _ in playing["bars"]] == list(EMOTIONS)  # the model's order
    assert bars[emotion] == f"{percent}%"  # the label is the chart's largest bar, the same number
    assert int(percent) >= max(int(v.rstrip("%")) for v in bars.values())
    assert not page.outside, page.outside  # LiteRT.js, its WebAssembly and the models all came from the app

    # the camera drops (its track stops delivering frames): a message saying what to do, statistics reset
    live.locator("body").evaluate("() => document.getElementById('video').srcObject.getVideoTracks()[0].stop()")
    dropped = wait_for(live, lambda s: s["message"], 30, "the dropped-camera message")
    assert "press Start camera again" in dropped["message"], dropped["message"]
    assert dropped["fps"] == dropped["ms"] == "-" and dropped["label"] == "-" and dropped["state"] == "stopped"
    assert dropped["tips"]
    page.close()
    with capsys.disabled():
        print(f"\nlive page in the browser: 20 frames analysed {first_frames_s:.1f} s after Start (model files "
              f"loaded in that time); then the page showed {playing['fps']} frames/s, {playing['ms']} ms per frame, "
              f"label {playing['label']}; load average {os.getloadavg()[0]:.1f}")


def test_a_denied_camera_says_what_to_do(streamlit_app, browser):
    page = open_page(browser, f"{streamlit_app[0]}/live", deny_camera=True)
    live = page.frame_locator(COMPONENT)
    live.get_by_role("button", name="Start camera").click()
    denied = wait_for(live, lambda s: s["message"], 180, "the denied-camera message")
    assert "denied" in denied["message"] and "Allow the camera" in denied["message"], denied["message"]
    assert denied["state"] != "playing" and denied["fps"] == "-" and denied["tips"]
    page.close()


@pytest.mark.parametrize("width", [1400, 800])
def test_the_layout_fits_at(width, streamlit_app, browser):
    page = open_page(browser, streamlit_app[0], width=width)
    page.get_by_text("Emotions in photos").wait_for()
    assert page.get_by_role("button", name="Deploy").count() == 0  # client.toolbarMode = "viewer"
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(GROUP))
    page.locator("[data-testid='stTable']").first.wait_for(timeout=180_000)
    time.sleep(1)
    table = page.locator("[data-testid='stTable']").first
    headers = table.locator("th").all_inner_texts()
    assert [h for h in headers if h in EMOTIONS] == list(EMOTIONS), headers  # the model's order, as the chart
    fits = table.evaluate("""t => { const main = document.querySelector("[data-testid='stMain']")
                                                     .getBoundingClientRect();
        const box = t.getBoundingClientRect(), inner = t.querySelector('table');
        return {right: box.right, mainRight: main.right, scroll: t.scrollWidth, client: t.clientWidth,
                tableRight: inner.getBoundingClientRect().right}; }""")
    assert fits["tableRight"] <= fits["mainRight"] + 1 and fits["scroll"] <= fits["client"] + 1, fits
    for column in page.locator("[data-testid='stColumn']").all():  # image and chart side by side, none cut
        assert column.bounding_box()["x"] + column.bounding_box()["width"] <= width + 1

    page.goto(f"{streamlit_app[0]}/live")
    live = page.frame_locator(COMPONENT)
    live.get_by_role("button", name="Start camera").wait_for()
    frame_box = page.locator(COMPONENT).bounding_box()
    assert frame_box["x"] + frame_box["width"] <= width + 1
    assert live.locator("body").evaluate("b => b.scrollWidth <= b.clientWidth + 1")
    page.close()
