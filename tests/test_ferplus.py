"""FER+ soft labels: the votes read in FER-2013's class order, the targets they make (each row sums to 1,
the original label keeps its share), and `train --ferplus` learning from them, with a clear refusal when
the FER+ file does not fit the data."""
import csv
import json

import numpy as np
import pytest

from fer_utils.data import EMOTIONS, PROJECT_ROOT, SAMPLE_PATH, DatasetError, load_fer2013
from fer_utils.ferplus import FERPLUS_COLUMNS, ferplus_split_votes, ferplus_targets

SAMPLE_VOTES = PROJECT_ROOT / "data" / "sample" / "ferplus_sample_votes.csv"


def write_ferplus(path, rows):
    """A fer2013new.csv-shaped file: Usage, Image name, then the ten vote columns."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["Usage", "Image name", *FERPLUS_COLUMNS])
        writer.writeheader()
        for k, r in enumerate(rows):
            writer.writerow({"Usage": r["Usage"], "Image name": f"fer{k:07d}.png", **{c: r[c] for c in FERPLUS_COLUMNS}})
    return path


def sample_ferplus(path):
    """FER+ votes for the committed sample, one row per sample face in its order (as FER+ is to fer2013.csv)."""
    with open(SAMPLE_VOTES, newline="") as f:
        return write_ferplus(path, list(csv.DictReader(f)))


def test_targets_mix_the_vote_shares_with_the_original_label():
    votes = np.zeros((3, 7), int)
    votes[0, [EMOTIONS.index("happy"), EMOTIONS.index("surprise")]] = [6, 4]
    votes[1, EMOTIONS.index("sad")] = 10
    labels = np.array([EMOTIONS.index("happy"), EMOTIONS.index("neutral"), EMOTIONS.index("fear")])  # row 2: no votes
    targets = ferplus_targets(votes, labels, weight=0.5)
    assert np.allclose(targets.sum(1), 1)
    assert targets[0, EMOTIONS.index("happy")] == pytest.approx(0.5 * 0.6 + 0.5)
    assert targets[0, EMOTIONS.index("surprise")] == pytest.approx(0.5 * 0.4)
    assert targets[1, EMOTIONS.index("sad")] == pytest.approx(0.5) and targets[1, labels[1]] == pytest.approx(0.5)
    assert np.allclose(targets[2], np.eye(7)[labels[2]])  # no vote for the 7 emotions: the label alone
    assert np.allclose(ferplus_targets(votes, labels, weight=0.0), np.eye(7)[labels])
    assert np.allclose(ferplus_targets(votes, labels, weight=1.0)[1], np.eye(7)[EMOTIONS.index("sad")])
    with pytest.raises(ValueError, match="weight"):
        ferplus_targets(votes, labels, weight=1.5)
    with pytest.raises(ValueError, match="votes must be"):
        ferplus_targets(votes[:2], labels)


def test_votes_are_read_per_split_in_fer2013_class_order(tmp_path):
    path = sample_ferplus(tmp_path / "fer2013new.csv")
    data = load_fer2013(SAMPLE_PATH)
    votes = ferplus_split_votes(path, "PublicTest", n_rows=len(data["PublicTest"]))
    with open(SAMPLE_VOTES, newline="") as f:
        first = next(r for r in csv.DictReader(f) if r["Usage"] == "PublicTest")
    assert votes.shape == (len(data["PublicTest"]), 7)
    assert votes[0, EMOTIONS.index("happy")] == int(first["happiness"])
    assert votes[0, EMOTIONS.index("angry")] == int(first["anger"])
    with pytest.raises(DatasetError, match="aligns row by row"):
        ferplus_split_votes(path, "Training", n_rows=len(data["Training"]) + 1)
    with pytest.raises(DatasetError, match="not found"):
        ferplus_split_votes(tmp_path / "missing.csv", "Training", n_rows=1)
    (tmp_path / "other.csv").write_text("Usage,a,b\nTraining,1,2\n")
    with pytest.raises(DatasetError, match="not FER"):
        ferplus_split_votes(tmp_path / "other.csv", "Training", n_rows=1)


def test_train_learns_from_the_ferplus_targets_and_refuses_a_file_that_does_not_fit(tmp_path, monkeypatch, capsys):
    pytest.importorskip("tensorflow", reason="training needs TensorFlow (no wheel for this Python)")
    from fer_utils import cli, training

    seen = []
    real_make_dataset = training.make_dataset

    def spy(split, *args, **kwargs):  # the batches the loss is computed on
        seen.append(kwargs.get("targets"))
        return real_make_dataset(split, *args, **kwargs)

    monkeypatch.setattr(training, "make_dataset", spy)
    ferplus = sample_ferplus(tmp_path / "fer2013new.csv")
    base = ["train", "--data", str(SAMPLE_PATH), "--epochs", "1", "--arch", "baseline", "--batch-size", "64"]

    assert cli.main([*base, "--out", str(tmp_path / "a.keras"), "--ferplus", str(tmp_path / "nope.csv")]) == 2
    assert "--ferplus" in capsys.readouterr().err
    assert cli.main([*base, "--out", str(tmp_path / "b.keras"), "--ferplus", str(ferplus),
                     "--distill", "seed0_fp32"]) == 2
    assert "give one of them" in capsys.readouterr().err
    short = write_ferplus(tmp_path / "short.csv", list(csv.DictReader(open(SAMPLE_VOTES, newline="")))[1:])
    assert cli.main([*base, "--out", str(tmp_path / "c.keras"), "--ferplus", str(short)]) == 2
    err = capsys.readouterr().err
    assert "aligns row by row" in err and len(err.strip().splitlines()) == 1
    assert not seen  # refused before any training

    out = tmp_path / "d.keras"
    assert cli.main([*base, "--out", str(out), "--run-dir", str(tmp_path / "run"), "--ferplus", str(ferplus),
                     "--ferplus-weight", "0.3"]) == 0
    data = load_fer2013(SAMPLE_PATH)
    expected = ferplus_targets(ferplus_split_votes(ferplus, "Training", len(data["Training"])),
                               data["Training"].labels, weight=0.3)
    assert seen[0] is not None and np.allclose(seen[0], expected)
    assert not np.allclose(expected, np.eye(7)[data["Training"].labels])  # the votes change what is learned
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["hyperparameters"]["ferplus_weight"] == 0.3 and card["epochs_run_before_this_process"] == 0
