"""Teachers kept in small form: predictions saved as float16 with a card, loaded back only for the same rows,
and averaged into an ensemble."""
import json

import numpy as np
import pytest

from fer_utils.data import SAMPLE_PATH, load_fer2013
from fer_utils.distillation import calibrated_temperature
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


def test_distillation_targets_mix_the_softened_ensemble_with_the_true_label():
    from fer_utils.distillation import distillation_targets, soften

    p = np.array([[0.7, 0.2, 0.1, 0, 0, 0, 0], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.4]], np.float32)
    q = np.array([[0.5, 0.4, 0.1, 0, 0, 0, 0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.8]], np.float32)
    hot = soften(p, 2.0)
    assert np.allclose(hot.sum(1), 1) and hot[0, 1] > p[0, 1] and hot[0, 0] < p[0, 0]  # T > 1 spreads
    assert np.allclose(soften(p, 1.0), p / p.sum(1, keepdims=True), atol=1e-6)
    targets = distillation_targets([p, q], np.array([1, 6]), temperature=1.0, weight=0.5)
    assert np.allclose(targets.sum(1), 1)
    assert np.allclose(targets[0], 0.5 * (p[0] + q[0]) / 2 + 0.5 * np.eye(7)[1], atol=1e-6)
    assert np.allclose(distillation_targets([p], np.array([1, 6]), weight=0.0), np.eye(7)[[1, 6]])
    with pytest.raises(ValueError, match="at least one teacher"):
        distillation_targets([], np.array([1, 6]))
    with pytest.raises(ValueError, match="must all be"):
        distillation_targets([p, q[:1]], np.array([1, 6]))


def test_the_temperature_chosen_on_validation_undoes_a_known_softening():
    from fer_utils.distillation import calibrated_temperature, soften

    rng = np.random.default_rng(0)
    truth = soften(rng.dirichlet(np.full(7, 0.3), 20000), 1.0)  # probabilities the labels are really drawn from
    labels = np.array([rng.choice(7, p=p / p.sum()) for p in truth.astype(np.float64)])
    # under-confident teachers (their probabilities at T=2) are sharpened back, over-confident ones softened
    assert calibrated_temperature(soften(truth, 2.0), labels)[0] == 0.5
    assert calibrated_temperature(soften(truth, 0.5), labels)[0] == 2.0
    chosen, nll = calibrated_temperature(truth, labels)
    assert chosen == 1.0 and nll[1.0] == min(nll.values()) and set(nll) == {0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 2.0, 3.0}


def test_training_batches_carry_the_distillation_targets():
    pytest.importorskip("tensorflow", reason="training needs TensorFlow (no wheel for this Python)")
    from fer_utils.distillation import distillation_targets
    from fer_utils.training import make_dataset

    split = load_fer2013(SAMPLE_PATH)["Training"]
    rng = np.random.default_rng(0)
    teacher = rng.dirichlet(np.ones(7), len(split)).astype(np.float32)
    targets = distillation_targets([teacher], split.labels, temperature=2.0, weight=0.7)
    (x, y), = make_dataset(split, batch_size=len(split), targets=targets).take(1)
    assert x.shape == (len(split), 48, 48, 1) and np.allclose(y.numpy(), targets)
    (_, hot), = make_dataset(split, batch_size=len(split)).take(1)
    assert np.array_equal(hot.numpy().argmax(1), split.labels)


def test_train_distills_from_stored_teachers_and_refuses_unknown_or_stale_ones(tmp_path, monkeypatch, capsys):
    pytest.importorskip("tensorflow", reason="training needs TensorFlow (no wheel for this Python)")
    from fer_utils import cli, teachers

    monkeypatch.setattr(teachers, "TEACHERS", tmp_path / "teachers")
    monkeypatch.setattr(teachers, "STUDENTS", tmp_path / "students")
    data = load_fer2013(SAMPLE_PATH)
    save_teacher("good", fake_predictions(data, 1), data, {}, folder=tmp_path / "teachers")
    stale = fake_predictions(data, 2)
    stale["Training"] = stale["Training"][::-1]
    save_teacher("stale", stale, data, {}, folder=tmp_path / "teachers")
    card_path = tmp_path / "teachers" / "stale" / "card.json"
    card = json.loads(card_path.read_text())
    card["fingerprints"]["Training"] = "0" * 16  # predictions made for another order of rows
    card_path.write_text(json.dumps(card))
    base = ["train", "--data", str(SAMPLE_PATH), "--epochs", "1", "--arch", "baseline", "--batch-size", "64"]

    assert cli.main([*base, "--out", str(tmp_path / "a.keras"), "--distill", "nobody"]) == 2
    assert "no teacher named nobody" in capsys.readouterr().err
    assert cli.main([*base, "--out", str(tmp_path / "b.keras"), "--distill", "stale"]) == 2
    assert "made on other rows" in capsys.readouterr().err
    assert cli.main([*base, "--out", str(tmp_path / "c.keras"), "--distill", "good", "--temperature", "0"]) == 2
    assert "--temperature must be above 0" in capsys.readouterr().err

    out = tmp_path / "d.keras"
    assert cli.main([*base, "--out", str(out), "--run-dir", str(tmp_path / "run"), "--distill", "good",
                     "--temperature", "3", "--distill-weight", "0.5"]) == 0
    hyper = json.loads(out.with_suffix(".json").read_text())["hyperparameters"]
    assert (hyper["distilled_from"], hyper["temperature"], hyper["distill_weight"]) == (["good"], 3.0, 0.5)
    auto = tmp_path / "auto.keras"  # by default the temperature is chosen on the teachers' PublicTest predictions
    assert cli.main([*base, "--out", str(auto), "--run-dir", str(tmp_path / "run_auto"), "--distill", "good"]) == 0
    hyper = json.loads(auto.with_suffix(".json").read_text())["hyperparameters"]
    public = load_teachers(data, folder=tmp_path / "teachers")["good"]["PublicTest"]
    assert hyper["temperature"] == calibrated_temperature(public, data["PublicTest"].labels)[0]
    assert hyper["temperature_chosen_on"].startswith("PublicTest") and "--temperature auto" in capsys.readouterr().out
    # the student's own predictions are stored apart from the teachers: in no ensemble, never a teacher
    assert cli.main(["teacher", "--model", str(out), "--name", "d", "--data", str(SAMPLE_PATH), "--student"]) == 0
    card = json.loads((tmp_path / "students" / "d" / "card.json").read_text())
    assert card["training"]["hyperparameters"]["distilled_from"] == ["good"]
    assert set(load_teachers(data, folder=tmp_path / "teachers")) == {"good"}


def test_readme_teachers_table_matches_the_ensemble_results():
    import importlib.util

    from fer_utils.data import PROJECT_ROOT

    spec = importlib.util.spec_from_file_location("ensemble_benchmark", PROJECT_ROOT / "benchmarks" / "ensemble.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = json.loads((PROJECT_ROOT / "benchmarks" / "results" / "ensemble.json").read_text())
    table = module.readme_table(result)
    assert table in (PROJECT_ROOT / "README.md").read_text(), \
        "README.md's teachers table is out of date: run python benchmarks/ensemble.py --readme-only"
    assert all(name in table for name in result["rows"]) and len(result["rows"]) >= 2


def test_bfloat16_training_is_refused_on_a_cpu_without_avx512_only():
    """TensorFlow runs bfloat16 in slow fallback code without AVX-512 (13x slower than float32, measured):
    refused there with the fix, allowed with AVX-512 or a GPU, and never in question for float32."""
    from fer_utils.environment import cpu_info
    from fer_utils.training_commands import precision_problem

    avx2, avx512 = {"sse2", "avx", "avx2", "fma"}, {"sse2", "avx2", "avx512f", "avx512_bf16"}
    problem = precision_problem("mixed_bfloat16", avx2, has_gpu=False)
    assert "--precision float32" in problem and "AVX-512" in problem
    assert precision_problem("mixed_bfloat16", avx512, has_gpu=False) is None
    assert precision_problem("mixed_bfloat16", avx2, has_gpu=True) is None
    assert precision_problem("float32", avx2, has_gpu=False) is None
    assert precision_problem("mixed_bfloat16", set(), has_gpu=False) is None  # flags unknown (not Linux): allowed
    name, flags = cpu_info()
    assert name and isinstance(flags, set)


def test_a_cropping_teacher_keeps_the_test_time_views_that_score_higher_on_publictest(tmp_path, monkeypatch, capsys):
    pytest.importorskip("tensorflow", reason="training needs TensorFlow (no wheel for this Python)")
    from fer_utils import cli, teachers

    monkeypatch.setattr(teachers, "TEACHERS", tmp_path / "teachers")
    out = tmp_path / "crop.keras"
    assert cli.main(["train", "--data", str(SAMPLE_PATH), "--epochs", "1", "--arch", "vgg_bn_crop44", "--batch-size",
                     "64", "--out", str(out), "--run-dir", str(tmp_path / "run")]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["input_crop"] == 44
    capsys.readouterr()
    assert cli.main(["teacher", "--model", str(out), "--name", "crop", "--data", str(SAMPLE_PATH)]) == 0
    printed = dict(line.split(": accuracy ") for line in capsys.readouterr().out.splitlines()
                   if line.startswith("PublicTest with"))
    four, ten = float(printed["PublicTest with 4 views"]), float(printed["PublicTest with ten crops"])
    card = json.loads((tmp_path / "teachers" / "crop" / "card.json").read_text())
    assert card["training"]["input_crop"] == 44
    chose_ten = "ten crops" in card["inference"].split("(")[0]
    assert chose_ten == (ten > four)  # a tie keeps the cheaper 4 views
    # the stored predictions are the chosen views' (compared as probabilities: a 1-epoch model's near-uniform
    # outputs can change their argmax when stored as float16, so the card's accuracy may differ by a face)
    from functools import partial

    from fer_utils.inference import load_inference_model, predict_proba, ten_crop_views, tta_views
    public = load_fer2013(SAMPLE_PATH)["PublicTest"].images
    views = partial(ten_crop_views, crop=44) if chose_ten else tta_views
    expected = predict_proba(load_inference_model(out), public, views=views)
    with np.load(tmp_path / "teachers" / "crop" / "predictions.npz") as stored:
        np.testing.assert_allclose(stored["PublicTest"].astype(np.float32), expected, atol=2e-3)
