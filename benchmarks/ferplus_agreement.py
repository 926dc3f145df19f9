"""Label noise in FER-2013, measured with FER+ (Microsoft's relabelling: 10 annotators per face): how often
the FER+ plurality vote over the 7 FER-2013 emotions agrees with the original label, per split and per
class, and the mean share of the votes that the original class gets. Writes
benchmarks/results/ferplus_agreement.json (read by notebook 08) and, for the notebook's examples without
the full data, the FER+ votes of the committed sample's faces to data/sample/ferplus_sample_votes.csv.

    python benchmarks/ferplus_agreement.py --data PATH/TO/fer2013.csv.gz [--ferplus PATH/TO/fer2013new.csv]

FER+ has one row per row of fer2013.csv, in the same order; the script checks that the Usage of every row
matches before it compares anything.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fer_utils.data import EMOTIONS, PROJECT_ROOT, SPLITS, DatasetError, resolve_data_path  # noqa: E402
from fer_utils.ferplus import FERPLUS_COLUMNS, read_csv_rows, votes_in_fer_order  # noqa: E402

DEFAULT_FERPLUS = PROJECT_ROOT.parent / "shared" / "data" / "ferplus" / "fer2013new.csv"
SAMPLE = PROJECT_ROOT / "data" / "sample" / "fer2013_sample.csv.gz"
SAMPLE_VOTES = PROJECT_ROOT / "data" / "sample" / "ferplus_sample_votes.csv"


def agreement(votes: np.ndarray, labels: np.ndarray) -> dict:
    """How the FER+ votes (N, 7) relate to the original labels (N,). Rows without any vote for the 7
    emotions (FER+ marked them not-a-face, unknown or contempt) are counted apart and left out of the rest.
    `agreement`: the original class is the only plurality; `agreement_with_ties`: it is among the tied
    pluralities; `mean_share_original`: the mean fraction of a face's 7-emotion votes that go to its label."""
    votes, labels = np.asarray(votes), np.asarray(labels)
    total = votes.sum(axis=1)
    scored = total > 0
    v, y, t = votes[scored], labels[scored], total[scored]
    top = v.max(axis=1)
    original = v[np.arange(len(y)), y]
    is_top = original == top
    unique_top = (v == top[:, None]).sum(axis=1) == 1
    n = int(scored.sum())
    return {"n_rows": int(len(labels)), "n_without_emotion_votes": int((~scored).sum()), "n_scored": n,
            "agreement": float((is_top & unique_top).mean()) if n else None,
            "agreement_with_ties": float(is_top.mean()) if n else None,
            "mean_share_original": float((original / t).mean()) if n else None}


def plurality_confusion(votes: np.ndarray, labels: np.ndarray) -> list[list[int]]:
    """Counts (7, 7): row = original label, column = FER+ plurality (a tie that includes the original
    class counts as the original class), over rows with at least one vote for the 7 emotions."""
    votes, labels = np.asarray(votes), np.asarray(labels)
    keep = votes.sum(axis=1) > 0
    v, y = votes[keep], labels[keep]
    plurality = v.argmax(axis=1)
    plurality = np.where(v[np.arange(len(y)), y] == v.max(axis=1), y, plurality)
    cm = np.zeros((len(EMOTIONS), len(EMOTIONS)), dtype=np.int64)
    np.add.at(cm, (y, plurality), 1)
    return cm.tolist()


def report(votes: np.ndarray, labels: np.ndarray, usage: np.ndarray) -> dict:
    """`agreement` for all rows, per split and per class within each, and the plurality confusion."""
    per_split = {}
    for split in SPLITS:
        rows = usage == split
        per_split[split] = agreement(votes[rows], labels[rows]) | {
            "per_class": {e: agreement(votes[rows & (labels == c)], labels[rows & (labels == c)])
                          for c, e in enumerate(EMOTIONS)}}
    return {"all": agreement(votes, labels),
            "per_class": {e: agreement(votes[labels == c], labels[labels == c]) for c, e in enumerate(EMOTIONS)},
            "per_split": per_split, "plurality_confusion": plurality_confusion(votes, labels)}


def check_aligned(fer_rows: list[dict[str, str]], ferplus_rows: list[dict[str, str]]) -> None:
    """Raise DatasetError unless the two files have the same number of rows and the same Usage in each."""
    if len(fer_rows) != len(ferplus_rows):
        raise DatasetError(f"FER-2013 has {len(fer_rows)} rows and FER+ {len(ferplus_rows)}: they must be the "
                           f"original fer2013.csv and FER+'s fer2013new.csv, which have one row per face each.")
    bad = [i for i, (a, b) in enumerate(zip(fer_rows, ferplus_rows)) if a["Usage"] != b["Usage"]]
    if bad:
        raise DatasetError(f"{len(bad)} rows have a different Usage in FER-2013 and FER+ (first: data row "
                           f"{bad[0] + 1}): the files are not aligned row by row; use the original fer2013.csv.")


def sample_votes(sample_rows: list[dict[str, str]], fer_rows: list[dict[str, str]],
                 ferplus_rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The FER+ votes for each face of the committed sample, found by its Usage and pixel string (the
    sample does not record row numbers); among byte-identical faces, the first with the same label."""
    index: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(fer_rows):
        index.setdefault((r["Usage"], r["pixels"]), []).append(i)
    out = []
    for k, s in enumerate(sample_rows):
        rows = index.get((s["Usage"], s["pixels"]), [])
        same_label = [i for i in rows if fer_rows[i]["emotion"] == s["emotion"]]
        if not same_label:
            raise DatasetError(f"sample face {k} ({s['Usage']}) is not in the FER-2013 file given: rebuild the "
                               f"sample with data/sample/make_sample.py from the same file.")
        i = same_label[0]
        out.append({"sample_row": str(k), "fer2013_row": str(i), "Usage": s["Usage"],
                    "emotion": EMOTIONS[int(s["emotion"])], "identical_faces": str(len(rows)),
                    **{c: ferplus_rows[i][c] for c in FERPLUS_COLUMNS}})
    return out


def main() -> None:
    from results_file import write_result

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="FER-2013 CSV, plain or gzipped (default: $FER2013_PATH)")
    parser.add_argument("--ferplus", default=str(DEFAULT_FERPLUS), help="FER+ fer2013new.csv")
    args = parser.parse_args()
    try:
        data_path, ferplus_path = resolve_data_path(args.data), Path(args.ferplus)
        if data_path.is_dir():
            raise DatasetError(f"{data_path} is an image folder; the FER+ rows align with the rows of the "
                               f"original fer2013.csv: pass that file with --data.")
        if not ferplus_path.is_file():
            raise DatasetError(f"FER+ labels not found at {ferplus_path}: download fer2013new.csv from the "
                               f"microsoft/FERPlus repository and pass it with --ferplus.")
        fer_rows, ferplus_rows = read_csv_rows(data_path), read_csv_rows(ferplus_path)
        check_aligned(fer_rows, ferplus_rows)
        votes = votes_in_fer_order(ferplus_rows)
        labels = np.array([int(r["emotion"]) for r in fer_rows])
        usage = np.array([r["Usage"] for r in fer_rows])
        sample = sample_votes(read_csv_rows(SAMPLE), fer_rows, ferplus_rows)
    except DatasetError as e:
        sys.exit(f"error: {e}")
    result = {"source": "FER+ fer2013new.csv (microsoft/FERPlus), 10 annotators per face, against the "
                        "original FER-2013 labels; the 7 FER-2013 emotions only (contempt, unknown and "
                        "not-a-face votes left out)",
              "rows_aligned_by_usage": True, **report(votes, labels, usage)}
    with open(SAMPLE_VOTES, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(sample[0]))
        writer.writeheader()
        writer.writerows(sample)
    for name, a in [("all", result["all"])] + list(result["per_split"].items()):
        print(f"{name:<12} {a['n_scored']:>6} faces: FER+ plurality = original label {a['agreement']:.3f} "
              f"({a['agreement_with_ties']:.3f} counting ties), original class gets {a['mean_share_original']:.3f} "
              f"of the votes; {a['n_without_emotion_votes']} faces without emotion votes")
    for e, a in result["per_class"].items():
        print(f"  {e:<9} agreement {a['agreement']:.3f} ({a['agreement_with_ties']:.3f} with ties), "
              f"share {a['mean_share_original']:.3f}")
    print(f"wrote {write_result('ferplus_agreement', result)} and {SAMPLE_VOTES} ({len(sample)} faces)")


if __name__ == "__main__":
    main()
