"""The accuracy-lever scripts behind notebook 08: FER+ agreement arithmetic, the committed FER+ votes of
the sample faces, and the helpers that read a training run (epoch times, the weight-average curve)."""
import csv
import gzip
import importlib.util

import numpy as np
import pytest

from fer_utils.data import EMOTIONS, PROJECT_ROOT


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ferplus = load_script("ferplus_agreement")
experiments = load_script("accuracy_experiments")


def test_agreement_counts_unique_and_tied_pluralities_and_leaves_out_rows_without_emotion_votes():
    votes = np.zeros((4, 7), dtype=int)
    votes[0, 3] = 10                  # happy, unanimous
    votes[1, [3, 4]] = 5              # happy and sad tied
    votes[2, [0, 6]] = [2, 8]         # labelled angry, FER+ says neutral
    labels = np.array([3, 3, 0, 0])   # row 3 has no emotion votes at all
    a = ferplus.agreement(votes, labels)
    assert (a["n_rows"], a["n_without_emotion_votes"], a["n_scored"]) == (4, 1, 3)
    assert a["agreement"] == pytest.approx(1 / 3)
    assert a["agreement_with_ties"] == pytest.approx(2 / 3)
    assert a["mean_share_original"] == pytest.approx((1.0 + 0.5 + 0.2) / 3)


def test_plurality_confusion_counts_a_tie_with_the_original_class_as_agreement():
    votes = np.zeros((3, 7), dtype=int)
    votes[0, [3, 4]] = 5
    votes[1, [0, 6]] = [2, 8]
    labels = np.array([4, 0, 2])
    cm = np.array(ferplus.plurality_confusion(votes, labels))
    assert cm.sum() == 2 and cm[4, 4] == 1 and cm[0, 6] == 1


def test_misaligned_files_are_refused():
    with pytest.raises(ferplus.DatasetError, match="not aligned"):
        ferplus.check_aligned([{"Usage": "Training"}, {"Usage": "PublicTest"}],
                              [{"Usage": "Training"}, {"Usage": "Training"}])
    with pytest.raises(ferplus.DatasetError, match="rows"):
        ferplus.check_aligned([{"Usage": "Training"}], [])


def test_the_committed_sample_votes_belong_to_the_committed_sample_faces():
    with gzip.open(PROJECT_ROOT / "data" / "sample" / "fer2013_sample.csv.gz", "rt") as f:
        sample = list(csv.DictReader(f))
    with open(PROJECT_ROOT / "data" / "sample" / "ferplus_sample_votes.csv", newline="") as f:
        votes = list(csv.DictReader(f))
    assert len(votes) == len(sample)
    for k, (s, v) in enumerate(zip(sample, votes)):
        assert int(v["sample_row"]) == k and v["Usage"] == s["Usage"] and v["emotion"] == EMOTIONS[int(s["emotion"])]
        assert sum(int(v[c]) for c in ferplus.FERPLUS_COLUMNS) == 10  # ten annotators per face


def test_sample_votes_match_faces_by_pixels_and_label():
    fer = [{"emotion": "3", "pixels": "1 2", "Usage": "Training"},
           {"emotion": "4", "pixels": "1 2", "Usage": "Training"}]
    plus = [{c: "0" for c in ferplus.FERPLUS_COLUMNS} | {"happiness": "10"},
            {c: "0" for c in ferplus.FERPLUS_COLUMNS} | {"sadness": "10"}]
    out = ferplus.sample_votes([{"emotion": "4", "pixels": "1 2", "Usage": "Training"}], fer, plus)
    assert out[0]["fer2013_row"] == "1" and out[0]["sadness"] == "10" and out[0]["identical_faces"] == "2"
    with pytest.raises(ferplus.DatasetError, match="not in the FER-2013 file"):
        ferplus.sample_votes([{"emotion": "4", "pixels": "9 9", "Usage": "Training"}], fer, plus)


def test_epoch_seconds_are_read_from_a_keras_log():
    log = ("Epoch 1/16\n225/225 - 740s - 3s/step - accuracy: 0.8282 - loss: 0.8344\n"
           "Epoch 2/16\n225/225 - 246s - 1s/step - accuracy: 0.8109\nEpoch 3/16\n")
    assert experiments.epoch_seconds(log) == [740, 246]


def test_weight_average_curve_finds_the_best_epoch_of_each():
    curve = experiments.weight_average_curve({"val_accuracy": [0.60, 0.65, 0.64],
                                              "val_ema_accuracy": [0.66, 0.65, 0.67]})
    assert (curve["best_plain"], curve["best_plain_epoch"]) == (0.65, 2)
    assert (curve["best_averaged"], curve["best_averaged_epoch"]) == (0.67, 3)


def test_summary_reports_accuracy_macro_f1_and_every_class_recall():
    labels = np.array([0, 1, 1, 3])
    probs = np.eye(7)[[0, 1, 3, 3]]
    s = experiments.summary(labels, probs)
    assert s["accuracy"] == 0.75 and s["recall"]["disgust"] == 0.5 and set(s["recall"]) == set(EMOTIONS)
