"""The test-time augmentation choice, on PublicTest only: accuracy and macro-F1 of the model for a
single pass, the mirror image, and the mirror plus a central zoom of 5-30% (the 4 views of
`tta_views(zoom=...)`), three zooms together (8 views), and ten crops (the four corners and the centre of
the face at 44 x 44 pixels, resized back, and their mirror images: the classic ten-crop). The shipped default
is the mirror plus 10%.
Prints the table and writes it to benchmarks/results/tta_choice.json (read by notebook 04).

    python benchmarks/tta_choice.py --data PATH/TO/fer2013.csv.gz [--model models/fer_vgg_bn.keras]
"""
import argparse
from pathlib import Path

import cv2
import numpy as np

from fer_utils.data import PROJECT_ROOT, load_fer2013
from fer_utils.evaluation import classification_metrics
from fer_utils.models import load_model
from fer_utils.inference import predict_proba, tta_views
from results_file import write_result


def crop_views(x: np.ndarray, size: int = 44) -> list[np.ndarray]:
    """The ten-crop views of a batch (N, H, W, 1): the four corner crops and the central crop of
    `size` x `size` pixels, each resized back to H x W, and their mirror images."""
    h, w = x.shape[1:3]
    corners = [(0, 0), (0, w - size), (h - size, 0), (h - size, w - size), ((h - size) // 2, (w - size) // 2)]
    crops = [np.stack([cv2.resize(f[t:t + size, left:left + size], (w, h), interpolation=cv2.INTER_LINEAR)
                       for f in x]).reshape(x.shape) for t, left in corners]
    return crops + [c[:, :, ::-1] for c in crops]


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", help="FER-2013 CSV or folder (default: $FER2013_PATH)")
parser.add_argument("--model", default=str(PROJECT_ROOT / "models" / "fer_vgg_bn.keras"))
args = parser.parse_args()

model = load_model(args.model)
split = load_fer2013(args.data)["PublicTest"]
x = split.images[..., None].astype("float32")
single = lambda v: predict_proba(model, v, tta=False)  # noqa: E731
plain, mirror = single(x), single(x[:, :, ::-1])
zoomed = {z: sum(single(v) for v in tta_views(x, zoom=z)[2:]) for z in (1.05, 1.1, 1.15, 1.2, 1.3)}
candidates = {"single pass": (1, plain), "+ mirror": (2, (plain + mirror) / 2)}
candidates |= {f"+ mirror + {round(100 * (z - 1))}% zoom": (4, (plain + mirror + zoomed[z]) / 4) for z in zoomed}
candidates["+ mirror + 5, 10, 15% zooms"] = (8, (plain + mirror + zoomed[1.05] + zoomed[1.1] + zoomed[1.15]) / 8)
candidates["ten crops (44 px: 4 corners + centre, and mirrors)"] = (10, sum(single(v) for v in crop_views(x)) / 10)
rows = []
for name, (views, p) in candidates.items():
    m = classification_metrics(split.labels, np.asarray(p).argmax(axis=1))
    rows.append({"views": name, "n_views": views, "accuracy": m["accuracy"], "macro_f1": m["macro_f1"]})
    print(f"PublicTest {name:<50} accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}")
result = {"split": "PublicTest", "n": len(split), "model": Path(args.model).name, "rows": rows}
print(f"wrote {write_result('tta_choice', result)}")
