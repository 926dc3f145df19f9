"""Notebook 06 (the live webcam) for a class on JupyterHub, on this machine: N students, each logged in to the
hub in their own headless Chromium context with the fake camera playing the bundled clip, open their own copy of
notebook 06 in JupyterLab, run all its cells, and watch their live widget at the same time.

    python benchmarks/jupyterhub_live.py --students 1 3 5    # a class of 1, then 3, then 5; 10 s measured each

It starts JupyterHub as benchmarks/jupyterhub_class.py does (deploy/jupyterhub/jupyterhub_config.py: shared
password, local process spawner, loopback only); each student logs in through the hub's login form, as a browser
does, and runs the notebook from JupyterLab's Run menu. Per student it prints the annotated frames/s their widget
received over the measured window, the kernel's and the browser's milliseconds per frame as the widget reports
them, and their kernel's peak resident memory (VmHWM) and CPU-seconds; it writes
benchmarks/results/jupyterhub_live.json. The students' browsers, kernels, servers and the hub all share this
machine's cores, so the frame rates are a floor for students on their own laptops.
Needs jupyterhub, configurable-http-proxy, playwright (the [dev] extra) and Debian's chromium; Linux (/proc).
Exit status: 0 measured; 1 the class did not run (a login, JupyterLab, a kernel or a widget's first 30 frames
did not come in time: the line says which); 2 a tool is missing or bad arguments.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from browser_visitors import CHROMIUM_FLAGS, write_y4m  # noqa: E402
from jupyterhub_class import COURSE_DIR, missing_tools, peak_rss_mb, start_hub  # noqa: E402

NOTEBOOK = "06_live_webcam.ipynb"
CLIP = ROOT / "data" / "images" / "demo_faces.mp4"
STATS = ".fer-stats"
FRAMES_TIMEOUT_S = 300  # for the first 30 annotated frames; a working class takes seconds
PAGE_STATE_JS = """() => {
  const stats = document.querySelector('.fer-stats'), error = document.querySelector('.fer-error');
  const kernel = document.querySelector('.jp-Notebook-ExecutionIndicator');
  const stderr = [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')];
  return JSON.stringify({stats: stats ? {...stats.dataset} : null, widget_error: error ? error.innerText : null,
                         kernel: kernel ? kernel.dataset.status : null,
                         stderr: stderr.slice(-2).map(e => e.innerText.slice(0, 300))});
}"""


def wait_for(page, js: str, timeout_s: float, what: str) -> None:
    """Wait until `js` is true in `page`; a RuntimeError naming `what` when it is not within `timeout_s`."""
    try:
        page.wait_for_function(js, timeout=timeout_s * 1000, polling=500)
    except Exception as e:  # playwright's TimeoutError, or the page closed
        raise RuntimeError(f"{what}: not within {timeout_s:.0f} s ({type(e).__name__})") from None


def page_state(page) -> str:
    """What a student's notebook page shows (the widget's counters and error, the kernel's status, the last
    error outputs), for the message of a wait that timed out."""
    try:
        return page.evaluate(PAGE_STATE_JS)
    except Exception as e:  # noqa: BLE001 - the page closed or crashed: say so instead
        return f"(unreadable: {type(e).__name__})"


def open_notebook(browser, hub_url: str, name: str, password: str):
    """A new browser context for student `name`: logged in through the hub's form, their notebook 06 open in
    JupyterLab with its kernel idle."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{hub_url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_url("**/user/**", timeout=180_000)
    page.goto(f"{hub_url}/user/{name}/lab/tree/{COURSE_DIR}/{NOTEBOOK}")
    wait_for(page, "!!document.querySelector('.jp-Notebook')", 180, f"JupyterLab for {name}")
    wait_for(page, "!!document.querySelector('.jp-Notebook-ExecutionIndicator[data-status=\"idle\"]')", 180,
             f"the kernel of {name}")
    return page


def run_all_cells(page) -> None:
    """JupyterLab's Run > Run All Cells, as a student clicks it."""
    page.locator(".jp-Notebook").first.click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def received(page) -> int:
    return int(page.locator(STATS).first.get_attribute("data-received") or 0)


def kernel_figures(hub_pid: int) -> dict[str, dict]:
    """Each student's kernel (a process started by their server): peak resident MB and CPU-seconds so far."""
    import psutil

    figures = {}
    for p in psutil.Process(hub_pid).children(recursive=True):
        try:
            user, cmd = p.environ().get("JUPYTERHUB_USER"), " ".join(p.cmdline())
            if user and "ipykernel" in cmd:
                cpu = p.cpu_times()
                figures[user] = {"kernel_peak_rss_mb": round(peak_rss_mb(p.pid)),
                                 "kernel_cpu_s": round(cpu.user + cpu.system, 1)}
        except (psutil.Error, OSError, StopIteration):
            continue
    return figures


def run_class(n: int, root: Path, seconds: float) -> list[dict]:
    """Start a hub in `root`, have `n` students run notebook 06 with the fake camera, measure, stop the hub."""
    from playwright.sync_api import sync_playwright

    y4m = write_y4m(CLIP, root / "camera.y4m")
    hub = start_hub(root, quick=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                        args=CHROMIUM_FLAGS + [f"--use-file-for-fake-video-capture={y4m}"])
            names = [f"student{k + 1}" for k in range(n)]
            pages = {name: open_notebook(browser, hub.url, name, hub.password) for name in names}
            console: dict[str, list[str]] = {name: [] for name in names}  # the browser's console, per student
            for name, page in pages.items():
                page.on("console", lambda m, log=console[name]: log.append(f"{m.type}: {m.text[:200]}"))
                run_all_cells(page)
            for name, page in pages.items():
                try:
                    wait_for(page, f"Number(document.querySelector('{STATS}')?.dataset.received || 0) >= 30",
                             FRAMES_TIMEOUT_S, f"30 annotated frames for {name}")
                except RuntimeError as e:  # say what the page showed, so that a rare failure explains itself
                    raise RuntimeError(f"{e}; the page: {page_state(page)}; its last console lines: "
                                       f"{console[name][-6:]}") from None
            first, t0 = {name: received(page) for name, page in pages.items()}, time.monotonic()
            time.sleep(seconds)
            last, t1 = {name: received(page) for name, page in pages.items()}, time.monotonic()
            rows = []
            for name, page in pages.items():
                stats = page.locator(STATS).first
                rows.append({"name": name, "annotated_frames_per_s": round((last[name] - first[name]) / (t1 - t0), 1),
                             "kernel_ms_last_frame": float(stats.get_attribute("data-kernel-ms") or "nan"),
                             "browser_ms_last_frame": float(stats.get_attribute("data-browser-ms") or "nan"),
                             "faces_total": int(stats.get_attribute("data-faces") or 0),
                             "error": page.locator(".fer-error").first.inner_text()})
            kernels = kernel_figures(hub.process.pid)
            browser.close()
    finally:
        hub.stop()
    for row in rows:
        row.update(kernels.get(row["name"], {}))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, nargs="+", default=[1, 3, 5], help="class sizes to run (default 1 3 5)")
    ap.add_argument("--seconds", type=float, default=10.0, help="the measured window (default 10 s)")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    if min(args.students) < 1 or args.seconds <= 0:
        print("--students must be at least 1 and --seconds above 0", file=sys.stderr)
        return 2
    problem = missing_tools() or (None if shutil.which("chromium") else "Debian's chromium is not installed")
    if problem:
        print(f"cannot run the class here: {problem}", file=sys.stderr)
        return 2
    from results_file import write_result
    from fer_utils.timing import cpu_description

    runs = []
    for n in args.students:
        load_before = os.getloadavg()[0]
        with tempfile.TemporaryDirectory(prefix="fer-hub-live-") as tmp:
            try:
                rows = run_class(n, Path(tmp), args.seconds)
            except RuntimeError as e:
                print(f"the class of {n} did not run: {e}", file=sys.stderr)
                return 1
        print(f"notebook 06, quick mode, {n} student(s) at once, fake camera (the bundled clip, 320x240, 30 frames/s); "
              f"CPU: {cpu_description()}, {os.cpu_count()} cores; load average {load_before:.1f} before")
        print(f"{'student':<10}{'frames/s':>10}{'kernel ms':>11}{'browser ms':>12}{'kernel peak MB':>16}{'kernel CPU s':>14}")
        for r in rows:
            print(f"{r['name']:<10}{r['annotated_frames_per_s']:>10.1f}{r['kernel_ms_last_frame']:>11.1f}"
                  f"{r['browser_ms_last_frame']:>12.1f}{r.get('kernel_peak_rss_mb', float('nan')):>16.0f}"
                  f"{r.get('kernel_cpu_s', float('nan')):>14.1f}" + (f"  {r['error']}" if r["error"] else ""))
        runs.append({"students": n, "load_average_before": round(load_before, 1), "per_student": rows})
    if not args.no_write:
        print("wrote", write_result("jupyterhub_live", {"seconds": args.seconds, "runs": runs}).relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
