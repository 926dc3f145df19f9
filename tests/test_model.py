"""Models, inference, metrics, training with resume, and the train/evaluate commands, on tiny data."""
import json

import numpy as np
import pytest

from fer_utils.backend import keras
from fer_utils.checkpoints import read_rows, write_rows
from fer_utils.data import SAMPLE_PATH, load_fer2013
from fer_utils.evaluation import classification_metrics, confusion_matrix, format_report
from fer_utils.models import build_baseline_cnn, build_vgg_bn, load_model
from fer_utils.inference import ModelError, predict_proba, ten_crop_views, tta_views
from fer_utils.training import class_weights, read_history, train


def test_metrics_match_hand_computed_values():
    y_true = np.array([0, 0, 0, 1, 1, 3])
    y_pred = np.array([0, 0, 1, 1, 0, 3])
    m = classification_metrics(y_true, y_pred)
    assert m["n"] == 6 and m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"]["angry"] == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3})
    assert m["per_class"]["disgust"]["recall"] == pytest.approx(0.5)
    assert m["per_class"]["happy"]["f1"] == 1.0
    # macro-F1 averages the classes that occur (angry 2/3, disgust 1/2, happy 1)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert np.array_equal(confusion_matrix(y_true, y_pred)[0], [2, 1, 0, 0, 0, 0, 0])
    assert "accuracy = 0.6667" in format_report(m)


def test_class_weights_favour_rare_classes():
    w = class_weights(np.array([0] * 90 + [1] * 10 + [2] * 30 + [3] * 30 + [4] * 30 + [5] * 30 + [6] * 30))
    assert w[1] > w[2] > w[0] and np.mean(list(w.values())) == pytest.approx(1)
    assert set(class_weights(np.arange(7), power=0).values()) == {1.0}


@pytest.mark.parametrize("build", [build_baseline_cnn, build_vgg_bn])
def test_builders_return_probabilities(build):
    model = build()
    p = keras.ops.convert_to_numpy(model(np.random.default_rng(0).uniform(0, 255, (3, 48, 48, 1)).astype("float32")))
    assert p.shape == (3, 7) and np.allclose(p.sum(axis=1), 1, atol=1e-5)


def test_predict_proba_averages_the_test_time_views():
    model = build_vgg_bn(widths=(4, 4, 4, 4), depths=(1, 1, 1, 1))
    faces = np.random.default_rng(1).integers(0, 255, (5, 48, 48)).astype("uint8")
    views = tta_views(faces[..., None].astype("float32"))
    assert len(views) == 4 and np.array_equal(views[1][..., 0], faces[:, :, ::-1])
    assert np.array_equal(views[3], views[2][:, :, ::-1]) and not np.array_equal(views[2], views[0])
    each = [predict_proba(model, v, tta=False) for v in views]
    assert np.allclose(predict_proba(model, faces, batch_size=2), np.mean(each, axis=0), atol=1e-6)
    assert predict_proba(model, np.zeros((2, 96, 96), "uint8")).shape == (2, 7)  # resized to 48x48


def test_a_cropping_model_sees_only_its_window_and_ten_crops_move_each_crop_into_it():
    model = build_vgg_bn(widths=(4, 4, 4, 4), depths=(1, 1, 1, 1), crop=44)
    x = np.random.default_rng(2).uniform(0, 255, (3, 48, 48, 1)).astype("float32")
    border = x.copy()
    border[:, :2] = border[:, -2:] = 0  # pixels outside the central 44x44 window changed
    border[:, :, :2] = border[:, :, -2:] = 255
    assert model.input_shape[1:] == (48, 48, 1)
    assert np.allclose(predict_proba(model, x, tta=False), predict_proba(model, border, tta=False), atol=1e-6)

    views = ten_crop_views(x)
    window = [v[:, 2:46, 2:46] for v in views]  # what the model sees of each view
    crops = [x[:, :44, :44], x[:, :44, 4:], x[:, 4:, :44], x[:, 4:, 4:], x[:, 2:46, 2:46]]
    assert len(views) == 10 and all(v.shape == x.shape for v in views)
    for seen, crop, mirrored in zip(window, crops, window[5:]):
        assert np.array_equal(seen, crop) and np.array_equal(mirrored, crop[:, :, ::-1])
    each = [predict_proba(model, v, tta=False) for v in views]
    assert np.allclose(predict_proba(model, x, views=ten_crop_views), np.mean(each, axis=0), atol=1e-6)
    with pytest.raises(ValueError, match="even margin"):
        ten_crop_views(x, crop=45)


def test_load_model_errors(tmp_path):
    with pytest.raises(ModelError, match="not found.*python -m fer_utils train"):
        load_model(tmp_path / "missing.keras")
    (tmp_path / "junk.keras").write_bytes(b"this is not a model")
    with pytest.raises(ModelError, match="could not load model .*junk.keras"):
        load_model(tmp_path / "junk.keras")
    wrong = keras.Sequential([keras.Input((48, 48, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    wrong.save(tmp_path / "wrong.keras")
    with pytest.raises(ModelError, match=r"takes input \(48, 48, 3\) and returns \(10,\)"):
        load_model(tmp_path / "wrong.keras")


def test_legacy_h5_model_loads(tmp_path):
    model = build_baseline_cnn(dense_units=8)
    model.save(tmp_path / "old.h5")
    loaded = load_model(tmp_path / "old.h5")
    x = np.full((1, 48, 48, 1), 100, "float32")
    assert np.allclose(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), atol=1e-6)


class StopAfter(keras.callbacks.Callback):
    """Simulates an interruption (Ctrl-C, a killed job) at the end of an epoch."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def tiny_net():
    return build_vgg_bn(widths=(4, 8, 8, 8), depths=(1, 1, 1, 1))


def interrupted_run(run_dir):
    """A 3-epoch run on the sample, interrupted after its 2nd epoch; the keyword arguments that resume it."""
    data = load_fer2013(SAMPLE_PATH)
    kwargs = dict(train_split=data["Training"], val_split=data["PublicTest"], run_dir=run_dir, epochs=3,
                  batch_size=64, verbose=0)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_net, callbacks=[StopAfter(1)], **kwargs)
    assert read_history(run_dir / "history.csv")["epoch"] == [0, 1]
    return kwargs


def test_training_resumes_after_interruption(tmp_path):
    kwargs = interrupted_run(tmp_path)
    model = train(tiny_net, **kwargs)
    history = read_history(tmp_path / "history.csv")
    assert history["epoch"] == [0, 1, 2]  # only the missing epoch ran
    assert (tmp_path / "best.keras").exists() and model.output_shape == (None, 7)


def test_a_run_resumed_from_its_backup_alone_still_writes_a_best_model(tmp_path):
    kwargs = interrupted_run(tmp_path)
    (tmp_path / "best.keras").unlink()  # carried on with backup/ and history.csv only,
    history = tmp_path / "history.csv"  # and epochs already run that scored more than any still to run can
    write_rows(history, [{**row, "val_accuracy": "1.0"} for row in read_rows(history)])
    model = train(tiny_net, **kwargs)
    assert read_history(tmp_path / "history.csv")["epoch"] == [0, 1, 2]
    assert (tmp_path / "best.keras").exists() and model.output_shape == (None, 7)


def test_train_and_evaluate_commands(tmp_path, run_cli):
    out = tmp_path / "m.keras"
    r = run_cli("train", "--data", str(SAMPLE_PATH), "--out", str(out), "--epochs", "1", "--arch", "baseline",
                "--run-dir", str(tmp_path / "run"))
    assert r.returncode == 0, r.stderr
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["architecture"] == "baseline" and card["epochs_run"] == 1
    assert set(card["metrics"]) == {"PublicTest", "PrivateTest"}
    assert "--epochs 1" in card["command"] and card["versions"]["keras"] == keras.__version__
    assert (tmp_path / "m_history.csv").exists()

    r = run_cli("evaluate", "--model", str(out), "--data", str(SAMPLE_PATH), "--split", "PrivateTest", "--json")
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout)
    assert {"accuracy", "macro_f1", "per_class", "confusion_matrix", "n"} <= set(metrics)
    assert {"dedup_accuracy", "dedup_macro_f1", "n_dedup", "n_duplicates"} <= set(metrics)
    assert metrics["n_dedup"] + metrics["n_duplicates"] == metrics["n"]
    assert metrics["n"] == 49 and metrics == card["metrics"]["PrivateTest"]

    r = run_cli("evaluate", "--model", str(out), "--data", str(SAMPLE_PATH), "--split", "PublicTest", "--write-card")
    assert r.returncode == 0, r.stderr
    card = json.loads(out.with_suffix(".json").read_text())
    assert "--write-card" in card["evaluation_command"] and card["metrics"]["PublicTest"]["n"] == 49

    r = run_cli("evaluate", "--model", str(tmp_path / "none.keras"), "--data", str(SAMPLE_PATH))
    assert r.returncode == 2 and "error: model file" in r.stderr and "Traceback" not in r.stderr


def test_train_weighs_rare_classes_only_when_asked(tmp_path, monkeypatch, capsys):
    from fer_utils import cli
    from fer_utils.data import EMOTIONS

    passed = []  # the class weights each `fit` was given
    real_fit = keras.Model.fit
    monkeypatch.setattr(keras.Model, "fit", lambda self, *a, **kw: passed.append(kw.get("class_weight"))
                        or real_fit(self, *a, **kw))
    base = ["train", "--data", str(SAMPLE_PATH), "--epochs", "1", "--arch", "baseline", "--batch-size", "64"]
    assert cli.main([*base, "--out", str(tmp_path / "a.keras"), "--class-weight-power", "1.5"]) == 2
    assert "--class-weight-power must be between 0 and 1, got 1.5" in capsys.readouterr().err and not passed

    out = tmp_path / "b.keras"
    assert cli.main([*base, "--out", str(out), "--run-dir", str(tmp_path / "run"), "--class-weight-power", "0.5"]) == 0
    labels = load_fer2013(SAMPLE_PATH)["Training"].labels
    assert passed == [pytest.approx(class_weights(labels, 0.5))]
    hyper = json.loads(out.with_suffix(".json").read_text())["hyperparameters"]
    assert hyper["class_weight_power"] == 0.5  # and the weights, by class name (the sample's classes are balanced)
    assert hyper["class_weights"] == {EMOTIONS[c]: pytest.approx(w, abs=1e-3) for c, w in class_weights(labels, 0.5).items()}

    assert cli.main([*base, "--out", str(tmp_path / "c.keras"), "--run-dir", str(tmp_path / "run_c")]) == 0
    assert passed[-1] is None  # off by default
    assert "class_weights" not in json.loads((tmp_path / "c.json").read_text())["hyperparameters"]


def test_mistakes_feature_maps_and_grad_cam():
    from fer_utils.evaluation import feature_maps, grad_cam, last_conv_layer, most_confident_mistakes

    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    assert most_confident_mistakes(probs, np.array([1, 1, 1, 0]), k=5).tolist() == [0, 3, 2]
    model = tiny_net()
    faces = np.random.default_rng(0).integers(0, 255, (2, 48, 48)).astype("uint8")
    assert last_conv_layer(model) == "relu4_1"
    maps = feature_maps(model, faces, ["relu1_1", "relu4_1"])
    assert [m.shape for m in maps] == [(2, 48, 48, 4), (2, 6, 6, 8)]
    cams = grad_cam(model, faces, np.array([3, 5]))
    assert cams.shape == (2, 48, 48) and cams.min() >= 0 and cams.max() <= 1


def test_grad_cam_scores_the_logits():
    """Grad-CAM differentiates the class logit, the pre-softmax score: softmax of what `logit_probe`
    returns is the model's output, for the functional and the Sequential builder."""
    from fer_utils.evaluation import grad_cam, last_conv_layer, logit_probe

    faces = np.random.default_rng(1).integers(0, 255, (3, 48, 48)).astype("float32")
    keras.utils.set_random_seed(0)
    for model in (tiny_net(), build_baseline_cnn(dense_units=16)):
        maps, logits = logit_probe(model, last_conv_layer(model))(faces[..., None])
        logits = np.asarray(logits)
        softmax = np.exp(logits - logits.max(1, keepdims=True))
        softmax /= softmax.sum(1, keepdims=True)
        np.testing.assert_allclose(softmax, np.asarray(model(faces[..., None], training=False)), atol=1e-5)
        assert np.asarray(maps).ndim == 4 and grad_cam(model, faces, np.array([0, 3, 6])).shape == (3, 48, 48)
    # a saturated softmax (probabilities exactly 0 and 1) has zero gradient; the logit still has one
    model = tiny_net()
    kernel, bias = model.layers[-1].get_weights()
    model.layers[-1].set_weights([kernel * 1e4, bias])
    probs = np.asarray(model(faces[..., None], training=False))
    assert set(np.unique(probs)) <= {0.0, 1.0}
    assert grad_cam(model, faces, probs.argmax(1)).max() > 0
