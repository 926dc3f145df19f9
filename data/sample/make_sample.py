"""Rebuild data/sample/fer2013_sample.csv.gz: a small, class-balanced slice of FER-2013
(30 faces per class from Training, 7 per class from PublicTest and from PrivateTest), so that
tests and CI-mode notebooks run without the full dataset.

    python data/sample/make_sample.py PATH/TO/fer2013.csv.gz
"""
import gzip
import sys
from pathlib import Path

import numpy as np

from fer_utils.data import EMOTIONS, load_fer2013

PER_CLASS = {"Training": 30, "PublicTest": 7, "PrivateTest": 7}

data = load_fer2013(sys.argv[1])
rng = np.random.default_rng(2013)
rows = []
for usage, k in PER_CLASS.items():
    split = data[usage]
    for c in range(len(EMOTIONS)):
        for i in rng.choice(np.flatnonzero(split.labels == c), k, replace=False):
            rows.append(f"{c},{' '.join(map(str, split.images[i].ravel()))},{usage}\n")
out = Path(__file__).with_name("fer2013_sample.csv.gz")
with gzip.GzipFile(out, "wb", mtime=0) as f:
    f.write(("emotion,pixels,Usage\n" + "".join(rows)).encode())
print(f"wrote {out}: {len(rows)} faces, {out.stat().st_size / 1024:.0f} KB")
