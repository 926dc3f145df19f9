"""Training throughput of the shipped net in float32 and in mixed bfloat16, measured in the same run on this
machine: Keras `fit` with the series' augmentation, batch 128 (train's default), random 48x48 data. Each
precision is timed twice, alternately, so that a change in the machine's load shows as a spread. Prints the CPU
and its bfloat16 flags (amx_bf16: matrix units; avx512_bf16: vector instructions only) and the ratio, and
writes benchmarks/results/precision_throughput.json. Run it on an otherwise idle machine.

    python benchmarks/precision_throughput.py [--steps 30]
"""
import argparse
import time

import numpy as np

from fer_utils.backend import keras
from fer_utils.data import Split
from fer_utils.environment import cpu_info
from fer_utils.models import build_vgg_bn
from fer_utils.training import build_augmentation, make_dataset
from fer_utils.training_commands import precision_problem
from results_file import write_result

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=30, help="timed batches per measurement")
args = parser.parse_args()

name, flags = cpu_info()
bf16_flags = sorted(f for f in flags if "bf16" in f or f == "avx512f")
print(f"CPU: {name}; bfloat16-related flags: {', '.join(bf16_flags) or 'none'}")
precisions = ["float32", "mixed_bfloat16"]
if problem := precision_problem("mixed_bfloat16", flags, has_gpu=False):
    print(f"mixed_bfloat16 not measured: {problem}")
    precisions = ["float32"]

rng = np.random.default_rng(0)
split = Split(rng.integers(0, 255, (128 * (args.steps + 5), 48, 48), dtype=np.uint8),
              rng.integers(0, 7, 128 * (args.steps + 5)))
rates: dict[str, list[float]] = {p: [] for p in precisions}
for _ in range(2):
    for precision in precisions:
        keras.mixed_precision.set_global_policy(precision)
        model = build_vgg_bn()
        model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="categorical_crossentropy")
        ds = make_dataset(split, 128, build_augmentation(), shuffle=True)
        model.fit(ds.take(5), epochs=1, verbose=0)  # warm-up: tracing, oneDNN kernels
        start = time.perf_counter()
        model.fit(ds.take(args.steps), epochs=1, verbose=0)
        rates[precision].append(args.steps * 128 / (time.perf_counter() - start))
        print(f"{precision}: {rates[precision][-1]:.0f} images/s", flush=True)
keras.mixed_precision.set_global_policy("float32")

result = {"cpu_model": name, "cpu_bf16_flags": bf16_flags,
          "params": int(build_vgg_bn().count_params()), "batch": 128, "steps": args.steps,
          "images_per_s": {p: [round(r, 1) for r in v] for p, v in rates.items()}}
if len(precisions) == 2:
    result["bf16_over_fp32"] = round(float(np.mean(rates["mixed_bfloat16"]) / np.mean(rates["float32"])), 2)
    print(f"mixed_bfloat16 / float32: {result['bf16_over_fp32']:.2f}x")
print(f"wrote {write_result('precision_throughput', result)}")
