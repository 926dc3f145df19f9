"""Ctrl-C (SIGINT) and SIGTERM during `predict`, `train` and `live` (issue 19): one line on stderr, no
traceback, exit status 130 or 143, no temporary file left, and a training run that resumes. Each command
runs in a subprocess that gets the signal at a chosen moment (a temporary file appears, an epoch ends)."""
import os
import signal
import subprocess
import sys
import threading
import time

import cv2
import pytest

from fer_utils.data import PROJECT_ROOT, SAMPLE_PATH

DEMO_VIDEO = PROJECT_ROOT / "data" / "images" / "demo_faces.mp4"
STOPS = [(signal.SIGINT, 130, "interrupted (Ctrl-C): "), (signal.SIGTERM, 143, "terminated (SIGTERM): ")]


class Command:
    """`python -m fer_utils ARGS` in a subprocess with Ctrl-C's default handling, its stderr collected live."""

    def __init__(self, *args, env=None):
        self.proc = subprocess.Popen([sys.executable, "-m", "fer_utils", *map(str, args)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})},
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.err_lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.err_lines.extend(self.proc.stderr), daemon=True)
        self.reader.start()

    def wait_for(self, condition, what, timeout=240):
        deadline = time.time() + timeout
        while not condition():
            assert self.proc.poll() is None, f"ended before {what}: {''.join(self.err_lines)}"
            assert time.time() < deadline, f"no {what} after {timeout} s"
            time.sleep(0.02)

    def stop(self, signum):
        self.proc.send_signal(signum)
        out = self.proc.stdout.read()
        self.proc.wait(timeout=120)
        self.reader.join(timeout=10)
        return self.proc.returncode, out, "".join(self.err_lines)


def temp_files(folder):
    return [p for p in folder.rglob("*") if ".tmp" in p.name]


def check_one_line(rc, err, status, start):
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == status and "Traceback" not in err, err
    assert lines and lines[-1].startswith(start) and sum(line.startswith(start) for line in lines) == 1, err


@pytest.mark.parametrize("signum,status,start", STOPS)
def test_predict_stops_cleanly_mid_video(tmp_path, signum, status, start, hostile):
    clip = hostile.long_video(tmp_path / "long.mp4", repeats=8)
    cmd = Command("predict", clip, "--out", tmp_path / "out.mp4")
    cmd.wait_for(lambda: temp_files(tmp_path), "temporary video")
    rc, _, err = cmd.stop(signum)
    check_one_line(rc, err, status, start)
    assert "no half-written output was left" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4"]  # no output, no temporary file


@pytest.mark.parametrize("signum,status,start", STOPS)
def test_train_stops_cleanly_and_resumes(tmp_path, signum, status, start):
    run_dir = tmp_path / "run"
    args = ["train", "--data", SAMPLE_PATH, "--out", tmp_path / "m.keras", "--epochs", "6", "--arch", "baseline",
            "--batch-size", "64", "--run-dir", run_dir]
    cmd = Command(*args)
    cmd.wait_for(lambda: (run_dir / "backup" / "training_metadata.json").exists(), "first finished epoch")
    rc, _, err = cmd.stop(signum)
    check_one_line(rc, err, status, start)
    assert "rerun the same command to resume" in err
    assert not temp_files(run_dir) and not (run_dir / ".lock").exists()
    import json

    from fer_utils.training import read_history

    finished = json.loads((run_dir / "backup" / "training_metadata.json").read_text())["epoch"]
    assert 1 <= finished < 6 and read_history(run_dir / "history.csv")["epoch"] == list(range(finished))
    if signum == signal.SIGTERM:  # the rerun (here in Python: no second TensorFlow start-up) resumes
        from fer_utils import cli

        assert cli.main([str(a) for a in args]) == 0
        assert read_history(run_dir / "history.csv")["epoch"] == list(range(6))
        card = json.loads((tmp_path / "m.json").read_text())  # the card says the run was resumed
        assert (card["epochs_run"], card["epochs_run_before_this_process"]) == (6, finished)


NO_DISPLAY = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}


@pytest.mark.parametrize("signum,status,start", STOPS)
def test_live_stops_cleanly_during_start_up(tmp_path, signum, status, start, hostile):
    clip = hostile.long_video(tmp_path / "long.mp4", repeats=8)
    cmd = Command("live", "--video", clip, "--out", tmp_path / "live.mp4", env=NO_DISPLAY)
    fds = f"/proc/{cmd.proc.pid}/fd"
    if not os.path.isdir(fds):
        cmd.stop(signal.SIGKILL)
        pytest.skip("needs /proc to see when the video is opened")

    def video_opened():  # the demo has checked its arguments and opened the video; the model loads next
        try:
            return any(os.readlink(f"{fds}/{fd}") == str(clip) for fd in os.listdir(fds))
        except OSError:
            return False
    cmd.wait_for(video_opened, "the video opened")
    rc, _, err = cmd.stop(signum)
    check_one_line(rc, err, status, start)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4"]


def test_live_sigterm_while_recording_leaves_no_file_and_ctrl_c_keeps_the_recording(tmp_path, hostile):
    clip = hostile.long_video(tmp_path / "long.mp4", repeats=8)
    cmd = Command("live", "--video", clip, "--out", tmp_path / "live.mp4", env=NO_DISPLAY)
    cmd.wait_for(lambda: temp_files(tmp_path), "temporary video")
    rc, _, err = cmd.stop(signal.SIGTERM)
    check_one_line(rc, err, 143, "terminated (SIGTERM): ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4"]

    cmd = Command("live", "--video", clip, "--out", tmp_path / "live.mp4", env=NO_DISPLAY)  # Ctrl-C: like q
    cmd.wait_for(lambda: temp_files(tmp_path), "temporary video")
    time.sleep(0.5)
    rc, out, err = cmd.stop(signal.SIGINT)
    assert rc == 0 and "Traceback" not in err and f"wrote {tmp_path / 'live.mp4'}" in out, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.mp4", "long.mp4"]
    assert cv2.VideoCapture(str(tmp_path / "live.mp4")).read()[0]
