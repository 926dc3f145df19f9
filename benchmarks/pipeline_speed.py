"""Speed of the whole pipeline per 640x480 frame (`python -m fer_utils bench`) for both face detectors, with
the `fer` package's detect_emotions on the same frame in the same run as the peer; writes
results/pipeline_speed.json and the README's speed table (between its `pipeline-speed` markers).

    pip install --no-deps fer==25.10.3            # the peer (optional: without it, no ratio)
    python benchmarks/pipeline_speed.py [--frames 200]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import write_result  # noqa: E402
from wheel_support import README, replace_block  # noqa: E402

from fer_utils.files import write_text  # noqa: E402
from fer_utils.timing import benchmark_frame, time_peer_fer, time_pipeline  # noqa: E402

DETECTORS = {"cnn": "CNN (default)", "haar": "Haar (`--detector haar`)"}


def stage_text(stages: dict[str, float]) -> str:
    """"detection 4.4, classification 2.0, drawing 0.3": time_pipeline's three stages, each timed alone."""
    return ", ".join(f"{name} {ms:.1f}" for name, ms in zip(("detection", "classification", "drawing"), stages.values()))


def table(result: dict) -> str:
    """The README's speed table from one run's results."""
    lines = [f"Speed per 640x480 frame with one face, `python benchmarks/pipeline_speed.py` (the median of "
             f"{result['frames']} frames per figure; `fer` 25.10's `detect_emotions` on the same frame in the same "
             f"run), on {result['cpu']}, load average {result['load_average']:.1f} at the start:", "",
             "| detector | video path (live, `--video`) | photo path (4 views) | `fer` 25.10, same run | "
             "photo path vs `fer` |", "|---|---|---|---|---|"]
    for name, label in DETECTORS.items():
        r = result["detectors"][name]
        peer, ratio = r["peer_fer_ms_median"], r["photo_speedup_vs_fer"]
        lines.append(f"| {label} | {r['video']['frame_ms_median']:.1f} ms ({stage_text(r['video']['stages'])}) | "
                     f"{r['photo']['frame_ms_median']:.1f} ms ({stage_text(r['photo']['stages'])}) | "
                     f"{f'{peer:.1f} ms' if peer else 'not installed'} | {f'{ratio:.1f}x' if ratio else '-'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--readme-only", action="store_true", help="rewrite the README table from the last results")
    args = ap.parse_args(argv)
    path = Path(__file__).resolve().parent / "results" / "pipeline_speed.json"
    if not args.readme_only:
        frame, load = benchmark_frame(), os.getloadavg()[0]
        detectors = {}
        for name in DETECTORS:
            report = time_pipeline(frame, n=args.frames, detector=name)
            peer = time_peer_fer(frame, n=max(20, args.frames // 4))
            report["peer_fer_ms_median"] = peer
            report["photo_speedup_vs_fer"] = peer / report["photo"]["frame_ms_median"] if peer else None
            detectors[name] = report
            print(name, json.dumps({k: report[k]["frame_ms_median"] for k in ("video", "photo")}), "fer", peer,
                  flush=True)
        path = write_result("pipeline_speed", {"frames": args.frames, "load_average": load, "detectors": detectors})
    result = json.loads(path.read_text())
    write_text(README, replace_block(README.read_text(), table(result), "pipeline-speed"))
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
