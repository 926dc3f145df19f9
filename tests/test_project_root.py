"""Where the package finds its shipped model and sample data, installed editable or not, and the
cross-split duplicate check that the evaluation reports."""
from pathlib import Path

import numpy as np

from fer_utils.data import cross_split_duplicates, find_project_root
from fer_utils.evaluation import dedup_metrics


def make_checkout(root: Path) -> Path:
    (root / "data" / "sample").mkdir(parents=True)
    (root / "data" / "sample" / "fer2013_sample.csv.gz").write_bytes(b"")
    (root / "fer_utils").mkdir()
    return root


def test_editable_install_uses_the_checkout_the_package_sits_in(tmp_path):
    checkout = make_checkout(tmp_path / "repo")
    assert find_project_root(checkout / "fer_utils", cwd=tmp_path) == checkout


def test_plain_install_finds_the_checkout_from_the_working_directory(tmp_path):
    checkout = make_checkout(tmp_path / "repo")
    site_packages = tmp_path / "venv" / "site-packages" / "fer_utils"
    site_packages.mkdir(parents=True)
    (checkout / "notebooks").mkdir()
    assert find_project_root(site_packages, cwd=checkout / "notebooks") == checkout


def test_fer_home_wins_over_everything(tmp_path):
    checkout = make_checkout(tmp_path / "repo")
    elsewhere = tmp_path / "my_copy"
    assert find_project_root(checkout / "fer_utils", cwd=checkout, home=str(elsewhere)) == elsewhere.resolve()


def test_plain_install_outside_any_checkout_falls_back_to_the_package_parent(tmp_path):
    site_packages = tmp_path / "site-packages" / "fer_utils"
    site_packages.mkdir(parents=True)
    assert find_project_root(site_packages, cwd=tmp_path) == site_packages.parent


def test_cross_split_duplicates_marks_byte_identical_faces_only():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (20, 48, 48), dtype=np.uint8)
    nudged = train[3].copy()
    nudged[0, 0] ^= 1  # one pixel off: not a duplicate
    test = np.stack([train[5], nudged, rng.integers(0, 256, (48, 48), dtype=np.uint8), train[19]])
    assert cross_split_duplicates(train, test).tolist() == [True, False, False, True]


def test_dedup_metrics_leave_out_the_duplicates():
    y_true = np.array([0, 1, 2, 3, 4, 5])
    y_pred = np.array([0, 1, 0, 0, 4, 0])
    duplicates = np.array([True, True, False, False, False, False])
    d = dedup_metrics(y_true, y_pred, duplicates)
    assert (d["n_duplicates"], d["n_dedup"], d["duplicates_accuracy"]) == (2, 4, 1.0)
    assert d["dedup_accuracy"] == 0.25
