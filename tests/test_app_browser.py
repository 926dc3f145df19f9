"""End to end: the Streamlit app served on localhost (`streamlit run app/streamlit_app.py`), driven by
headless Chromium. A photo upload comes back annotated; on the live page, Chromium's fake camera plays
the bundled face clip over WebRTC and annotated frames come back. Reports the server's cold start and
the live frame rate. Needs Debian's `chromium` and the `playwright` package; skipped, with the reason,
without them. With FER_SCREENSHOT_DIR set, saves screenshots of both pages there (docs/ for the README)."""
import os
import re
import sys
import time
from pathlib import Path

import pytest

from fer_utils.data import PROJECT_ROOT
from test_browser import (CHROMIUM, CHROMIUM_FLAGS, free_port, pytestmark, start_server,  # noqa: F401
                          stop_server, sync_playwright, write_y4m)

GRACE = PROJECT_ROOT / "data" / "images" / "grace_hopper.jpg"
FRAMES_TEXT = re.compile(r"Annotated frames: (\d+)")


def small_png(path: Path, max_width: int = 960, colors: int = 96) -> None:
    """Shrink a screenshot for the docs: at most `max_width` pixels wide, a palette of `colors`."""
    from PIL import Image

    with Image.open(path) as image:
        scale = min(1.0, max_width / image.width)
        small = image.convert("RGB").resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    small.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


@pytest.fixture
def streamlit_app(tmp_path):
    port, log = free_port(), tmp_path / "streamlit.log"
    url = f"http://127.0.0.1:{port}"
    start = time.monotonic()
    server = start_server(
        [sys.executable, "-m", "streamlit", "run", "app/streamlit_app.py", "--server.headless=true",
         "--server.address=127.0.0.1", f"--server.port={port}", "--browser.gatherUsageStats=false"],
        f"{url}/_stcore/health", log, "the Streamlit server", timeout=120,
        cwd=PROJECT_ROOT, env={**os.environ, "FER_WEBRTC_ICE": "local"})
    yield url, time.monotonic() - start, log
    if server.poll() is not None:
        pytest.fail(f"the server died ({server.returncode}): " + log.read_text()[-2000:])
    stop_server(server)


def annotated_frames(page) -> int:
    """The live page's count of frames annotated by the server (0 before the first; the largest shown,
    since a rerunning fragment can show its previous text for a moment)."""
    return max((int(n) for n in FRAMES_TEXT.findall(page.locator("[data-testid='stMain']").first.inner_text())),
               default=0)


def video_frames(video) -> int:
    """Frames the page's <video> (the annotated stream coming back from the server) has decoded so far."""
    return video.evaluate("v => v.getVideoPlaybackQuality().totalVideoFrames")


def test_app_in_chromium_photo_and_live_camera(streamlit_app, tmp_path, capsys):
    url, server_start_s, log = streamlit_app
    shots = Path(os.environ["FER_SCREENSHOT_DIR"]) if os.environ.get("FER_SCREENSHOT_DIR") else None
    y4m = write_y4m(PROJECT_ROOT / "data" / "images" / "demo_faces.mp4", tmp_path / "camera.y4m")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=CHROMIUM_FLAGS + [f"--use-file-for-fake-video-capture={y4m}"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(180_000)  # a loaded 2-core machine is slow

        # photos: upload, then the annotated image, one table row and the download button
        page.goto(url)
        page.get_by_text("Emotions in photos").wait_for()
        t = time.monotonic()
        page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(GRACE))
        page.get_by_text("1 face(s)").wait_for(timeout=180_000)
        first_result_s = time.monotonic() - t
        page.get_by_role("button", name="Download the annotated image").wait_for()
        assert page.locator("[data-testid='stImage'] img").count() >= 1
        assert page.locator("[data-testid='stAlertContentError']").count() == 0
        if shots:
            page.screenshot(path=str(shots / "app_photos.png"), full_page=False)
            small_png(shots / "app_photos.png")

        # live: START inside the component's iframe, then count the frames the server annotates
        page.goto(f"{url}/live")
        page.get_by_text("Live camera").first.wait_for()
        webrtc = page.frame_locator("iframe[title*='streamlit_webrtc']")
        webrtc.get_by_role("button", name="START").click()
        t, retries = time.monotonic(), 0
        while annotated_frames(page) < 10:
            if page.get_by_role("button", name="Try again").count() and retries < 2:  # a busy server: its message
                retries += 1
                page.get_by_role("button", name="Try again").click()
                webrtc.get_by_role("button", name="START").click()
            if page.get_by_text("No video reached the server").count():
                browser.close()
                pytest.skip("WebRTC could not connect Chromium and the server on localhost on this machine")
            if time.monotonic() - t > 180:
                page.screenshot(path=str(tmp_path / "live_timeout.png"))
                pytest.fail("timed out after 180 s waiting for 10 annotated frames; server log: "
                            + log.read_text()[-2000:])
            time.sleep(0.5)
        first_frames_s = time.monotonic() - t
        video = webrtc.locator("video").first
        first, first_annotated, t0 = video_frames(video), annotated_frames(page), time.monotonic()
        time.sleep(10)
        last, t1 = video_frames(video), time.monotonic()
        server_fps = (annotated_frames(page) - first_annotated) / (t1 - t0)  # the page's counter: +-1 s
        playing = video.evaluate("v => v.videoWidth > 0 && !v.paused && v.readyState >= 2")
        annotated = annotated_frames(page)
        status = page.get_by_text(FRAMES_TEXT).last.inner_text()
        if shots:
            time.sleep(1)
            page.screenshot(path=str(shots / "app_live.png"), full_page=False)
            small_png(shots / "app_live.png")
        webrtc.get_by_role("button", name="STOP").click()
        browser.close()
    fps = (last - first) / (t1 - t0)
    with capsys.disabled():
        print(f"\napp browser test: server up in {server_start_s:.1f} s; first photo result {first_result_s:.1f} s "
              f"after upload (model load included); live: 10 frames annotated {first_frames_s:.1f} s after START, "
              f"then over {t1 - t0:.0f} s: {server_fps:.1f} frames/s annotated by the server, {fps:.1f} frames/s "
              f"shown by the page's video (the server repeats its latest annotated frame); server: {status}; "
              f"START retried {retries} time(s) after the server's 10 s set-up limit; "
              f"load average {os.getloadavg()[0]:.1f}")
    assert playing, "the annotated video is not playing in the page"
    assert last > first, "annotated frames stopped coming back"
    assert annotated >= 10 and int(re.search(r"faces: (\d+)", status)[1]) > 0
    ours = [line for line in log.read_text().splitlines()  # exceptions through the app's own code (not a
            if str(PROJECT_ROOT / "app") in line or str(PROJECT_ROOT / "fer_utils") in line]  # closing websocket)
    assert not ours, "\n".join(ours)
