"""Face pipeline: detection on real photos, any input format, batched classification, smoothing,
drawing, the live widget's kernel side, and the predict/bench commands."""
import json

import cv2
import numpy as np
import pytest

from fer_utils.data import EMOTIONS, PROJECT_ROOT
from fer_utils.pipeline import EmotionDetector, crop_aligned
from fer_utils.detection import HaarFaceDetector
from fer_utils.images import ImageError, read_image, to_gray
from fer_utils.drawing import draw_results
from fer_utils.features import facial_features
from fer_utils.live import LiveEmotionWidget, annotate_jpeg, decode_jpeg, encode_jpeg
from fer_utils.models import build_vgg_bn

IMAGES = PROJECT_ROOT / "data" / "images"


@pytest.fixture(scope="module")
def detector():
    return EmotionDetector(model=build_vgg_bn(widths=(4, 8, 8, 8), depths=(1, 1, 1, 1)))


@pytest.fixture(scope="module")
def hopper():
    return read_image(IMAGES / "grace_hopper.jpg")


def test_to_gray_accepts_every_layout(hopper):
    gray = to_gray(hopper)
    rgb = hopper[:, :, ::-1]
    assert gray.shape == hopper.shape[:2] and gray.dtype == np.uint8
    assert np.array_equal(to_gray(rgb, "rgb"), gray)
    assert np.array_equal(to_gray(cv2.cvtColor(hopper, cv2.COLOR_BGR2BGRA)), gray)
    assert np.array_equal(to_gray(gray[:, :, None]), gray)
    assert np.abs(to_gray(hopper.astype(np.float32) / 255).astype(int) - gray).max() <= 1
    with pytest.raises(ImageError, match=r"shape"):
        to_gray(np.zeros((4, 4, 2), np.uint8))


@pytest.mark.parametrize("name", ["grace_hopper.jpg", "astronaut.jpg"])
def test_exactly_one_face_in_each_portrait(name):
    boxes = HaarFaceDetector().detect(to_gray(read_image(IMAGES / name)))
    assert len(boxes) == 1


def test_huge_frames_are_downscaled_and_boxes_mapped_back(hopper):
    small = HaarFaceDetector().detect(to_gray(hopper))[0]
    big = HaarFaceDetector().detect(to_gray(cv2.resize(hopper, None, fx=6, fy=6)))
    assert len(big) == 1
    assert np.allclose(big[0], small * 6, atol=0.1 * small[2] * 6)


def test_no_face_in_a_blank_frame(detector):
    assert detector(np.full((480, 640, 3), 127, np.uint8)) == []


def test_two_faces_classified_in_one_batch(detector):
    pair = np.hstack([cv2.resize(read_image(IMAGES / n), (400, 460)) for n in ("grace_hopper.jpg", "astronaut.jpg")])
    results = detector(pair)
    assert len(results) == 2
    for r in results:
        assert set(r.probabilities) == set(EMOTIONS) and sum(r.probabilities.values()) == pytest.approx(1, abs=1e-4)
        assert r.emotion == max(r.probabilities, key=r.probabilities.get)
        assert set(r.to_json()) == {"box", "emotion", "probabilities", "keypoints"}  # the CNN detector's 6 points
        assert set(r.to_json()["keypoints"]) == {"right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear"}


def test_smoothing_blends_with_the_previous_frame(hopper):
    det = EmotionDetector(model=build_vgg_bn(widths=(4, 8, 8, 8), depths=(1, 1, 1, 1)), smoothing=0.5)
    first = det(hopper)[0]
    darker = (hopper * 0.6).astype(np.uint8)
    gray = to_gray(darker)
    raw = det.classify(crop_aligned(gray, det.find_faces(gray), expand=det.expand, align=det.align))[0]
    second = det(darker)[0]
    expected = 0.5 * np.array([first.probabilities[e] for e in EMOTIONS]) + 0.5 * raw
    assert np.allclose([second.probabilities[e] for e in EMOTIONS], expected, atol=1e-5)


def test_facial_features_lie_inside_the_face(hopper):
    gray = to_gray(hopper)
    x, y, w, h = HaarFaceDetector().detect(gray)[0]
    feats = facial_features(gray, (x, y, w, h))
    assert len(feats["eyes"]) >= 1 and len(feats["smile"]) >= 1
    for fx, fy, fw, fh in np.concatenate([feats["eyes"], feats["smile"]]):
        assert x <= fx and fx + fw <= x + w and y <= fy and fy + fh <= y + h


def test_draw_results_annotates_a_copy(detector, hopper):
    results = detector(hopper)
    out = draw_results(hopper, results)
    assert out.shape == hopper.shape and not np.array_equal(out, hopper)
    assert draw_results(to_gray(hopper), results).shape == hopper.shape  # grey in, BGR out


def test_read_image_errors(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        read_image(tmp_path / "missing.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(ImageError, match="not a readable image"):
        read_image(tmp_path / "broken.jpg")


def test_live_widget_kernel_side(detector, hopper):
    small = np.full((240, 320, 3), 90, np.uint8)
    small[:, 58:263] = cv2.resize(hopper, (205, 240))  # a 320x240 camera frame
    jpeg, results = annotate_jpeg(detector, encode_jpeg(small))
    assert decode_jpeg(jpeg).shape == (240, 320, 3) and len(results) == 1
    with pytest.raises(ImageError, match="not a JPEG"):
        decode_jpeg(b"garbage")

    widget = LiveEmotionWidget(detector)
    sent = []
    widget.send = lambda content, buffers=None: sent.append((content, buffers))
    widget._on_frame(widget, {"type": "frame", "browser_ms": 6.0, "seq": 7}, [memoryview(encode_jpeg(small))])
    widget._on_frame(widget, {"type": "frame", "browser_ms": 4.0, "seq": 8}, [b"junk"])
    assert sent[0][0]["type"] == "result" and len(sent[0][0]["faces"]) == 1 and len(sent[0][1]) == 1
    assert sent[1][0]["type"] == "error"
    assert [m["seq"] for m, _ in sent] == [7, 8]  # each answer names its frame: the widget ignores late ones
    assert widget.stats["frames"] == 1 and widget.stats["faces"] == 1 and widget.stats["errors"] == 1
    timing = widget.timing()  # where the time goes: the browser's side and the kernel's, per annotated frame
    assert timing["browser_ms_mean"] == 6.0 and timing["kernel_ms_mean"] > 0


def test_predict_command_on_photos_video_and_junk(tmp_path, run_cli):
    junk = tmp_path / "notes.txt"
    junk.write_text("not an image")
    r = run_cli("predict", str(IMAGES / "grace_hopper.jpg"), str(junk), str(IMAGES / "astronaut.jpg"),
                str(IMAGES / "demo_faces.mp4"), "--json", "--out", str(tmp_path / "out"))
    assert r.returncode == 1  # one input failed, the others were processed
    assert "notes.txt is not a readable image" in r.stderr and "Traceback" not in r.stderr
    hopper, astronaut, video = [json.loads(line) for line in r.stdout.splitlines()]
    for result in (hopper, astronaut):
        assert len(result["faces"]) == 1 and result["faces"][0]["emotion"] in EMOTIONS
    assert len(video["frames"]) == 48 and sum(len(f) == 1 for f in video["frames"]) >= 40
    assert (tmp_path / "out" / "grace_hopper_annotated.png").exists()
    assert cv2.VideoCapture(str(tmp_path / "out" / "demo_faces_annotated.mp4")).read()[0]


def test_bench_command_json(run_cli):
    r = run_cli("bench", "--frames", "5", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert {"video", "photo", "hardware", "peer_fer_ms_median", "speedup_vs_fer"} <= set(report)
    from fer_utils.timing import cpu_description

    assert report["hardware"] == cpu_description() and report["model"] == "TFLiteModel"  # the fast path, CPU named
    for path in ("video", "photo"):
        assert report[path]["faces"] == 1 and report[path]["frame_ms_median"] > 0
    assert any("face detection (cnn)" in stage for stage in report["video"]["stages"])  # the default detector
