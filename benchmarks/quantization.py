"""Float32 or dynamic-range quantized LiteRT model: speed of the photo path's 4-view batch and PublicTest
accuracy (the choice is made on PublicTest only), plus how often the two agree on the top label.

    python benchmarks/quantization.py --data PATH/TO/fer2013.csv.gz      # writes results/quantization.json
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import write_result  # noqa: E402

from fer_utils.data import PROJECT_ROOT, load_fer2013  # noqa: E402
from fer_utils.evaluation import classification_metrics  # noqa: E402
from fer_utils.inference import TFLiteModel, predict_proba  # noqa: E402
from fer_utils.models import QUANTIZATIONS, export_fast_model, load_model  # noqa: E402
from fer_utils.timing import cpu_description  # noqa: E402

ROUNDS, CALLS = 15, 20


def interleaved_ms(models: dict[str, TFLiteModel], batch: np.ndarray) -> dict[str, float]:
    """Median ms per call of each model on `batch`, the models taking turns so that a busy machine slows
    them alike (the ratio is the figure to trust)."""
    for model in models.values():
        for _ in range(CALLS):
            model(batch)
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(ROUNDS):
        for name, model in models.items():
            start = time.perf_counter()
            for _ in range(CALLS):
                model(batch)
            times[name].append((time.perf_counter() - start) / CALLS * 1000)
    return {name: float(np.median(t)) for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="FER-2013 (default: $FER_DATA)")
    ap.add_argument("--model", default=str(PROJECT_ROOT / "models" / "fer_vgg_bn.keras"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    public = load_fer2013(args.data)["PublicTest"]
    keras_model = load_model(args.model)
    report = {"split": "PublicTest", "n": len(public), "hardware": cpu_description(), "variants": {}}
    with tempfile.TemporaryDirectory() as tmp:
        models = {}
        for quantization in QUANTIZATIONS:
            path = Path(tmp) / quantization / "model.keras"
            path.parent.mkdir()
            keras_model.save(path)
            models[quantization] = TFLiteModel(export_fast_model(keras_model, path, quantization=quantization))
            report["variants"][quantization] = {"description": QUANTIZATIONS[quantization],
                                                "bytes": path.with_suffix(".tflite").stat().st_size}
        batch = np.random.default_rng(0).uniform(0, 255, (4, 48, 48, 1)).astype(np.float32)
        speed = interleaved_ms(models, batch)
        probabilities = {name: predict_proba(model, public.images) for name, model in models.items()}
    for name, p in probabilities.items():
        metrics = classification_metrics(public.labels, p.argmax(1))
        report["variants"][name].update(ms_per_4_view_batch=speed[name], accuracy=metrics["accuracy"],
                                        macro_f1=metrics["macro_f1"])
    p32, pq = probabilities["none"], probabilities["dynamic"]
    report["top_label_agreement"] = float((p32.argmax(1) == pq.argmax(1)).mean())
    report["max_probability_difference"] = float(np.abs(p32 - pq).max())
    report["speed_ratio_none_over_dynamic"] = speed["none"] / speed["dynamic"]
    print(f"PublicTest, n={len(public)}, 4 test-time views; CPU: {report['hardware']}")
    for name, r in report["variants"].items():
        print(f"  {name:8} accuracy {r['accuracy']:.4f}, macro-F1 {r['macro_f1']:.4f}, "
              f"{r['ms_per_4_view_batch']:.2f} ms per 4-view batch, {r['bytes'] / 1e6:.2f} MB")
    print(f"dynamic is {report['speed_ratio_none_over_dynamic']:.2f}x faster; top labels agree on "
          f"{report['top_label_agreement']:.2%} of faces; largest probability difference "
          f"{report['max_probability_difference']:.3f}")
    if not args.no_write:
        print("wrote", write_result("quantization", report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
