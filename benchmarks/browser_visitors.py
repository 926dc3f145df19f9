"""Many visitors on the web app's Live page at once: the Streamlit app served on 127.0.0.1, N headless Chromium pages
opened together on /live, each with Chromium's fake camera playing the bundled face clip (data/images/demo_faces.mp4
as a looping y4m file), each analysing its frames in the page (fer_utils.browser_live: LiteRT.js).

    python benchmarks/browser_visitors.py                         # N = 1, 2, 4, 8; 20 s measured per N
    python benchmarks/browser_visitors.py --visitors 1 2 --seconds 10

For each N it prints, per page, the frames/s and ms per frame the page itself measures and shows (sampled every
second over the window, median; in brackets: the detector's and the emotion model's shares), and the Streamlit
server process's CPU (% of one core, from /proc) and resident memory while the pages run, and its CPU-seconds
while they loaded (each page in its own browser context, so each downloads the assets like a first visit); writes
benchmarks/results/browser_visitors.json. The browsers run on the same machine as the server, so their CPU use
limits the frame rate, not the server: it also prints all Chromium processes' CPU (% of one core) and their
CPU-milliseconds per analysed frame. Needs Linux (/proc), Debian's `chromium` and `playwright`.
Exit status: 0 measured; 1 a page never reached 10 analysed frames; 2 bad arguments or no Chromium;
130 interrupted.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from fer_utils.data import PROJECT_ROOT
from fer_utils.timing import cpu_description

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import write_result  # noqa: E402

CLIP = PROJECT_ROOT / "data" / "images" / "demo_faces.mp4"
COMPONENT = "iframe[title*='fer_live_camera']"
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-background-timer-throttling",
                  "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
                  "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
TARGET = {"visitors": 4, "fps": 15.0, "server_cpu_percent": 10.0}


def write_y4m(video: Path, out: Path, fps: int = 30) -> Path:
    """The frames of `video` as raw YUV4MPEG2, which Chromium's fake camera plays in a loop."""
    import cv2

    cap, frames = cv2.VideoCapture(str(video)), []
    while (read := cap.read())[0]:
        frames.append(cv2.cvtColor(read[1], cv2.COLOR_BGR2YUV_I420).tobytes())
    width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    with open(out, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for data in frames:
            f.write(b"FRAME\n" + data)
    return out


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss_mb(pid: int) -> float:
    """Resident memory of one process now, in MB."""
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def start_app(port: int, log: Path) -> subprocess.Popen:
    """`streamlit run app/streamlit_app.py` on 127.0.0.1:`port`, once its health check answers."""
    command = [sys.executable, "-m", "streamlit", "run", "app/streamlit_app.py", "--server.headless=true",
               "--server.address=127.0.0.1", f"--server.port={port}", "--browser.gatherUsageStats=false"]
    server = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    end = time.monotonic() + 120
    while time.monotonic() < end and server.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
            return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError(f"the Streamlit server did not start: {log.read_text()[-1000:]}")


def chromium_cpu_seconds() -> dict[int, float]:
    """CPU seconds so far of every Chromium process on the machine (browser, renderers, GPU, utility), by PID."""
    seconds = {}
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "comm").read_text().strip().startswith(("chrom", "headless_shell")):
                seconds[int(proc.name)] = process_cpu_seconds(int(proc.name))
        except OSError:  # the process ended
            pass
    return seconds


def page_reading(page) -> dict:
    """What one page's live component measures and shows now."""
    return page.frame_locator(COMPONENT).locator("body").evaluate(
        "b => ({fps: Number(b.dataset.fps || 0), ms: Number(b.dataset.ms || 0), frames: Number(b.dataset.frames || 0),"
        " detect_ms: Number(b.dataset.detectMs || 0), classify_ms: Number(b.dataset.classifyMs || 0),"
        " now: performance.now(),"
        " message: document.getElementById('message').hidden ? '' : document.getElementById('message').textContent})")


def measure(browser, url: str, server_pid: int, visitors: int, seconds: float) -> dict:
    """Open `visitors` pages on the Live page, start each camera, wait for 10 analysed frames on each, then sample
    every page and the server for `seconds`."""
    pages, load_cpu0, load_t0 = [], process_cpu_seconds(server_pid), time.monotonic()
    for _ in range(visitors):  # one browser context each: its own cache, so each downloads the page like a newcomer
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(180_000)
        page.goto(f"{url}/live")
        pages.append(page)
    for page in pages:
        page.frame_locator(COMPONENT).get_by_role("button", name="Start camera").click()
    end = time.monotonic() + 180
    while True:
        readings = [page_reading(p) for p in pages]
        if min(r["frames"] for r in readings) >= 10:
            break
        problems = [r["message"] for r in readings if r["message"]]
        if problems or time.monotonic() > end:
            raise RuntimeError(problems[0] if problems else "a page did not reach 10 analysed frames in 180 s")
        time.sleep(0.5)
    load_cpu, load_s = process_cpu_seconds(server_pid) - load_cpu0, time.monotonic() - load_t0
    samples = [[] for _ in pages]
    cpu0, browsers0, t0 = process_cpu_seconds(server_pid), chromium_cpu_seconds(), time.monotonic()
    first = [page_reading(p) for p in pages]  # read inside the CPU window: CPU per frame errs on the high side
    while time.monotonic() - t0 < seconds:
        time.sleep(1)
        for k, page in enumerate(pages):
            samples[k].append(page_reading(page))
    last = [page_reading(p) for p in pages]
    cpu1, browsers1, t1 = process_cpu_seconds(server_pid), chromium_cpu_seconds(), time.monotonic()
    browser_cpu = sum(browsers1[pid] - browsers0[pid] for pid in browsers1.keys() & browsers0.keys())
    analysed = sum(b["frames"] - a["frames"] for a, b in zip(first, last))
    result = {"visitors": visitors, "seconds": round(t1 - t0, 1),
              "pages": [{"fps": round(statistics.median(s["fps"] for s in rows), 1),
                         "ms_per_frame": round(statistics.median(s["ms"] for s in rows), 1),
                         "of_which_detection_ms": round(statistics.median(s["detect_ms"] for s in rows), 1),
                         "of_which_emotion_ms": round(statistics.median(s["classify_ms"] for s in rows), 1),
                         "frames_counted_per_s": round(1000 * (b["frames"] - a["frames"]) / (b["now"] - a["now"]),
                                                       1)}
                        for rows, a, b in zip(samples, first, last)],
              "server_cpu_percent": round(100 * (cpu1 - cpu0) / (t1 - t0), 2),
              "server_cpu_seconds_while_pages_loaded": round(load_cpu, 2),
              "seconds_to_10_frames_on_all": round(load_s, 1),
              "server_rss_mb": round(process_rss_mb(server_pid), 1),
              "chromium_cpu_percent": round(100 * browser_cpu / (t1 - t0), 1),
              "chromium_cpu_ms_per_analysed_frame": round(1000 * browser_cpu / max(analysed, 1), 1),
              "load_average_1min": round(os.getloadavg()[0], 2)}
    for page in pages:
        page.context.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, nargs="+", default=[1, 2, 4, 8], help="numbers of pages at once")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per number of pages")
    parser.add_argument("--port", type=int, default=8765, help="the app's port on 127.0.0.1")
    args = parser.parse_args(argv)
    if any(n < 1 or n > 32 for n in args.visitors) or args.seconds <= 0:
        parser.error("--visitors takes numbers from 1 to 32 and --seconds a positive number")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        chromium = None
    if chromium is None:
        print("needs Debian's chromium (apt-get install chromium) and the playwright package", file=sys.stderr)
        return 2
    load_before = os.getloadavg()[0]
    busy = load_before > 1.0  # other work on the machine takes CPU from the browsers: the figures are under load
    print(f"CPU: {cpu_description()}; {os.cpu_count()} cores; load average before the start {load_before:.1f}"
          + (" (other work is using the CPUs: the figures are under load)" if busy else ""))
    with tempfile.TemporaryDirectory() as tmp:
        y4m = write_y4m(CLIP, Path(tmp) / "camera.y4m")
        server = start_app(args.port, Path(tmp) / "streamlit.log")
        runs = []
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, headless=True,
                                            args=CHROMIUM_FLAGS + [f"--use-file-for-fake-video-capture={y4m}"])
                for n in args.visitors:
                    try:
                        run = measure(browser, f"http://127.0.0.1:{args.port}", server.pid, n, args.seconds)
                    except RuntimeError as e:
                        print(f"{n} visitor(s): {e}", file=sys.stderr)
                        return 1
                    runs.append(run)
                    pages = ", ".join(f"{p['fps']:.1f} frames/s {p['ms_per_frame']:.0f} ms "
                                      f"({p['of_which_detection_ms']:.0f} + {p['of_which_emotion_ms']:.0f})"
                                      for p in run["pages"])
                    print(f"{n} visitor(s): {pages} | server {run['server_cpu_percent']:.1f}% CPU, "
                          f"{run['server_rss_mb']:.0f} MB RSS (page loads: "
                          f"{run['server_cpu_seconds_while_pages_loaded']:.1f} CPU-s) | Chromium "
                          f"{run['chromium_cpu_percent']:.0f}% CPU, {run['chromium_cpu_ms_per_analysed_frame']:.0f} "
                          f"CPU-ms per analysed frame | load average {run['load_average_1min']:.1f}", flush=True)
                browser.close()
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
    target = next((r for r in runs if r["visitors"] == TARGET["visitors"]), None)
    met = None if target is None else (min(p["fps"] for p in target["pages"]) >= TARGET["fps"]
                                       and target["server_cpu_percent"] < TARGET["server_cpu_percent"])
    if met is not None:
        print(f"target ({TARGET['visitors']} visitors each >= {TARGET['fps']:.0f} frames/s, server under "
              f"{TARGET['server_cpu_percent']:.0f}% CPU): {'met' if met else 'not met'}")
    path = write_result("browser_visitors", {
        "setting": f"app on 127.0.0.1, N headless Chromium pages on /live on the same machine, fake camera playing "
                   f"{CLIP.name} (320x240) at 30 frames/s; frames/s and ms per frame as each page measures them "
                   f"(median of 1-s samples); server CPU in % of one core",
        "load_average_before": round(load_before, 2), "under_load": busy, "target": TARGET, "target_met": met,
        "runs": runs})
    print(f"wrote {path.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
