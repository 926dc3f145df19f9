"""Bad input, as a new user meets it: every case gets a one-line error that names the problem and the fix,
no traceback, and the other inputs of the same call are still processed (issue 9). Every broken input
is built here."""
import gzip
import json
import tracemalloc

import cv2
import numpy as np
import pytest

from fer_utils import cli
from fer_utils.predict import plan_outputs, write_image
from fer_utils.files import atomic_write
from fer_utils.data import EMOTIONS, PROJECT_ROOT, SAMPLE_PATH, DatasetError, load_fer2013
from fer_utils.images import MAX_PIXELS_ENV, ImageError, declared_size, decode_image, read_image
from fer_utils.live import LiveEmotionWidget, decode_jpeg, encode_jpeg

IMAGES = PROJECT_ROOT / "data" / "images"
HOPPER = IMAGES / "grace_hopper.jpg"
N_PIXELS = 48 * 48


def write_csv(path, rows, newline="\n", bom=False, gz=False):
    """A FER-2013-style CSV of (label, pixel string, usage) rows."""
    text = newline.join(["emotion,pixels,Usage", *(f"{e},{p},{u}" for e, p, u in rows)]) + newline
    data = ("\ufeff" if bom else "") + text
    path.write_bytes(gzip.compress(data.encode()) if gz else data.encode())
    return path


def pixels(value=0, sep=" "):
    return sep.join([str(value)] * N_PIXELS)


def sample_rows(n=21):
    return [(i % 7, pixels(i % 256), ("Training", "PublicTest", "PrivateTest")[i % 3]) for i in range(n)]


# --- data -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_csv_with_byte_order_mark_and_crlf_is_read(tmp_path, newline, gz):
    plain = load_fer2013(write_csv(tmp_path / "plain.csv", sample_rows()))
    excel = load_fer2013(write_csv(tmp_path / "excel.csv", sample_rows(), newline=newline, bom=True, gz=gz))
    assert excel.counts() == plain.counts()
    for split in plain.splits:
        assert np.array_equal(excel[split].images, plain[split].images)


@pytest.mark.parametrize("bad", ["abc", "12.5", "-3"])
@pytest.mark.parametrize("line", [3, 400])  # in the checked head of the file, and after its first 1 MB
def test_non_integer_pixel_names_file_line_and_fix(tmp_path, bad, line):
    rows = sample_rows(450)
    values = pixels(7).split()
    values[4] = bad
    rows[line - 2] = (0, " ".join(values), "Training")
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(DatasetError) as e:
        load_fer2013(path)
    assert f"bad.csv, line {line}: pixel 5 is '{bad}', not a whole number 0-255" in str(e.value)
    assert "Correct or delete that line" in str(e.value)


def test_repeated_spaces_between_pixels_are_one_separator(tmp_path):
    rows = [(3, " " + pixels(9, sep="  ") + " ", "Training"), (4, pixels(200, sep=" \t "), "PublicTest")]
    data = load_fer2013(write_csv(tmp_path / "spaces.csv", rows))
    assert data["Training"].images.shape == (1, 48, 48) and (data["Training"].images == 9).all()
    assert (data["PublicTest"].images == 200).all()


def test_a_big_file_that_is_not_fer2013_is_refused_from_its_head(tmp_path):
    sparse = tmp_path / "fer2013.csv"  # 1 GB of zero bytes, no line break (sparse: costs no disk)
    with open(sparse, "wb") as f:
        f.truncate(1 << 30)
    junk_rows = tmp_path / "other.csv"  # a right header, then 30 MB of rows that are not FER-2013
    junk_rows.write_text("emotion,pixels,Usage\n" + ("1,2,3,4,5,6,7,8\n" * 2_000_000))
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match=r"fer2013.csv: its first 1 MB hold no line break, so it is not a CSV"):
            load_fer2013(sparse)
        with pytest.raises(DatasetError, match=r"other.csv, line 2: unknown Usage '3'"):
            load_fer2013(junk_rows)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6  # neither file was read whole


def build_image_folder(root):
    """An image-folder copy with 3 good faces, a file that is not an image and a truncated JPEG."""
    face = cv2.resize(cv2.imread(str(HOPPER), cv2.IMREAD_GRAYSCALE), (48, 48))
    for split, emotion, name in (("train", "happy", "a.png"), ("train", "sad", "b.png"), ("test", "angry", "c.png")):
        (root / split / emotion).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / split / emotion / name), face)
    (root / "train" / "sad" / "broken.jpg").write_bytes(b"these bytes are not an image")
    jpeg = HOPPER.read_bytes()
    (root / "test" / "angry" / "cut.jpg").write_bytes(jpeg[:len(jpeg) // 3])
    return root


def test_image_folder_with_corrupt_images_names_them_or_skips_them(tmp_path):
    root = build_image_folder(tmp_path / "fer2013")
    with pytest.raises(DatasetError) as e:
        load_fer2013(root)
    message = str(e.value)
    assert message.startswith("2 unreadable image(s)") and "--skip-corrupt" in message
    assert "broken.jpg is not a readable image" in message and "cut.jpg is truncated" in message
    data = load_fer2013(root, skip_corrupt=True)
    assert sorted(p.name for p in data.skipped) == ["broken.jpg", "cut.jpg"]
    assert sum(len(s) for s in data.splits.values()) == 3


def test_data_summary_command_skip_corrupt_flag(tmp_path, run_cli):
    root = build_image_folder(tmp_path / "fer2013")
    refused = run_cli("data", "summary", "--data", str(root), "--json")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "error: 2 unreadable image(s)" in refused.stderr and "cut.jpg is truncated" in refused.stderr
    skipped = run_cli("data", "summary", "--data", str(root), "--json", "--skip-corrupt")
    assert skipped.returncode == 0 and "Traceback" not in skipped.stderr
    assert "skipped 2 unreadable image(s) (--skip-corrupt)" in skipped.stderr
    assert json.loads(skipped.stdout)["total"] == 3


# --- images -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp", ".ppm"])
def test_declared_size_reads_the_header(ext):
    image = np.zeros((37, 81, 3), np.uint8)
    data = cv2.imencode(ext, image)[1].tobytes()
    assert declared_size(data) == (81, 37)
    assert decode_image(data, "x").shape == (37, 81, 3)


def test_truncated_and_oversized_images_are_refused_before_decoding(tmp_path, monkeypatch, hostile):
    jpeg = HOPPER.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(jpeg[:len(jpeg) // 3])
    with pytest.raises(ImageError, match=r"cut.jpg is truncated: its JPEG data ends early"):
        read_image(tmp_path / "cut.jpg")
    png = cv2.imencode(".png", read_image(HOPPER))[1].tobytes()
    with pytest.raises(ImageError, match=r"is truncated: its PNG data ends early"):
        decode_image(png[:len(png) // 2], "half.png")
    for name, data in (("bomb.png", hostile.png_declaring(50_000, 50_000)), ("bomb.jpg", hostile.jpeg_declaring(60_000, 60_000))):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ImageError, match=rf"{name} is \d+x\d+ pixels \(\d+ megapixels\), over the limit of 50 "
                                             rf"megapixels, and was not decoded.*{MAX_PIXELS_ENV}"):
            read_image(tmp_path / name)
    monkeypatch.setenv(MAX_PIXELS_ENV, "100000")  # the setting: hopper (512x600) is now too large
    with pytest.raises(ImageError, match="over the limit of 0.1 megapixels"):
        read_image(HOPPER)
    monkeypatch.setenv(MAX_PIXELS_ENV, "lots")
    with pytest.raises(ValueError, match=f"{MAX_PIXELS_ENV}='lots' is not a positive whole number"):
        read_image(HOPPER)
    with pytest.raises(ImageError, match="is a folder, not an image"):
        read_image(tmp_path)


def test_decode_jpeg_refuses_empty_bombs_and_truncated_frames(hostile):
    jpeg = HOPPER.read_bytes()
    for data, message in ((b"", r"\(0 bytes\) is empty"), (hostile.png_declaring(30_000, 30_000), "over the limit"),
                          (jpeg[:len(jpeg) // 3], "truncated")):
        with pytest.raises(ImageError, match=message):
            decode_jpeg(data)


class FlakyDetector:
    """A detector that finds no face, or fails with an unexpected error when told to."""

    fail = False

    def describe_output(self):  # what the widget shows under its bars (EmotionDetector.describe_output)
        return "a test detector"

    def __call__(self, frame):
        if self.fail:
            raise RuntimeError("out of memory")
        return []


def test_live_widget_replies_to_every_failed_frame_and_keeps_going(hostile):
    detector = FlakyDetector()
    widget = LiveEmotionWidget(detector)
    sent = []
    widget.send = lambda content, buffers=None: sent.append(content)
    good = encode_jpeg(cv2.resize(read_image(HOPPER), (320, 240)))
    for frame in (b"", hostile.png_declaring(50_000, 50_000), good[:len(good) // 3]):
        widget._on_frame(widget, {"type": "frame"}, [frame])
    detector.fail = True
    widget._on_frame(widget, {"type": "frame"}, [good])
    detector.fail = False
    widget._on_frame(widget, {"type": "frame"}, [good])
    assert [m["type"] for m in sent] == ["error"] * 4 + ["result"]
    assert "empty" in sent[0]["message"] and "over the limit" in sent[1]["message"]
    assert "truncated" in sent[2]["message"] and "RuntimeError: out of memory" in sent[3]["message"]
    assert widget.stats["errors"] == 4 and widget.stats["frames"] == 1


# --- predict ----------------------------------------------------------------------------------------

def test_plan_outputs_checks_out_before_work(tmp_path):
    for inputs, out, message in ((["a.jpg"], tmp_path / "nowhere" / "a.png", "the folder .*nowhere does not exist"),
                                 (["clip.mp4"], tmp_path / "nowhere" / "a.mp4", "does not exist"),
                                 (["a.jpg"], tmp_path / "a.txt", r"\.txt is not an image format"),
                                 (["clip.mp4"], tmp_path / "clip.avi", r"written as \.mp4, not \.avi"),
                                 (["a.jpg"], tmp_path / "annotated", "has no extension and is not a folder"),
                                 (["a.jpg", "b.jpg"], HOPPER, "is a file name; with several inputs --out must be"),
                                 (["a.jpg", "b.jpg"], tmp_path / "both.png", "with several inputs --out must be")):
        with pytest.raises(ValueError, match=message):
            plan_outputs([str(i) for i in inputs], str(out))
    names = plan_outputs(["x/face.jpg", "y/face.jpg", "y/face.png", "y/Face.jpg", "clip.mp4"], str(tmp_path))
    assert [p.name for p in names] == ["face_annotated.png", "face_annotated_2.png", "face_annotated_3.png",
                                       "Face_annotated_4.png", "clip_annotated.mp4"]
    assert plan_outputs(["a.jpg"], None) == [None]


def test_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path):
    out = tmp_path / "a.png"
    out.write_bytes(b"previous result")

    def fails_halfway(tmp):
        tmp.write_bytes(b"half")
        raise OSError("disk full")
    with pytest.raises(OSError, match="disk full"):
        atomic_write(out, fails_halfway)
    assert out.read_bytes() == b"previous result" and [p.name for p in tmp_path.iterdir()] == ["a.png"]
    atomic_write(out, lambda tmp: write_image(tmp, np.zeros((4, 4, 3), np.uint8)))
    assert read_image(out).shape == (4, 4, 3) and [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_two_writers_of_one_output_never_tear_it(tmp_path):
    import threading

    out = tmp_path / "clip.mp4"
    both_writing = threading.Barrier(2)

    def writer(byte):
        def write(tmp):
            with open(tmp, "wb") as f:
                for k in range(20):
                    f.write(byte * 1000)
                    if k == 10:
                        both_writing.wait()  # the two writes interleave
        return lambda: atomic_write(out, write)
    threads = [threading.Thread(target=writer(b)) for b in (b"a", b"b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out.read_bytes() in (b"a" * 20_000, b"b" * 20_000) and [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_predict_goes_on_past_every_bad_input(tmp_path, run_cli, hostile):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "face.jpg").write_bytes(HOPPER.read_bytes())
    jpeg = HOPPER.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(jpeg[:len(jpeg) // 3])
    (tmp_path / "bomb30k.png").write_bytes(hostile.png_declaring(30_000, 30_000))
    (tmp_path / "bomb50k.png").write_bytes(hostile.png_declaring(50_000, 50_000))
    out = tmp_path / "out"
    inputs = [tmp_path / "a" / "face.jpg", tmp_path / "cut.jpg", tmp_path / "bomb30k.png", tmp_path / "bomb50k.png",
              tmp_path / "a", tmp_path / "missing.mp4", tmp_path / "b" / "face.jpg"]
    r = run_cli("predict", *map(str, inputs), "--out", str(out), "--json")
    assert r.returncode == 1 and "Traceback" not in r.stderr and "cv2.error" not in r.stderr
    errors = r.stderr.strip().splitlines()
    assert len(errors) == 5 and all(line.startswith("error: ") for line in errors), r.stderr
    assert "cut.jpg is truncated" in errors[0]
    assert "bomb30k.png is 30000x30000 pixels (900 megapixels), over the limit" in errors[1]
    assert "bomb50k.png is 50000x50000 pixels" in errors[2]
    assert f"{tmp_path / 'a'} is a folder, not an image" in errors[3]
    assert "missing.mp4: no such file" in errors[4]
    first, last = [json.loads(line) for line in r.stdout.splitlines()]
    assert first["path"].endswith("a/face.jpg") and last["path"].endswith("b/face.jpg")
    assert first["faces"][0]["emotion"] in EMOTIONS
    assert sorted(p.name for p in out.iterdir()) == ["face_annotated.png", "face_annotated_2.png"]


def test_commands_refuse_bad_arguments_before_work(tmp_path, run_cli):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    cases = [
        (("predict", str(HOPPER), "--out", str(tmp_path / "nowhere" / "x.png")), "nowhere does not exist"),
        (("predict", str(HOPPER), "--out", str(tmp_path / "x.txt")), ".txt is not an image format"),
        (("predict", str(HOPPER), "--out", str(tmp_path / "annotated")), "has no extension and is not a folder"),
        (("bench", "--frames", "0"), "--frames must be at least 1, got 0"),
        (("train", "--out", str(tmp_path / "m.h5")), "give a model file name ending in .keras"),
        (("train", "--out", "/dev/null"), "give a model file name ending in .keras"),
        (("train", "--out", str(tmp_path / "m.keras"), "--epochs", "0"), "--epochs must be at least 1, got 0"),
        (("train", "--out", str(blocker / "m.keras")), f"--out: cannot write in {blocker}"),
    ]
    for args, message in cases:
        r = run_cli(*args)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)
        assert r.stderr.startswith("error: ") and message in r.stderr, (args, r.stderr)
    assert not (tmp_path / "x.txt").exists() and not (tmp_path / "m.keras").exists()


# --- models and training ----------------------------------------------------------------------------

def test_model_files_that_cannot_serve_say_why(tmp_path):
    import os

    from fer_utils.backend import keras
    from fer_utils.models import load_model
    from fer_utils.inference import ModelError

    inputs = keras.Input((None, None, 1))
    keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(keras.layers.GlobalAveragePooling2D()(inputs))
                ).save(tmp_path / "any_size.keras")
    with pytest.raises(ModelError, match=r"takes input \(None, None, 1\), without a fixed height and width"):
        load_model(tmp_path / "any_size.keras")
    inputs = keras.Input((48, 48, 1))
    scaled = keras.layers.Lambda(lambda t: t / 255)(inputs)  # Python code inside the model file
    outputs = keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(scaled))
    for name in ("code.keras", "code.h5"):
        keras.Model(inputs, outputs).save(tmp_path / name)
        with pytest.raises(ModelError) as e:
            load_model(tmp_path / name)
        message = str(e.value)
        assert "contains Python code" in message and "was not run" in message and "trust" in message
        assert "corrupt" not in message and "Keras 2" not in message
    (tmp_path / "random.h5").write_bytes(os.urandom(4096))
    with pytest.raises(ModelError, match=r"random.h5: it is not an HDF5 file.*corrupt") as e:
        load_model(tmp_path / "random.h5")
    assert "Keras 2" not in str(e.value)


def test_a_finished_run_is_never_trained_again_and_a_failed_save_names_the_checkpoint(tmp_path, monkeypatch, capsys):
    import shutil

    from fer_utils import training
    from fer_utils.training import read_history

    models, run_dir = tmp_path / "models", tmp_path / "run"
    real_train = training.train

    def train_then_lose_the_out_folder(*args, **kwargs):
        model = real_train(*args, **kwargs)
        shutil.rmtree(models)
        models.write_text("the folder is gone: saving must fail")
        return model
    monkeypatch.setattr(training, "train", train_then_lose_the_out_folder)
    argv = ["train", "--data", str(SAMPLE_PATH), "--out", str(models / "m.keras"), "--epochs", "1",
            "--arch", "baseline", "--batch-size", "64", "--run-dir", str(run_dir)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "training finished, but" in err and f"the best model is in {run_dir / 'best.keras'}" in err
    assert (run_dir / "best.keras").exists()

    models.unlink()
    monkeypatch.setattr(training, "train", real_train)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"{run_dir} holds a finished run (1 epochs" in err and "--run-dir" in err and "delete" in err
    assert read_history(run_dir / "history.csv")["epoch"] == [0]  # one run's history, not two
    with pytest.raises(ValueError, match="holds a finished run"):
        real_train(lambda: None, None, None, run_dir, epochs=1)


@pytest.mark.parametrize("how", ["same path", "symlink", "dot-dot"])
def test_an_output_that_is_an_input_is_refused_and_the_input_kept(run_cli, tmp_path, how):
    photo = tmp_path / "face.jpg"
    photo.write_bytes(HOPPER.read_bytes())
    out = {"same path": photo, "symlink": tmp_path / "link.jpg", "dot-dot": tmp_path / "sub" / ".." / "face.jpg"}[how]
    if how == "symlink":
        out.symlink_to(photo)
    (tmp_path / "sub").mkdir()
    r = run_cli("predict", str(photo), "--out", str(out))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "is the input" in r.stderr and str(photo) in r.stderr
    assert photo.read_bytes() == HOPPER.read_bytes()


def test_live_refuses_to_write_over_the_video_it_plays(run_cli, tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes((PROJECT_ROOT / "data" / "images" / "demo_faces.mp4").read_bytes())
    r = run_cli("live", "--video", str(clip), "--out", str(clip))
    assert r.returncode == 2 and "is the input" in r.stderr and "Traceback" not in r.stderr
    assert clip.read_bytes() == (PROJECT_ROOT / "data" / "images" / "demo_faces.mp4").read_bytes()


@pytest.mark.parametrize("card", ["[]", '{"fast_model": null}', '{"fast_model": {"sha256": 5}}', "not json"])
def test_a_malformed_model_card_falls_back_with_one_warning(tmp_path, card):
    import shutil
    import warnings

    from fer_utils.inference import fast_model_problem, load_inference_model

    for suffix in (".keras", ".tflite"):
        shutil.copy(PROJECT_ROOT / "models" / f"fer_vgg_bn{suffix}", tmp_path / f"m{suffix}")
    (tmp_path / "m.json").write_text(card)
    assert "malformed" in fast_model_problem(tmp_path / "m.keras")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = load_inference_model(tmp_path / "m.keras")
    assert len(caught) == 1 and "using the slower Keras model" in str(caught[0].message)
    assert model.output_shape[-1] == len(EMOTIONS)


def test_a_keras_zip_bomb_is_refused_before_unpacking(tmp_path, monkeypatch):
    import subprocess
    import sys
    import zipfile

    from fer_utils import inference, models
    from fer_utils.inference import ModelError

    monkeypatch.setattr(inference, "MAX_MODEL_BYTES", 20_000_000)  # the real limit is 1 GiB; the same check
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("model.weights.h5", b"\0" * 30_000_000)  # 30 MB of zeros: about 30 KB compressed
    assert bomb.stat().st_size < 100_000
    with pytest.raises(ModelError, match="would unpack to 30 MB"):
        models.load_model(bomb)
    with pytest.raises(ModelError, match="would unpack to 30 MB"):
        inference.load_inference_model(bomb, fast=False)
    inference.check_keras_archive(PROJECT_ROOT / "models" / "fer_vgg_bn.keras")  # the shipped model passes
    # the inference path refuses it before TensorFlow is imported (seconds and hundreds of MB saved)
    code = ("import sys; from fer_utils import inference; inference.MAX_MODEL_BYTES = 20_000_000\n"
            "try:\n    inference.load_inference_model(sys.argv[1], fast=False)\n"
            "except inference.ModelError:\n    print('refused', 'tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(bomb)], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "refused False", done.stderr


def test_one_writer_per_run_folder(tmp_path):
    import subprocess
    import sys

    from fer_utils.files import FolderLock

    with FolderLock(tmp_path, "training run"):
        with pytest.raises(ValueError, match=r"in use by another training run \(process \d+, still running\)"):
            with FolderLock(tmp_path, "training run"):
                pass
    assert not (tmp_path / ".lock").exists()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / ".lock").write_text(f"{gone.stdout.strip()} 12345")  # a holder that has exited: a stale lock
    with FolderLock(tmp_path, "training run"):
        assert (tmp_path / ".lock").read_text().split()[0] == str(__import__("os").getpid())


def test_image_bombs_past_the_header_check_are_refused_by_the_decoder(tmp_path, run_cli):
    """A TIFF, and a JPEG with a junk byte before its frame header (so our header reader finds no size):
    the decoder's own pixel limit (set from FER_MAX_IMAGE_PIXELS when fer_utils is imported) refuses both
    before allocating 81 megapixels; the call goes on past them (rc 1) with one line each."""
    big = np.zeros((9000, 9000), np.uint8)
    tiff = tmp_path / "bomb.tif"
    assert cv2.imwrite(str(tiff), big)
    data = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 10])[1].tobytes()
    sof = data.index(b"\xff\xc0")
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(data[:sof] + b"\x00" + data[sof:])
    r = run_cli("predict", str(tiff), str(junk), str(HOPPER))
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2 and all("larger than the limit of 50 megapixels" in line or "not a readable image" in line
                                   or "could not be decoded" in line for line in lines), lines
    assert "bomb.tif is larger than the limit" in r.stderr
    assert "grace_hopper.jpg:" in r.stdout  # the good input after them was processed
