"""Hostile and broken inputs, round two (issue 19): image bombs in every format OpenCV decodes, videos judged
by their content, oversized and truncated videos, a damaged .gz dataset, settings and inputs checked before
the model loads, FER_HOME for every command, and no empty run folder after a failed `train`. Every file is
built here; each CLI case runs in a subprocess whose peak memory is measured (os.wait4)."""
import os
import subprocess
import sys

import cv2
import pytest

from fer_utils.data import PROJECT_ROOT, SAMPLE_PATH, DatasetError, load_fer2013
from fer_utils.images import ImageError, media_kind

from conftest import load_hostile_inputs

IMAGES = PROJECT_ROOT / "data" / "images"
HOPPER = IMAGES / "grace_hopper.jpg"
DEMO_VIDEO = IMAGES / "demo_faces.mp4"
GB = 1 << 30


def run_measured(*args, env=None):
    """Run `python -m fer_utils ARGS` and return (exit status, stdout, stderr, peak RSS in bytes of that process),
    through the benchmark's launcher (a forked child's peak RSS would otherwise start at pytest's own)."""
    return load_hostile_inputs().run_fer_utils(list(args), env)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


def test_bombs_in_every_format_are_refused_by_the_decoder_with_one_line(tmp_path, hostile):
    """Real 4-megapixel JPEG 2000, GIF and AVIF files against a 1-megapixel limit, and JPEG 2000 and GIF
    headers that declare 60000 x 60000 (10.8 GB decoded) against the default limit: each is refused with
    one line before its pixels are allocated, and the good photo after them is processed."""
    files = {"real.jp2": hostile.encode(".jp2", 2000), "real.gif": hostile.encode(".gif", 2000),
             "real.avif": hostile.encode(".avif", 2000, (cv2.IMWRITE_AVIF_SPEED, 10)),
             "declared.jp2": hostile.jp2_declaring(60_000, 60_000), "declared.gif": hostile.gif_declaring(60_000, 60_000)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        assert media_kind(tmp_path / name) == "image", name
    small_limit = {"FER_MAX_IMAGE_PIXELS": "1000000"}
    for names, env, limit in ((["real.jp2", "real.gif", "real.avif"], small_limit, "1 megapixels"),
                              (["declared.jp2", "declared.gif"], None, "50 megapixels")):
        rc, out, err, rss = run_measured("predict", *[tmp_path / n for n in names], HOPPER, env=env)
        assert rc == 1 and "Traceback" not in err, err
        lines = error_lines(err)
        assert len(lines) == len(names), lines
        for name, line in zip(names, lines):
            assert line.startswith(f"error: {tmp_path / name} is larger than the limit of {limit}"), line
            assert "was not decoded" in line and "FER_MAX_IMAGE_PIXELS" in line
        assert "grace_hopper.jpg: " in out and rss < GB, rss


def test_video_is_recognised_by_content_and_never_read_whole(tmp_path):
    """A video named .mts or .bin plays as a video, a photo named .mp4 is read as a photo, and a 3 GB file of
    zeros (as .mts, as .png) is refused without being read into memory."""
    (tmp_path / "clip.mts").write_bytes(DEMO_VIDEO.read_bytes())
    (tmp_path / "clip.bin").write_bytes(DEMO_VIDEO.read_bytes())
    (tmp_path / "photo.mp4").write_bytes(HOPPER.read_bytes())
    for name, header in (("zeros.mts", b""), ("zeros.png", b"\x89PNG\r\n\x1a\n")):
        with open(tmp_path / name, "wb") as f:  # sparse: no disk used
            f.write(header)
            f.truncate(3 * GB)
    inputs = ["clip.mts", "clip.bin", "photo.mp4", "zeros.mts", "zeros.png"]
    rc, out, err, rss = run_measured("predict", *[tmp_path / n for n in inputs])
    assert rc == 1 and "Traceback" not in err and rss < 500e6, (err, rss)
    assert f"{tmp_path / 'clip.mts'}: 48 frames" in out and f"{tmp_path / 'clip.bin'}: 48 frames" in out
    assert f"{tmp_path / 'photo.mp4'}: " in out and "frames" not in out.splitlines()[2]
    lines = error_lines(err)
    assert len(lines) == 2, lines
    assert "zeros.mts is not a readable image or video" in lines[0]
    assert "zeros.png is 3,221 MB, more than an image within the limit of 50 megapixels can be" in lines[1]


def write_video(path, size, frames=3, fourcc="MJPG", fps=10):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened()
    face = cv2.resize(cv2.imread(str(HOPPER)), size)
    for _ in range(frames):
        writer.write(face)
    writer.release()


def test_video_frames_over_the_pixel_limit_name_the_video_and_the_frame(tmp_path, monkeypatch):
    from fer_utils.video import VideoFrames

    clip = tmp_path / "big.avi"
    write_video(clip, (1200, 1000))  # 1.2 megapixels per frame
    out = tmp_path / "out"
    out.mkdir()
    rc, _, err, _ = run_measured("predict", clip, HOPPER, "--out", out, env={"FER_MAX_IMAGE_PIXELS": "1000000"})
    assert rc == 1 and "Traceback" not in err, err
    lines = error_lines(err)
    assert len(lines) == 1 and lines[0].startswith(f"error: {clip}: each frame is 1200x1000 pixels"), lines
    assert "none was decoded" in lines[0] and ".tmp" not in lines[0]
    assert sorted(p.name for p in out.iterdir()) == ["grace_hopper_annotated.png"]  # no video, no temporary file

    with VideoFrames(clip) as video:  # a frame over the limit later in a video (its size changed)
        monkeypatch.setenv("FER_MAX_IMAGE_PIXELS", "1000000")
        with pytest.raises(ImageError, match=r"big.avi, frame 1 is 1200x1000 pixels .* and the video was stopped there"):
            list(video)


def test_a_truncated_video_warns_with_frames_read_and_announced(tmp_path):
    from fer_utils.video import VideoWriter

    frames = []
    cap = cv2.VideoCapture(str(DEMO_VIDEO))
    while (frame := cap.read()[1]) is not None:
        frames.append(frame)
    whole = tmp_path / "whole.mp4"  # H.264 with its index first (faststart): a cut copy still plays its first half
    with VideoWriter(whole, 12, (320, 240)) as writer:
        for frame in frames:
            writer.write(frame)
    data = whole.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[:len(data) // 2])
    rc, out, err, _ = run_measured("predict", tmp_path / "cut.mp4", whole)
    assert rc == 1 and "Traceback" not in err, err
    lines = error_lines(err)
    assert len(lines) == 1 and lines[0].startswith(f"warning: {tmp_path / 'cut.mp4'} ended after "), lines
    read = int(lines[0].split("ended after ")[1].split()[0])
    assert 0 < read < 48 and f"of the {len(frames)} frames its header announces" in lines[0]
    assert f"cut.mp4: {read} frames" in out and f"whole.mp4: {len(frames)} frames" in out


def test_a_video_with_damaged_frames_gives_one_line_not_the_decoders_messages(tmp_path):
    """FFmpeg (inside OpenCV) prints its own decoder errors ("[h264 @ 0x...] Invalid NAL unit size") unless its
    log is quieted (fer_utils sets OPENCV_FFMPEG_LOGLEVEL): only the series' one line may reach the user."""
    import random

    from fer_utils.video import VideoWriter

    cap = cv2.VideoCapture(str(DEMO_VIDEO))
    frames = []
    while (frame := cap.read()[1]) is not None:
        frames.append(frame)
    whole = tmp_path / "whole.mp4"
    with VideoWriter(whole, 12, (320, 240)) as writer:
        for frame in frames:
            writer.write(frame)
    data, rng = bytearray(whole.read_bytes()), random.Random(0)
    for _ in range(200):  # damaged bytes in the second two thirds of the file: the decoder meets broken frames
        data[rng.randrange(len(data) // 3, len(data) - 100)] = rng.randrange(256)
    (tmp_path / "damaged.mp4").write_bytes(bytes(data))
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"}
    rc, out, err, _ = run_measured("predict", tmp_path / "damaged.mp4", env=env)
    assert rc in (0, 1) and "Traceback" not in err, err
    assert not any("@ 0x" in line for line in err.splitlines()), err
    assert len(error_lines(err)) <= 1, err


@pytest.mark.parametrize("where", [0.1, 0.5, 0.99])
def test_a_damaged_gz_dataset_is_blamed_on_the_gzip_file_not_a_csv_line(tmp_path, where):
    data = bytearray(SAMPLE_PATH.read_bytes())
    data[int(len(data) * where)] ^= 0x55
    (tmp_path / "flipped.csv.gz").write_bytes(bytes(data))
    (tmp_path / "cut.csv.gz").write_bytes(bytes(data[:int(len(data) * where)]))
    for name in ("flipped.csv.gz", "cut.csv.gz"):
        with pytest.raises(DatasetError) as e:
            load_fer2013(tmp_path / name)
        message = str(e.value)
        assert f"{name} could not be read: it is a damaged gzip file" in message and "Re-download it" in message, message
        assert ", line " not in message
    assert sum(len(s) for s in load_fer2013(SAMPLE_PATH).splits.values()) == 308  # a whole file loads


def test_settings_and_inputs_are_checked_before_the_model_loads(tmp_path):
    """A model path that does not exist shows whether the model was loaded: it never is here."""
    missing_model = tmp_path / "nowhere.keras"
    rc, _, err, _ = run_measured("predict", HOPPER, "--model", missing_model, env={"FER_MAX_IMAGE_PIXELS": "lots"})
    assert rc == 2 and error_lines(err) == ["error: FER_MAX_IMAGE_PIXELS='lots' is not a positive whole number of "
                                            "pixels (e.g. 50000000)"], err
    (tmp_path / "cut.jpg").write_bytes(HOPPER.read_bytes()[:5000])
    rc, _, err, _ = run_measured("predict", tmp_path / "cut.jpg", tmp_path / "missing.png", "--model", missing_model)
    assert rc == 1 and "nowhere.keras" not in err and len(error_lines(err)) == 2, err


def test_every_command_reads_and_writes_under_fer_home(tmp_path):
    code = ("from fer_utils.cli import build_parser; p = build_parser()\n"
            "for argv in (['export'], ['predict', 'x.jpg'], ['evaluate'], ['bench'], ['live']):\n"
            "    print(p.parse_args(argv).model)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "FER_HOME": str(tmp_path)}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [str(tmp_path.resolve() / "models" / "fer_vgg_bn.keras")] * 5


def test_a_failed_train_leaves_no_empty_folders(tmp_path):
    rc, _, err, _ = run_measured("train", "--data", tmp_path / "no_data.csv", "--out", tmp_path / "models" / "m.keras",
                                 "--run-dir", tmp_path / "runs" / "m", "--epochs", "1")
    assert rc == 2 and "FER-2013 not found" in err and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_second_train_into_a_live_run_folder_is_refused_before_tensorflow_loads(tmp_path):
    from fer_utils.files import FolderLock

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with FolderLock(run_dir, "training run"):  # this process is the first training
        rc, _, err, rss = run_measured("train", "--data", SAMPLE_PATH, "--out", tmp_path / "m.keras", "--run-dir", run_dir)
    assert rc == 2 and error_lines(err) == [f"error: {run_dir} is in use by another training run (process {os.getpid()}, "
                                            f"still running): wait for it to finish, or give another folder"], err
    assert rss < 200e6 and sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no TensorFlow, no model file


def test_predict_refuses_to_write_over_the_video_it_reads(tmp_path):
    import hashlib

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(DEMO_VIDEO.read_bytes())
    before = hashlib.sha256(clip.read_bytes()).hexdigest()
    (tmp_path / "sub").mkdir()
    rc, _, err, _ = run_measured("predict", clip, "--out", tmp_path / "sub" / ".." / "clip.mp4")
    assert rc == 2 and "is the input" in err and "Traceback" not in err, err
    assert hashlib.sha256(clip.read_bytes()).hexdigest() == before
