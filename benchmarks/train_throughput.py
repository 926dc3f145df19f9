"""Training throughput (images/s) of candidate architectures on this machine: Keras `fit` with the
series' augmentation pipeline, batch 128, random 48x48 data (speed does not depend on content).

    python benchmarks/train_throughput.py
"""
import time

import numpy as np

from fer_utils.backend import keras
from fer_utils.data import Split
from fer_utils.models import build_vgg_bn
from fer_utils.training import build_augmentation, make_dataset

CANDIDATES = [
    dict(widths=(32, 48, 96, 192), depths=(1, 1, 2, 2)),
    dict(widths=(32, 64, 128, 256), depths=(1, 1, 2, 2)),
    dict(widths=(32, 64, 128, 256), depths=(2, 2, 2, 2)),
    dict(widths=(48, 96, 192, 384), depths=(1, 1, 2, 2)),
    dict(widths=(64, 128, 256, 512), depths=(1, 1, 2, 2)),
]
STEPS = 30

rng = np.random.default_rng(0)
split = Split(rng.integers(0, 255, (128 * (STEPS + 5), 48, 48), dtype=np.uint8), rng.integers(0, 7, 128 * (STEPS + 5)))
for cfg in CANDIDATES:
    model = build_vgg_bn(**cfg)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="categorical_crossentropy")
    ds = make_dataset(split, 128, build_augmentation(), shuffle=True)
    model.fit(ds.take(5), epochs=1, verbose=0)  # warm-up: tracing, oneDNN kernels
    start = time.perf_counter()
    model.fit(ds.take(STEPS), epochs=1, verbose=0)
    rate = STEPS * 128 / (time.perf_counter() - start)
    print(f"widths {cfg['widths']} depths {cfg['depths']}: {model.count_params() / 1e6:.2f} M params, "
          f"{rate:.0f} images/s, {28709 / rate / 60:.2f} min per FER-2013 epoch", flush=True)
