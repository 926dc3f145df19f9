"""Face detection: the CNN detector's anchors, decoding and suppression (checked by hand-made outputs), its
results on real photos, the Haar cascade's size limits, and one label for one face on every path."""
import json
import shutil

import cv2
import numpy as np
import pytest

from fer_utils import detection
from fer_utils.data import EMOTIONS, PROJECT_ROOT
from fer_utils.detection import (BLAZEFACE_MODELS, SMALL_FACES, CnnFaceDetector, HaarFaceDetector,
                                 blazeface_anchors, decode_blazeface, letterbox, make_detector, tile_windows,
                                 weighted_nms)
from fer_utils.images import read_image, to_gray
from fer_utils.pipeline import EmotionDetector, crop_aligned, eye_angle

IMAGES = PROJECT_ROOT / "data" / "images"


def test_anchors_are_the_centres_of_a_48_by_48_grid():
    anchors = blazeface_anchors()
    assert anchors.shape == (2304, 2)
    assert np.allclose(anchors[0], [0.5 / 48, 0.5 / 48]) and np.allclose(anchors[-1], [47.5 / 48, 47.5 / 48])
    assert np.allclose(anchors[1] - anchors[0], [1 / 48, 0])  # row-major: x changes first


def test_short_range_anchors_are_two_maps_with_several_anchors_per_cell():
    """896 anchors: a 16x16 map with 2 per cell, then an 8x8 map with 6 per cell, cell centres row by row."""
    anchors = blazeface_anchors(BLAZEFACE_MODELS["short_range"].grids)
    assert anchors.shape == (896, 2)
    assert np.allclose(anchors[0], anchors[1]) and np.allclose(anchors[0], [0.5 / 16, 0.5 / 16])
    assert np.allclose(anchors[2], [1.5 / 16, 0.5 / 16])  # the next cell to the right
    assert np.allclose(anchors[511], [15.5 / 16, 15.5 / 16])
    assert np.allclose(anchors[512:518], [0.5 / 8, 0.5 / 8]) and np.allclose(anchors[518], [1.5 / 8, 0.5 / 8])
    assert np.allclose(anchors[-1], [7.5 / 8, 7.5 / 8])


def test_decoding_places_the_box_and_keypoints_at_their_anchor():
    anchors = blazeface_anchors()
    regressors = np.zeros((1, 2304, 16), np.float32)
    logits = np.full((1, 2304, 1), -10.0, np.float32)
    k = 10 * 48 + 20  # the anchor at column 20, row 10
    regressors[0, k, :4] = [9.6, -19.2, 48, 24]  # centre offset (+0.05, -0.1) of 192 px, 0.25 x 0.125 big
    regressors[0, k, 4:6] = [19.2, 0]  # first keypoint 0.1 right of the anchor
    logits[0, k] = 2.0
    boxes, scores, keypoints = decode_blazeface(regressors, logits, anchors, 192, min_score=0.5)
    cx, cy = anchors[k] + [0.05, -0.1]
    assert np.allclose(boxes, [[cx - 0.125, cy - 0.0625, cx + 0.125, cy + 0.0625]], atol=1e-6)
    assert np.allclose(scores, [1 / (1 + np.exp(-2.0))]) and np.allclose(keypoints[0, 0], anchors[k] + [0.1, 0])
    assert len(decode_blazeface(regressors, logits, anchors, 192, min_score=0.9)[0]) == 0  # 0.88 < 0.9


def test_weighted_suppression_merges_overlaps_and_keeps_separate_faces():
    boxes = np.array([[0.0, 0, 1, 1], [0.1, 0, 1.1, 1], [3, 3, 4, 4]])
    scores = np.array([0.9, 0.3, 0.6])
    keypoints = np.zeros((3, 6, 2))
    merged, kept_scores, _ = weighted_nms(boxes, scores, keypoints)
    assert len(merged) == 2 and np.allclose(kept_scores, [0.9, 0.6])
    assert np.allclose(merged[0], [0.025, 0, 1.025, 1])  # (0.9 * 0 + 0.3 * 0.1) / 1.2
    assert np.allclose(merged[1], [3, 3, 4, 4])


def test_letterbox_keeps_the_aspect_ratio_and_centres_the_frame():
    square, scale, (px, py) = letterbox(np.full((480, 640), 200, np.uint8), 192)
    assert square.shape == (192, 192) and scale == pytest.approx(0.3) and (px, py) == (0, 24)
    assert square[23].max() == 0 and square[24].min() == 200 and square[24 + 144].max() == 0


def test_the_cnn_finds_the_portraits_with_eyes_where_eyes_are():
    for name in ("grace_hopper", "astronaut"):
        gray = to_gray(read_image(IMAGES / f"{name}.jpg"))
        faces = CnnFaceDetector().detect_faces(gray)
        assert len(faces) == 1, name
        (x, y, w, h), kp = faces[0].box, faces[0].keypoints
        assert w > 80 and kp.shape == (6, 2)
        right_eye, left_eye, nose, mouth = kp[:4]
        assert right_eye[0] < nose[0] < left_eye[0] and max(right_eye[1], left_eye[1]) < nose[1] < mouth[1]
        assert x < right_eye[0] < x + w and y < nose[1] < y + h
        assert abs(eye_angle(kp)) < 10  # upright portraits


def test_boxes_follow_the_face_when_the_frame_grows():
    """The letterbox mapping: the same face in a larger frame, shifted, gives the same box shifted."""
    gray = to_gray(read_image(IMAGES / "grace_hopper.jpg"))
    bigger = np.zeros((900, 1300), np.uint8)
    bigger[100:100 + gray.shape[0], 300:300 + gray.shape[1]] = gray
    a, b = CnnFaceDetector().detect(gray)[0], CnnFaceDetector().detect(bigger)[0]
    assert np.abs(b - a - [300, 100, 0, 0]).max() <= 0.1 * a[2]


# the centre of every face in the held-out group photos, marked by hand (x, y in pixels)
GROUP_FACES = {name: centres for name, centres in
               json.loads((IMAGES / "marked_faces.json").read_text())["held_out"].items() if name.startswith("group")}


@pytest.mark.parametrize("name", GROUP_FACES)
def test_predict_finds_every_face_in_held_out_group_photos(run_cli, name):
    r = run_cli("predict", str(IMAGES / name), "--json")
    assert r.returncode == 0, r.stderr
    boxes = [f["box"] for f in json.loads(r.stdout)["faces"]]
    for cx, cy in GROUP_FACES[name]:
        inside = [b for b in boxes if b[0] < cx < b[0] + b[2] and b[1] < cy < b[1] + b[3]]
        assert len(inside) == 1, (name, (cx, cy), boxes)


@pytest.mark.parametrize("name", sorted(BLAZEFACE_MODELS))
def test_the_shipped_detector_files_are_checked(name, tmp_path):
    spec = BLAZEFACE_MODELS[name]
    assert detection._checked_model_bytes(spec.path, spec.sha256)
    damaged = tmp_path / spec.file
    shutil.copy(spec.path, damaged)
    with open(damaged, "r+b") as f:
        f.seek(1000)
        f.write(b"\x00" * 16)
    with pytest.raises(RuntimeError, match="sha256 differs"):
        detection._checked_model_bytes(damaged, spec.sha256)


def test_both_cnn_models_find_the_portraits_in_the_same_place():
    """The short-range model (896 anchors over two maps) finds each portrait's face where the full-range model
    does; an unknown model name is refused by name."""
    for name in ("grace_hopper", "astronaut"):
        gray = to_gray(read_image(IMAGES / f"{name}.jpg"))
        (full,), (short,) = (CnnFaceDetector(model=m).detect(gray) for m in ("full_range", "short_range"))
        x0, y0 = np.maximum(full[:2], short[:2])
        x1, y1 = np.minimum(full[:2] + full[2:], short[:2] + short[2:])
        overlap = max(0, x1 - x0) * max(0, y1 - y0)
        assert overlap / (full[2] * full[3] + short[2] * short[3] - overlap) > 0.6, (name, full, short)
    with pytest.raises(ValueError, match="short_range"):
        CnnFaceDetector(model="long_range")


def test_min_size_never_drops_a_larger_face():
    """A face 229 px wide is kept with a minimum size of 200 (the web app's slider), by both detectors."""
    gray = to_gray(read_image(IMAGES / "grace_hopper.jpg"))
    for name in ("cnn", "haar"):
        assert len(make_detector(name, min_size=200).detect(gray)) == 1, name
        assert len(make_detector(name, min_size=260).detect(gray)) == 0, name
        assert len(make_detector(name, max_size=150).detect(gray)) == 0, name


def test_unknown_detector_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of cnn, haar"):
        make_detector("yunet")
    assert isinstance(make_detector("haar"), HaarFaceDetector)


def test_aligning_levels_a_tilted_face():
    gray = to_gray(read_image(IMAGES / "grace_hopper.jpg"))
    h, w = gray.shape
    import cv2

    tilted = cv2.warpAffine(gray, cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.0), (w, h), borderMode=cv2.BORDER_REFLECT)
    face = CnnFaceDetector().detect_faces(tilted)[0]
    assert 15 < abs(eye_angle(face.keypoints)) < 35
    upright = CnnFaceDetector().detect_faces(gray)[0]
    straightened = crop_aligned(tilted, [face], align=True)[0].astype(float)
    reference = crop_aligned(gray, [upright], align=True)[0].astype(float)
    as_found = crop_aligned(tilted, [face], align=False)[0].astype(float)
    assert np.abs(straightened - reference).mean() < np.abs(as_found - reference).mean()


def test_one_face_gets_one_label_on_the_photo_and_the_live_path():
    """The same still frame: once through the photo path (4 views), twelve times through the live path
    (one view per frame in turn, averaged over 4 frames, smoothed): the same label and nearly the same numbers."""
    frame = read_image(IMAGES / "grace_hopper.jpg")
    photo = EmotionDetector()(frame)
    live = EmotionDetector.for_video(EmotionDetector().model)
    for _ in range(12):
        streamed = live(frame)
    assert len(photo) == len(streamed) == 1 and photo[0].box == streamed[0].box
    assert streamed[0].emotion == photo[0].emotion
    p, q = (np.array([r.probabilities[e] for e in EMOTIONS]) for r in (photo[0], streamed[0]))
    assert np.abs(p - q).max() < 0.02


def test_the_live_label_is_the_top_bar_and_the_display_says_how_it_was_smoothed():
    """What a live display shows explains itself: every frame's label is the top of the probabilities drawn
    beside it (the smoothed ones), and the widget's note states the smoothing the detector really uses."""
    from fer_utils.live import LiveEmotionWidget

    frames = [read_image(IMAGES / name) for name in ("grace_hopper.jpg", "grace_hopper.jpg", "group_four.jpg")]
    live = EmotionDetector.for_video()
    for frame in frames * 3:
        for r in live(frame):
            assert r.emotion == max(r.probabilities, key=r.probabilities.get)
    note = LiveEmotionWidget(live).note
    assert f"{live.smoothing:g} x previous" in note and "4 test-time views" in note
    assert "smoothed" not in EmotionDetector().describe_output()


@pytest.mark.parametrize("fraction, per_side", [(0.6, 2), (0.4, 4), (0.25, 6)])
def test_tiles_cover_the_frame_and_hold_every_small_face_whole(fraction, per_side):
    """Tiles of a 640x480 frame: per_side x per_side of them, all inside the frame, covering every pixel,
    and any square face up to a third of a tile wide lies whole inside at least one tile."""
    windows = tile_windows(480, 640, (fraction,))
    assert len(windows) == per_side ** 2
    covered = np.zeros((480, 640), bool)
    for y0, x0, th, tw in windows:
        assert 0 <= y0 and y0 + th <= 480 and 0 <= x0 and x0 + tw <= 640
        covered[y0:y0 + th, x0:x0 + tw] = True
    assert covered.all()
    size = int(480 * fraction) // 3
    rng = np.random.default_rng(0)
    for x, y in zip(rng.integers(0, 640 - size, 200), rng.integers(0, 480 - size, 200)):
        assert any(x0 <= x and x + size <= x0 + tw and y0 <= y and y + size <= y0 + th for y0, x0, th, tw in windows)


def test_small_faces_settings_are_the_ones_the_benchmark_chose():
    """`predict --small-faces` runs the verified short-range pyramid the benchmark measured, at the verification
    threshold it chose (on its second set of scenes and the real choice photos)."""

    bench = json.loads((PROJECT_ROOT / "benchmarks" / "results" / "detection.json").read_text())
    assert SMALL_FACES["verify_min_score"] == bench["chosen_verify_min_score"]
    measured = {k: tuple(v) if isinstance(v, list) else v for k, v in bench["verified_pyramid"].items()}
    assert measured == {k: v for k, v in SMALL_FACES.items() if k != "verify_min_score"}
    assert f"default+verified pyramid@{SMALL_FACES['verify_min_score']:g}" in bench["detectors"]


def test_small_faces_keeps_every_face_the_default_finds_and_one_box_per_face():
    """--small-faces never loses a face of the default detector: on the held-out group photos, every marked face
    has a default box and exactly one --small-faces box (re-boxed by the second look) on it; and a face found twice
    (by both, or as a face and a box around it) is kept once."""
    from fer_utils.detection import Face, SmallFacesDetector, small_faces_detector, without_nested

    small_faces = small_faces_detector()
    on = lambda box, centre: box[0] <= centre[0] <= box[0] + box[2] and box[1] <= centre[1] <= box[1] + box[3]  # noqa: E731
    for name, centres in GROUP_FACES.items():
        gray = to_gray(read_image(IMAGES / name))
        default = [f.box for f in CnnFaceDetector().detect_faces(gray)]
        found = [f.box for f in small_faces.detect_faces(gray)]
        for centre in centres:
            assert any(on(b, centre) for b in default) and sum(on(b, centre) for b in found) == 1, (name, centre, found)
    big, inside, apart = Face((100, 100, 200, 200), 0.9), Face((150, 180, 100, 100), 0.7), Face((400, 100, 50, 50), 0.6)
    assert without_nested([big, inside, apart]) == [big, apart]
    assert without_nested([inside, big]) == [inside]  # the first (the higher score, or the trusted detector) stays

    class Fixed:
        def __init__(self, faces):
            self.faces = faces

        def detect_faces(self, gray):
            return self.faces

        def second_looks(self, gray, faces):
            return [Face(f.box, 0.0) for f in faces]  # no view finds them: the default's faces stay as they are

    assert SmallFacesDetector(Fixed([inside]), Fixed([big, apart])).detect_faces(None) == [inside, apart]

    class Moving(Fixed):
        def second_looks(self, gray, faces):
            return [Face((f.box[0] + 5, f.box[1], f.box[2], f.box[3]), 0.9, "seen") for f in faces]

    [reboxed] = SmallFacesDetector(Fixed([apart]), Moving([])).detect_faces(None)
    assert reboxed == Face((405, 100, 50, 50), 0.6, "seen")  # the second look's box and keypoints, the default's score


@pytest.mark.parametrize("side", ["left", "right"])
def test_a_second_look_keeps_a_real_face_whole_and_drops_a_face_like_texture(side):
    """The second look at a real face (seen again at its own scale with its surroundings) scores high, and from
    a box on 60% of the face, off to one side (a tile often finds a face at the wrong scale), it gives back the
    whole face's box and eyes: the mirrored views' boxes and keypoints are mapped back to the frame (a box left
    mirrored would land on the other side of the part's centre, eyes left unswapped would meet in the middle); a
    box on random noise scores below the threshold, so --small-faces drops it."""
    from fer_utils.detection import Face
    from fer_utils.pipeline import iou

    gray = to_gray(read_image(IMAGES / "grace_hopper.jpg"))
    detector = CnnFaceDetector(**{**SMALL_FACES, "verify_min_score": 0.0})
    [face] = CnnFaceDetector(model="short_range").detect_faces(gray)  # one look, as the reference
    assert face.score > 0.8 and detector.second_look(gray, face).score > 0.8
    x, y, w, h = face.box
    part = Face((x + (0 if side == "left" else 2 * w // 5), y + h // 5, w * 3 // 5, h * 3 // 5), 0.5)
    assert iou(part.box, face.box) < 0.4
    seen = detector.second_look(gray, part)
    assert seen.score > SMALL_FACES["verify_min_score"] and iou(seen.box, face.box) > 0.7, (seen, face)
    eyes_off = np.linalg.norm(seen.keypoints[:2] - face.keypoints[:2], axis=1)
    assert eyes_off.max() < 0.12 * w, (seen.keypoints[:2], face.keypoints[:2])
    noise = np.random.default_rng(0).integers(0, 255, (480, 640), dtype=np.uint8)
    assert detector.second_look(noise, Face((200, 150, 100, 100), 0.5)).score < SMALL_FACES["verify_min_score"]


@pytest.mark.parametrize("width", [200, 280])
def test_the_tiled_pass_finds_a_face_too_small_for_one_view_of_the_frame(width):
    """A portrait shrunk into a corner of a 1280x960 frame: its face (50-110 px) is under the full-frame
    pass's reach (one 192-pixel view), and the tiled pass finds it, where it is, exactly once."""
    portrait = to_gray(read_image(IMAGES / "grace_hopper.jpg"))
    small = cv2.resize(portrait, (width, width * portrait.shape[0] // portrait.shape[1]), interpolation=cv2.INTER_AREA)
    frame = np.full((960, 1280), 110, np.uint8)
    frame[560:560 + small.shape[0], 900:900 + width] = small
    assert len(CnnFaceDetector().detect(frame)) == 0
    (x, y, w, h), = CnnFaceDetector(tiles=True).detect(frame)
    assert 900 < x and x + w < 900 + width and 560 < y < 560 + small.shape[0] // 2


def test_predict_small_faces_finds_a_small_face_the_plain_pass_misses(run_cli, tmp_path):

    portrait = read_image(IMAGES / "grace_hopper.jpg")
    small = cv2.resize(portrait, (200, 200 * portrait.shape[0] // portrait.shape[1]), interpolation=cv2.INTER_AREA)
    frame = np.full((960, 1280, 3), 110, np.uint8)
    frame[560:560 + small.shape[0], 900:1100] = small
    photo = tmp_path / "far_away.png"
    cv2.imwrite(str(photo), frame)
    plain, tiled = run_cli("predict", str(photo), "--json"), run_cli("predict", str(photo), "--json", "--small-faces")
    assert plain.returncode == tiled.returncode == 0, plain.stderr + tiled.stderr
    assert json.loads(plain.stdout)["faces"] == [] and len(json.loads(tiled.stdout)["faces"]) == 1
    wrong = run_cli("predict", str(photo), "--small-faces", "--detector", "haar")
    assert wrong.returncode == 2 and "--small-faces" in wrong.stderr and "Traceback" not in wrong.stderr
