"""Hostile and broken inputs, each in its own subprocess: image bombs in every format OpenCV decodes, a
.keras zip bomb, a malformed model card, --out naming an input, a second training into a live run folder,
videos by content, huge and truncated videos, a damaged .gz, a bad setting, and Ctrl-C / SIGTERM mid-call.
Every file is made here, in a temporary folder (the large ones are sparse or compress to almost nothing).

    python benchmarks/hostile_inputs.py [--only NAME ...]

Prints one row per case: exit status, the first line of its message, peak resident memory of the process
(os.wait4) and seconds; writes benchmarks/results/hostile_inputs.json. Exit status 1 if a case ended with
a traceback, an unexpected exit status or more than 1 GB of peak memory.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fer_utils.data import PROJECT_ROOT, SAMPLE_PATH
from fer_utils.files import FolderLock

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import write_result  # noqa: E402

IMAGES = PROJECT_ROOT / "data" / "images"
HOPPER = IMAGES / "grace_hopper.jpg"
DEMO_VIDEO = IMAGES / "demo_faces.mp4"
MODELS = PROJECT_ROOT / "models"
RSS_LIMIT = 1 << 30


@dataclass
class Case:
    name: str
    what: str
    expect: tuple[int, ...]  # the exit statuses that mean "refused or handled as designed"
    make: Callable[[Path], list[str]]  # builds the files in a folder, returns the command's arguments
    env: dict[str, str] = field(default_factory=dict)
    signal_when: Callable[[Path], bool] | None = None  # send `signum` once this is true
    signum: int = signal.SIGINT


def encode(ext: str, side: int, params=()) -> bytes:
    ok, data = cv2.imencode(ext, np.zeros((side, side, 3), np.uint8), list(params))
    assert ok, ext
    return data.tobytes()


def png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 100_000, 9)) + chunk(b"IEND", b""))


def jpeg_declaring(width: int, height: int) -> bytes:
    data = bytearray(HOPPER.read_bytes())
    i = 2
    while data[i + 1] not in (0xC0, 0xC1, 0xC2):
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    data[i + 5:i + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def jp2_declaring(width: int, height: int) -> bytes:
    data = bytearray(encode(".jp2", 64))
    i = data.index(b"ihdr")
    data[i + 4:i + 12] = struct.pack(">II", height, width)
    j = data.index(b"\xff\x51")
    data[j + 6:j + 14] = struct.pack(">II", width, height)
    data[j + 22:j + 30] = struct.pack(">II", width, height)
    return bytes(data)


def gif_declaring(width: int, height: int) -> bytes:
    data = bytearray(encode(".gif", 64))
    data[6:10] = struct.pack("<HH", width, height)
    k = data.index(b"\x2c", 13)
    data[k + 5:k + 9] = struct.pack("<HH", width, height)
    return bytes(data)


def hidden_sof_jpeg(side: int) -> bytes:
    data = cv2.imencode(".jpg", np.zeros((side, side), np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 10])[1].tobytes()
    sof = data.index(b"\xff\xc0")
    return data[:sof] + b"\x00" + data[sof:]


def file_case(name: str, data: Callable[[], bytes], *extra: str) -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        (folder / name).write_bytes(data())
        return ["predict", str(folder / name), *extra]
    return make


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)
    return path


def demo_frames() -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(DEMO_VIDEO))
    frames = []
    while (frame := cap.read()[1]) is not None:
        frames.append(frame)
    return frames


def long_video(path: Path, repeats: int = 10) -> Path:
    frames = demo_frames()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12, frames[0].shape[1::-1])
    for _ in range(repeats):
        for frame in frames:
            writer.write(frame)
    writer.release()
    return path


def make_zip_bomb(folder: Path) -> list[str]:
    bomb = folder / "bomb.keras"
    zero_mb = bytes(1 << 20)
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z, z.open("model.weights.h5", "w", force_zip64=True) as f:
        for _ in range(2048):  # 2 GiB of zeros: about 2 MB on disk
            f.write(zero_mb)
    return ["predict", str(HOPPER), "--model", str(bomb)]


def make_bad_card(folder: Path) -> list[str]:
    for suffix in (".keras", ".tflite"):
        shutil.copy(MODELS / f"fer_vgg_bn{suffix}", folder / f"m{suffix}")
    (folder / "m.json").write_text('{"fast_model": null}')
    return ["predict", str(HOPPER), "--model", str(folder / "m.keras")]


def make_out_is_input(name: str, source: Path, command: str = "predict") -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        shutil.copy(source, folder / name)
        args = [str(folder / name), "--out", str(folder / name)]
        return ["live", "--video", *args] if command == "live" else ["predict", *args]
    return make


def make_second_train(folder: Path) -> list[str]:
    (folder / "run").mkdir()
    return ["train", "--data", str(SAMPLE_PATH), "--out", str(folder / "m.keras"), "--epochs", "1", "--run-dir",
            str(folder / "run")]


def make_huge_frames(folder: Path) -> list[str]:
    writer = cv2.VideoWriter(str(folder / "huge.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 5, (8000, 8000))
    frame = np.zeros((8000, 8000, 3), np.uint8)
    for _ in range(2):
        writer.write(frame)
    writer.release()
    return ["predict", str(folder / "huge.avi"), "--out", str(folder / "huge_annotated.mp4")]


def make_truncated_video(folder: Path) -> list[str]:
    from fer_utils.video import VideoWriter

    with VideoWriter(folder / "whole.mp4", 12, (320, 240)) as writer:
        for frame in demo_frames():
            writer.write(frame)
    data = (folder / "whole.mp4").read_bytes()
    (folder / "cut.mp4").write_bytes(data[:len(data) // 2])
    return ["predict", str(folder / "cut.mp4")]


def make_damaged_gz(folder: Path) -> list[str]:
    data = bytearray(SAMPLE_PATH.read_bytes())
    data[len(data) // 2] ^= 0x55
    (folder / "fer2013.csv.gz").write_bytes(bytes(data))
    return ["data", "summary", "--data", str(folder / "fer2013.csv.gz")]


def make_train_to_stop(folder: Path) -> list[str]:
    return ["train", "--data", str(SAMPLE_PATH), "--out", str(folder / "m.keras"), "--epochs", "20", "--arch",
            "baseline", "--batch-size", "32", "--run-dir", str(folder / "run")]


def has_temp_file(folder: Path) -> bool:
    return any(".tmp" in p.name for p in folder.rglob("*"))


CASES = [
    Case("png_header_bomb", "PNG declaring 50000x50000 (7.5 GB as BGR)", (1,),
         file_case("bomb.png", lambda: png_declaring(50_000, 50_000))),
    Case("jpeg_header_bomb", "JPEG declaring 60000x60000", (1,), file_case("bomb.jpg", lambda: jpeg_declaring(60_000, 60_000))),
    Case("jpeg_hidden_sof", "real 9000x9000 JPEG, a junk byte before its frame header", (1,),
         file_case("junk.jpg", lambda: hidden_sof_jpeg(9000))),
    Case("tiff_bomb", "real 9000x9000 TIFF", (1,), file_case("bomb.tif", lambda: encode(".tif", 9000))),
    Case("jp2_bomb", "real 8000x8000 JPEG 2000", (1,), file_case("bomb.jp2", lambda: encode(".jp2", 8000))),
    Case("jp2_header_bomb", "JPEG 2000 declaring 60000x60000", (1,), file_case("decl.jp2", lambda: jp2_declaring(60_000, 60_000))),
    Case("gif_bomb", "real 8000x8000 GIF", (1,), file_case("bomb.gif", lambda: encode(".gif", 8000))),
    Case("gif_header_bomb", "GIF declaring 60000x60000", (1,), file_case("decl.gif", lambda: gif_declaring(60_000, 60_000))),
    Case("avif_bomb", "real 8000x8000 AVIF", (1,),
         file_case("bomb.avif", lambda: encode(".avif", 8000, (cv2.IMWRITE_AVIF_SPEED, 10)))),
    Case("truncated_jpeg", "the first third of a JPEG", (1,), file_case("cut.jpg", lambda: HOPPER.read_bytes()[:20_000])),
    Case("image_3gb", "3 GB file with a PNG signature (sparse)", (1,),
         lambda d: ["predict", str(sparse(d / "huge.png", 3 << 30, b"\x89PNG\r\n\x1a\n"))]),
    Case("unknown_ext_3gb", "3 GB .mts of zeros (sparse): sniffed, not read whole", (1,),
         lambda d: ["predict", str(sparse(d / "clip.mts", 3 << 30))]),
    Case("video_as_mts", "a real video named .mts: recognised by content", (0,),
         lambda d: ["predict", str(shutil.copy(DEMO_VIDEO, d / "clip.mts"))]),
    Case("huge_video_frames", "real 8000x8000 MJPEG video, --out", (1,), make_huge_frames),
    Case("truncated_video", "first half of a faststart H.264 MP4", (1,), make_truncated_video),
    Case("keras_zip_bomb", ".keras zip unpacking to 2 GiB", (2,), make_zip_bomb),
    Case("malformed_card", 'model card {"fast_model": null}', (0,), make_bad_card),
    Case("out_is_image_input", "predict face.jpg --out face.jpg", (2,), make_out_is_input("face.jpg", HOPPER)),
    Case("out_is_video_input", "predict clip.mp4 --out clip.mp4", (2,), make_out_is_input("clip.mp4", DEMO_VIDEO)),
    Case("live_out_is_input", "live --video clip.mp4 --out clip.mp4", (2,), make_out_is_input("clip.mp4", DEMO_VIDEO, "live")),
    Case("second_train", "train into a run folder locked by a live process", (2,), make_second_train),
    Case("damaged_gz", "FER-2013 .csv.gz with one flipped byte", (2,), make_damaged_gz),
    Case("bad_pixel_setting", "FER_MAX_IMAGE_PIXELS=lots", (2,), lambda d: ["predict", str(HOPPER)],
         env={"FER_MAX_IMAGE_PIXELS": "lots"}),
    Case("ctrl_c_predict", "SIGINT while writing an annotated video", (130,),
         lambda d: ["predict", str(long_video(d / "long.mp4")), "--out", str(d / "out.mp4")],
         signal_when=has_temp_file),
    Case("sigterm_predict", "SIGTERM while writing an annotated video", (143,),
         lambda d: ["predict", str(long_video(d / "long.mp4")), "--out", str(d / "out.mp4")],
         signal_when=has_temp_file, signum=signal.SIGTERM),
    Case("sigterm_live", "SIGTERM while live records (no display)", (143,),
         lambda d: ["live", "--video", str(long_video(d / "long.mp4")), "--out", str(d / "live.mp4")],
         env={"DISPLAY": "", "WAYLAND_DISPLAY": ""}, signal_when=has_temp_file, signum=signal.SIGTERM),
    Case("sigterm_train", "SIGTERM after the first epoch", (143,), make_train_to_stop,
         signal_when=lambda d: (d / "run" / "backup" / "training_metadata.json").exists(), signum=signal.SIGTERM),
]


# A small launcher between this process and the command: on Linux a forked child's peak RSS (ru_maxrss) starts
# at its parent's resident size, so the command is forked from this ~10 MB launcher, not from the caller (which
# may hold large arrays, or TensorFlow). It passes SIGINT and SIGTERM on and reports the command's peak RSS.
LAUNCHER = """
import os, signal, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "fer_utils", *sys.argv[2:]])
for signum in (signal.SIGINT, signal.SIGTERM):
    signal.signal(signum, lambda s, f: os.kill(pid, s))
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss * 1024))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def run_fer_utils(args: list[str], env: dict[str, str] | None = None,
                  signal_when: Callable[[], bool] | None = None, signum: int = signal.SIGINT) -> tuple[int, str, str, int]:
    """Run `python -m fer_utils ARGS` (sending `signum` once `signal_when()` is true, if given) and return its
    exit status (a signal N as 128 + N, as a shell shows it), stdout, stderr and peak RSS in bytes."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.NamedTemporaryFile("r") as rss:
        proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, rss.name, *map(str, args)], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, env={**os.environ, **(env or {})})
        if signal_when:
            while not signal_when() and proc.poll() is None:
                time.sleep(0.02)
            if proc.poll() is None:
                proc.send_signal(signum)
        proc.wait()
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read(), int(rss.read() or 0)


def run_case(case: Case, folder: Path) -> dict:
    """Build the case's files, run its command in a subprocess (signalled where the case says), and measure."""
    args = case.make(folder)
    inputs_before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()
                     if p.is_file() and p.stat().st_size < 100e6}
    lock = FolderLock(folder / "run", "training run") if case.name == "second_train" else None
    if lock:
        lock.__enter__()  # this process holds the run folder while the second training starts
    start = time.perf_counter()
    try:
        status, stdout, stderr, peak = run_fer_utils(
            args, {"TF_CPP_MIN_LOG_LEVEL": "2", **case.env}, case.signal_when and (lambda: case.signal_when(folder)),
            case.signum)
    finally:
        if lock:
            lock.__exit__()
    seconds = time.perf_counter() - start
    lines = [line for line in stderr.splitlines() if line.strip()] or [line for line in stdout.splitlines() if line.strip()]
    message = next((line for start in ("error:", "interrupted", "terminated", "warning:") for line in lines
                    if line.startswith(start)), lines[0] if lines else "")  # the line that says why it stopped
    changed = [p.name for p, digest in inputs_before.items() if not p.exists() or
               hashlib.sha256(p.read_bytes()).hexdigest() != digest]
    temp_left = [p.name for p in folder.rglob("*") if ".tmp" in p.name]
    ok = (status in case.expect and "Traceback" not in stderr and peak <= RSS_LIMIT and not changed
          and not temp_left)
    return {"case": case.name, "what": case.what, "exit_status": status, "expected": list(case.expect),
            "message": message.replace(str(folder), "DIR")[:300], "peak_rss_mb": round(peak / 1e6), "seconds": round(seconds, 1),
            "traceback": "Traceback" in stderr, "inputs_changed": changed, "temp_files_left": temp_left, "ok": ok}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="run only these cases")
    args = parser.parse_args()
    cases = [c for c in CASES if not args.only or c.name in args.only]
    from fer_utils.timing import cpu_description

    print(f"CPU: {cpu_description()}; peak RSS per process from os.wait4 (limit {RSS_LIMIT / 1e6:,.0f} MB)")
    print(f"{'case':<20}{'rc':>4}{'peak MB':>9}{'s':>6}  ok  message")
    rows = []
    for case in cases:
        with tempfile.TemporaryDirectory(prefix=f"hostile_{case.name}_") as folder:
            row = run_case(case, Path(folder))
        rows.append(row)
        shown = row["message"]
        print(f"{row['case']:<20}{row['exit_status']:>4}{row['peak_rss_mb']:>9}{row['seconds']:>6}  "
              f"{'yes' if row['ok'] else 'NO '} {shown[:150]}", flush=True)
    failed = [r["case"] for r in rows if not r["ok"]]
    print(f"{len(rows) - len(failed)} of {len(rows)} cases refused or handled as designed"
          + (f"; NOT: {', '.join(failed)}" if failed else ""))
    if not args.only:
        path = write_result("hostile_inputs", {"rss_limit_mb": RSS_LIMIT / 1e6, "cases": rows,
                                               "note": "each case in its own process; peak RSS from os.wait4"})
        print(f"wrote {path.relative_to(PROJECT_ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
