"""The FER-2013 data layer: both layouts, the one setting that finds the data, every bad input."""
import gzip
import json

import cv2
import numpy as np
import pytest

from fer_utils import data
from fer_utils.data import EMOTIONS, SAMPLE_PATH, DatasetError, load_fer2013

PIXELS = " ".join(["7"] * 2304)


def write_csv(path, rows, header="emotion,pixels,Usage"):
    text = header + "\n" + "".join(f"{r}\n" for r in rows)
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


def test_sample_loads_with_all_splits_and_classes():
    d = load_fer2013(SAMPLE_PATH)
    assert set(d.splits) == {"Training", "PublicTest", "PrivateTest"}
    tr = d["Training"]
    assert tr.images.shape == (210, 48, 48) and tr.images.dtype == np.uint8
    assert tr.labels.dtype == np.int64 and set(tr.labels) == set(range(7))
    assert d.counts()["PublicTest"] == {e: 7 for e in EMOTIONS}


@pytest.mark.parametrize("name", ["f.csv", "f.csv.gz"])
def test_plain_and_gzipped_csv_give_the_same_arrays(tmp_path, name):
    rows = [f"3,{' '.join(str(i % 256) for i in range(2304))},Training", f"6,{PIXELS},PrivateTest"]
    d = load_fer2013(write_csv(tmp_path / name, rows))
    assert d["Training"].images[0, 0, :3].tolist() == [0, 1, 2]
    assert d["Training"].images[0, 47, 47] == 2303 % 256
    assert d["PrivateTest"].labels.tolist() == [6]
    with pytest.raises(DatasetError, match="PublicTest"):
        d["PublicTest"]


def test_setting_env_var_and_default(tmp_path, monkeypatch):
    p = write_csv(tmp_path / "x.csv", [f"1,{PIXELS},Training"])
    monkeypatch.setenv("FER2013_PATH", str(p))
    assert load_fer2013().source == p
    monkeypatch.delenv("FER2013_PATH")
    monkeypatch.setattr(data, "DATA_DIR", tmp_path / "empty")
    with pytest.raises(DatasetError, match="FER2013_PATH") as e:
        load_fer2013()
    assert "data/fer2013.csv" in str(e.value) and "Kaggle" in str(e.value)


def test_missing_file_says_where_to_download(tmp_path):
    with pytest.raises(DatasetError, match="not found at .*nope.csv.*Download FER-2013"):
        load_fer2013(tmp_path / "nope.csv")


@pytest.mark.parametrize("rows, header, message", [
    ([f"1,{PIXELS},Training"], "label,pixels,Usage", r"wrong columns.*missing \['emotion'\]"),
    ([f"1,{PIXELS},Training", "2,1 2 3,Training"], None, r"line 3: the pixel string has 3 values, expected 2304"),
    ([f"9,{PIXELS},Training"], None, r"line 2: emotion label '9' is not an integer 0-6"),
    ([f"1,{PIXELS},Validation"], None, r"line 2: unknown Usage 'Validation'"),
    ([f"1,{PIXELS}"], None, r"line 2: 2 fields, expected 3"),
    ([], None, "no rows"),
])
def test_malformed_csv_names_file_line_and_problem(tmp_path, rows, header, message):
    p = write_csv(tmp_path / "bad.csv", rows, header or "emotion,pixels,Usage")
    with pytest.raises(DatasetError, match=message) as e:
        load_fer2013(p)
    assert "bad.csv" in str(e.value)


def test_pixel_value_out_of_range(tmp_path):
    p = write_csv(tmp_path / "bad.csv", [f"1,{PIXELS.replace('7', '300', 1)},Training"])
    with pytest.raises(DatasetError, match="0-255"):
        load_fer2013(p)


def test_empty_and_corrupt_gzip(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DatasetError, match="empty"):
        load_fer2013(tmp_path / "empty.csv")
    (tmp_path / "cut.csv.gz").write_bytes(gzip.compress(b"emotion,pixels,Usage\n1,2 3")[:30])
    with pytest.raises(DatasetError, match="could not be read"):
        load_fer2013(tmp_path / "cut.csv.gz")


def make_folder_tree(root):
    rng = np.random.default_rng(0)
    for subset, names in {"train": ["Training_1.png", "Training_2.jpg"],
                          "test": ["PublicTest_5.png", "PrivateTest_6.png", "other.png"]}.items():
        for emotion in ("happy", "sad"):
            (root / subset / emotion).mkdir(parents=True)
            for n in names:
                cv2.imwrite(str(root / subset / emotion / n), rng.integers(0, 255, (48, 48), dtype=np.uint8))
    return root


def test_image_folder_layout_maps_to_splits(tmp_path):
    d = load_fer2013(make_folder_tree(tmp_path / "fer"))
    assert len(d["Training"]) == 4 and len(d["PublicTest"]) == 2 and len(d["PrivateTest"]) == 4
    assert set(d["Training"].labels) == {EMOTIONS.index("happy"), EMOTIONS.index("sad")}
    assert d["Training"].images.shape[1:] == (48, 48)


def test_image_folder_errors(tmp_path):
    root = make_folder_tree(tmp_path / "fer")
    (root / "train" / "happy" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=r"broken.png is not a readable image"):
        load_fer2013(root)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DatasetError, match="no train/ or test/"):
        load_fer2013(tmp_path / "nothing")
    (tmp_path / "hollow" / "train" / "happy").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no images"):
        load_fer2013(tmp_path / "hollow")
    (tmp_path / "odd" / "train" / "joyful").mkdir(parents=True)
    with pytest.raises(DatasetError, match="unknown emotion folder 'joyful'"):
        load_fer2013(tmp_path / "odd")


def test_cli_data_summary_json_on_sample(run_cli):
    r = run_cli("data", "summary", "--data", str(SAMPLE_PATH), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["total"] == 308
    assert out["splits"]["Training"] == {e: 30 for e in EMOTIONS}


def test_cli_bad_data_exits_nonzero_with_message(tmp_path, run_cli):
    r = run_cli("data", "summary", "--data", str(tmp_path / "missing.csv"))
    assert r.returncode == 2
    assert "error: FER-2013 not found" in r.stderr and "Traceback" not in r.stderr
