"""Teachers kept in small form: predictions saved as float16 with a card, loaded back only for the same rows,
and averaged into an ensemble."""
import json

import numpy as np

from fer_utils.data import SAMPLE_PATH, load_fer2013
from fer_utils.teachers import ensemble, labels_fingerprint, load_teachers, save_teacher


def fake_predictions(data, seed):
    rng = np.random.default_rng(seed)
    out = {}
    for s in ("Training", "PublicTest", "PrivateTest"):
        p = rng.dirichlet(np.ones(7), len(data[s]))
        p[np.arange(len(data[s])), data[s].labels] += 0.5 * seed  # the second teacher knows the answers better
        out[s] = (p / p.sum(1, keepdims=True)).astype(np.float16)
    return out


def test_teachers_round_trip_and_average(tmp_path):
    data = load_fer2013(SAMPLE_PATH)
    first, second = fake_predictions(data, 0), fake_predictions(data, 1)
    save_teacher("a", first, data, {"command": "x"}, folder=tmp_path)
    save_teacher("b", second, data, {"command": "y"}, folder=tmp_path)
    card = json.loads((tmp_path / "b" / "card.json").read_text())
    assert card["command"] == "y" and card["fingerprints"]["PublicTest"] == labels_fingerprint(data["PublicTest"].labels)
    assert 0 <= card["PublicTest"]["accuracy"] <= 1
    teachers = load_teachers(data, folder=tmp_path)
    assert set(teachers) == {"a", "b"}
    assert np.allclose(teachers["a"]["PublicTest"], first["PublicTest"].astype(np.float32))
    mean = ensemble([teachers["a"]["PublicTest"], teachers["b"]["PublicTest"]])
    assert np.allclose(mean, (first["PublicTest"].astype(np.float32) + second["PublicTest"].astype(np.float32)) / 2)


def test_predictions_for_other_rows_are_not_loaded(tmp_path):
    data = load_fer2013(SAMPLE_PATH)
    save_teacher("a", fake_predictions(data, 0), data, {}, folder=tmp_path)
    card_path = tmp_path / "a" / "card.json"
    card = json.loads(card_path.read_text())
    card["fingerprints"]["PublicTest"] = "0" * 16  # made for another order of rows
    card_path.write_text(json.dumps(card))
    assert load_teachers(data, folder=tmp_path) == {}
