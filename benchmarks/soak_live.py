"""Soak test of the live kernel step: `fer_utils.live.annotate_jpeg` (decode, detect + classify, draw,
encode) on a 320x240 camera-like frame, called in a loop for a set time, with a bad frame every N frames
(empty bytes, random bytes, a truncated JPEG, decompression bombs). Every bad frame must raise
`ImageError` and the next frame must work; resident memory must stay flat after the warm-up.

    python benchmarks/soak_live.py --seconds 600 --bad-every 20

Prints the CPU (and whether it has AVX-512), frames, errors, median/p95 ms per good frame and the
resident memory at the start, after the warm-up and at the end. Exit status 1 when a bad frame did not
raise ImageError, a good frame failed, or memory grew more than --max-growth-mb after the warm-up.
"""
import argparse
import os
import platform
import struct
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np

from fer_utils.pipeline import EmotionDetector
from fer_utils.images import ImageError
from fer_utils.timing import benchmark_frame
from fer_utils.live import annotate_jpeg, encode_jpeg


def rss_mb() -> float:
    """Resident memory of this process now, in MB (Linux /proc; elsewhere the peak from getrusage)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def cpu() -> tuple[str, bool]:
    """The CPU model and whether it reports AVX-512 (avx512f)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine(), False
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    return model, " avx512f" in info


def png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header declares width x height pixels (a decompression bomb)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 100_000, 9)) + chunk(b"IEND", b""))


def bad_frames(good: bytes) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    return {"empty": b"", "random bytes": rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
            "truncated JPEG": good[:len(good) // 3], "PNG bomb 50000x50000": png_declaring(50_000, 50_000),
            "PNG bomb 30000x30000": png_declaring(30_000, 30_000)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=600, help="how long to run (default 600)")
    p.add_argument("--bad-every", type=int, default=20, help="every Nth frame is a bad one (default 20)")
    p.add_argument("--warmup-seconds", type=float, default=30, help="memory baseline taken after this (default 30)")
    p.add_argument("--max-growth-mb", type=float, default=20, help="allowed growth after the warm-up (default 20)")
    args = p.parse_args()
    if args.bad_every < 2 or args.seconds <= args.warmup_seconds:
        p.error("--bad-every must be at least 2 and --seconds longer than --warmup-seconds")

    model, avx512 = cpu()
    print(f"CPU: {os.cpu_count()} x {model}; AVX-512: {'yes' if avx512 else 'no'}", flush=True)
    rss_start = rss_mb()
    detector = EmotionDetector(smoothing=0.5)  # what notebook 06 uses
    good = encode_jpeg(cv2.resize(benchmark_frame(), (320, 240), interpolation=cv2.INTER_AREA))
    bad = list(bad_frames(good).items())
    times_ms: list[float] = []
    errors = {name: 0 for name, _ in bad}
    failures: list[str] = []
    rss_warm = None
    start = next_report = time.perf_counter()
    calls = 0
    while (now := time.perf_counter()) - start < args.seconds:
        if rss_warm is None and now - start >= args.warmup_seconds:
            rss_warm = rss_mb()
            print(f"after {args.warmup_seconds:.0f} s warm-up: RSS {rss_warm:.0f} MB", flush=True)
        if now >= next_report:
            print(f"{now - start:5.0f} s: {len(times_ms)} frames, {sum(errors.values())} bad frames refused, "
                  f"RSS {rss_mb():.0f} MB", flush=True)
            next_report += 60
        calls += 1
        if calls % args.bad_every == 0:
            name, data = bad[(calls // args.bad_every) % len(bad)]
            try:
                annotate_jpeg(detector, data)
                failures.append(f"{name}: no ImageError")
            except ImageError:
                errors[name] += 1
            except Exception as e:  # noqa: BLE001 - anything else is what this soak looks for
                failures.append(f"{name}: {type(e).__name__}: {e}")
            continue
        t = time.perf_counter()
        try:
            annotate_jpeg(detector, good)
        except Exception as e:  # noqa: BLE001
            failures.append(f"good frame after a bad one: {type(e).__name__}: {e}")
            continue
        times_ms.append((time.perf_counter() - t) * 1000)
    elapsed = time.perf_counter() - start
    rss_end = rss_mb()
    growth = rss_end - rss_warm
    print(f"command: python {' '.join(sys.argv)}")
    print(f"{elapsed:.0f} s: {len(times_ms)} good frames, {sum(errors.values())} bad frames, all refused with "
          f"ImageError: {'yes' if not failures else 'NO'} ({', '.join(f'{k} {v}' for k, v in errors.items())})")
    print(f"per good frame: median {np.median(times_ms):.1f} ms, p95 {np.percentile(times_ms, 95):.1f} ms")
    print(f"RSS: start {rss_start:.0f} MB, after warm-up {rss_warm:.0f} MB, end {rss_end:.0f} MB "
          f"(growth after warm-up {growth:+.1f} MB, allowed {args.max_growth_mb:g})")
    for failure in failures[:10]:
        print(f"FAILED: {failure}")
    return 1 if failures or growth > args.max_growth_mb else 0


if __name__ == "__main__":
    sys.exit(main())
