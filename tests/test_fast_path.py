"""The fast inference path (a TFLite copy of the Keras model, tied to it by hashes in the model card)
and face tracking for video."""
import json

import cv2
import numpy as np
import pytest

from fer_utils.data import PROJECT_ROOT
from fer_utils.pipeline import VIDEO_DETECT_EVERY, EmotionDetector
from fer_utils.detection import HaarFaceDetector
from fer_utils.tracking import FaceTracker
from fer_utils.images import read_image, to_gray
from fer_utils.models import build_vgg_bn, export_fast_model
from fer_utils.inference import TFLiteModel, fast_model_problem, load_inference_model, predict_proba


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    path = tmp_path_factory.mktemp("fast") / "tiny.keras"
    model = build_vgg_bn(widths=(4, 8, 8, 8), depths=(1, 1, 1, 1))
    model.save(path)
    export_fast_model(model, path)
    return model, path


def test_export_writes_the_tflite_file_and_its_hashes(exported):
    _, path = exported
    record = json.loads(path.with_suffix(".json").read_text())["fast_model"]
    assert record["file"] == "tiny.tflite" and path.with_suffix(".tflite").is_file()
    assert len(record["sha256"]) == len(record["keras_sha256"]) == 64
    assert fast_model_problem(path) is None


def test_fast_model_gives_the_keras_probabilities(exported):
    model, path = exported
    fast = load_inference_model(path)
    assert isinstance(fast, TFLiteModel) and fast.input_shape == (None, 48, 48, 1)
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48)).astype("float32")
    for tta in (False, True):
        np.testing.assert_allclose(predict_proba(fast, faces, tta=tta), predict_proba(model, faces, tta=tta),
                                   atol=1e-5)
    assert isinstance(load_inference_model(path, fast=False), type(model))  # the flag that compares the two


def test_stale_or_missing_fast_file_falls_back_to_keras_with_one_warning(exported, tmp_path):
    model, path = exported
    stale = tmp_path / "tiny.keras"
    build_vgg_bn(widths=(4, 8, 8, 8), depths=(1, 1, 1, 1)).save(stale)  # other weights
    for suffix in (".tflite", ".json"):
        stale.with_suffix(suffix).write_bytes(path.with_suffix(suffix).read_bytes())
    with pytest.warns(UserWarning, match="stale") as record:
        loaded = load_inference_model(stale)
    assert len(record) == 1 and not isinstance(loaded, TFLiteModel)
    assert "python -m fer_utils export" in str(record[0].message)
    stale.with_suffix(".tflite").unlink()
    with pytest.warns(UserWarning, match="missing"):
        assert not isinstance(load_inference_model(stale), TFLiteModel)


def test_shipped_fast_model_matches_the_shipped_weights():
    shipped = PROJECT_ROOT / "models" / "fer_vgg_bn.keras"
    assert fast_model_problem(shipped) is None
    assert shipped.stat().st_size <= 5_000_000  # saved without the optimizer state


def clip_frames():
    cap = cv2.VideoCapture(str(PROJECT_ROOT / "data" / "images" / "demo_faces.mp4"))
    frames = []
    while (frame := cap.read())[0]:
        frames.append(frame[1])
    return frames


class CountingDetector(HaarFaceDetector):
    calls = 0

    def detect(self, gray):
        self.calls += 1
        return super().detect(gray)


def test_tracking_finds_the_face_in_every_frame_with_few_full_detections():
    frames = [to_gray(f) for f in clip_frames()]
    full = HaarFaceDetector()
    tracker = FaceTracker(CountingDetector(), full_every=10)
    found_full = sum(len(full.detect(g)) > 0 for g in frames)
    found_tracked = sum(len(tracker.detect(g)) > 0 for g in frames)
    assert found_tracked >= found_full >= 0.9 * len(frames)
    assert tracker.detector.calls <= len(frames) // 2  # most frames searched only near the last box


def test_a_face_entering_the_frame_is_found_within_full_every_frames():
    face = to_gray(cv2.resize(read_image(PROJECT_ROOT / "data" / "images" / "grace_hopper.jpg"), (180, 220)))
    one = np.full((480, 640), 90, np.uint8)
    one[120:340, 30:210] = face
    two = one.copy()
    two[120:340, 420:600] = face  # a second person steps in while the first is tracked
    tracker = FaceTracker(full_every=5)
    assert len(tracker.detect(one)) == 1
    counts = [len(tracker.detect(two)) for _ in range(5)]
    assert counts[0] == 1  # between full detections only the known face is searched for...
    assert 2 in counts     # ...and the newcomer is found within full_every frames


def test_video_detector_tracks_and_smooths(exported):
    _, path = exported
    assert EmotionDetector.for_video(path).tracker is None  # the CNN detector is not tracked
    det = EmotionDetector.for_video(path, detector="haar")  # the Haar cascade is followed between detections
    assert isinstance(det.model, TFLiteModel) and det.tracker is not None and det.tta == "cycle"
    results = [det(f) for f in clip_frames()[:12]]
    assert sum(bool(r) for r in results) >= 11
    det.reset()
    assert len(det.tracker._boxes) == 0


def test_the_video_detector_runs_the_cnn_on_every_second_frame_and_reuses_its_faces_between(exported):
    _, path = exported
    det = EmotionDetector.for_video(path)
    assert det.detect_every == VIDEO_DETECT_EVERY == 2
    calls = []
    detect = det.face_detector.detect_faces
    det.face_detector.detect_faces = lambda gray: calls.append(1) or detect(gray)
    frames = clip_frames()[:6]
    boxes = [[r.box for r in det(f)] for f in frames]
    assert len(calls) == 3  # frames 0, 2 and 4
    assert boxes[1] == boxes[0] and boxes[3] == boxes[2] and boxes[0]  # the frame between keeps the faces found
    det.reset()  # a new video starts with a detection
    det(frames[5])
    assert len(calls) == 4
    assert EmotionDetector(path).detect_every == 1  # photos: every frame is detected
    with pytest.raises(ValueError):
        EmotionDetector(path, detector="haar", tracking=5, detect_every=2)


def test_cycling_views_average_to_the_four_view_answer_on_a_still_face(exported):
    _, path = exported
    frame = read_image(PROJECT_ROOT / "data" / "images" / "grace_hopper.jpg")
    photo = EmotionDetector(path)(frame)[0].probabilities                 # the 4 views at once
    video = EmotionDetector.for_video(path, smoothing=0.0, tracking=0)    # one view per frame, in turn
    outputs = [video(frame)[0].probabilities for _ in range(6)]
    for later in outputs[3:]:  # from the 4th frame on, every output has seen all 4 views
        np.testing.assert_allclose([later[e] for e in photo], list(photo.values()), atol=1e-5)
    assert outputs[0] != outputs[3]  # the first frames have seen fewer views
