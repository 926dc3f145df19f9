"""FER-2013 data layer: find the dataset, load it, split it, explain what is wrong with it.

Two on-disk layouts are accepted:

* the canonical ``fer2013.csv`` (plain or ``.gz``) with columns ``emotion,pixels,Usage``;
* the image-folder layout of the popular Kaggle copy: ``train/<emotion>/*.png|jpg`` and
  ``test/<emotion>/*``. ``train/`` maps to ``Training``. Files in ``test/`` named
  ``PublicTest_*`` / ``PrivateTest_*`` keep their split; any other ``test/`` file counts as
  ``PrivateTest`` (the held-out split), so such a copy has no ``PublicTest`` split.

Where the data lives is one setting: the ``path`` argument, else the ``FER2013_PATH``
environment variable (a relative path may be relative to the project root), else ``data/fer2013.csv`` (or ``.csv.gz``, or a ``data/fer2013/`` folder).
"""
from __future__ import annotations

import csv
import gzip
import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
SPLITS: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")
IMAGE_SIZE = 48
ENV_VAR = "FER2013_PATH"
HOME_ENV_VAR = "FER_HOME"


def find_project_root(package_dir: Path, cwd: Path, home: str | None = None) -> Path:
    """The folder that holds the series' models/ and data/: $FER_HOME when set, else the checkout
    the package sits in (the editable install), else the nearest folder from `cwd` upward that has
    data/sample/ (a plain `pip install .` run from inside the checkout, e.g. from notebooks/),
    else the package's parent folder, whose missing files then raise errors that name FER_HOME."""
    marker = Path("data") / "sample" / "fer2013_sample.csv.gz"
    if home:
        return Path(home).expanduser().resolve()
    checkout = package_dir.parent
    if (checkout / marker).exists():
        return checkout
    for folder in (cwd, *cwd.parents):
        if (folder / marker).exists():
            return folder
    return checkout


PROJECT_ROOT = find_project_root(Path(__file__).resolve().parent, Path.cwd(), os.environ.get(HOME_ENV_VAR))
DATA_DIR = PROJECT_ROOT / "data"
SAMPLE_PATH = DATA_DIR / "sample" / "fer2013_sample.csv.gz"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")

DOWNLOAD_HELP = (
    "Download FER-2013 yourself (it is not redistributed with this series): for example the "
    "'fer2013.csv' file of the Kaggle challenge 'challenges-in-representation-learning-facial-"
    "expression-recognition-challenge', or the image-folder copy 'msambare/fer2013' "
    "(train/<emotion>/, test/<emotion>/). Put it at data/fer2013.csv (or data/fer2013.csv.gz, or "
    "unpack the folders into data/fer2013/), or point the FER2013_PATH environment variable "
    "(or the --data option) at it."
)


class DatasetError(ValueError):
    """The dataset is missing or malformed; the message says what and how to fix it."""


@dataclass(frozen=True)
class Split:
    """Images (N, 48, 48) uint8 and labels (N,) int64 (indices into EMOTIONS) of one split."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class FER2013:
    """The loaded dataset: one Split per Usage, plus where it came from."""

    splits: dict[str, Split]
    source: Path
    skipped: tuple[Path, ...] = ()  # unreadable images left out (image folders with skip_corrupt)

    def __getitem__(self, usage: str) -> Split:
        if usage not in self.splits:
            raise DatasetError(
                f"split {usage!r} is not in {self.source} (it has {', '.join(self.splits) or 'none'})."
            )
        return self.splits[usage]

    def counts(self) -> dict[str, dict[str, int]]:
        """Number of images per split and class."""
        return {u: {e: int((s.labels == i).sum()) for i, e in enumerate(EMOTIONS)}
                for u, s in self.splits.items()}


def resolve_data_path(path: str | os.PathLike | None = None) -> Path:
    """The dataset location: the argument, else $FER2013_PATH, else the default under data/."""
    if path is None and os.environ.get(ENV_VAR):
        path = os.environ[ENV_VAR]
    if path is not None:
        p = Path(path).expanduser()
        if not p.exists() and not p.is_absolute() and (PROJECT_ROOT / p).exists():
            p = PROJECT_ROOT / p  # a relative setting also works from notebooks/
        if not p.exists():
            raise DatasetError(f"FER-2013 not found at {p}. {DOWNLOAD_HELP}")
        return p
    for candidate in (DATA_DIR / "fer2013.csv", DATA_DIR / "fer2013.csv.gz", DATA_DIR / "fer2013"):
        if candidate.exists():
            return candidate
    raise DatasetError(f"FER-2013 not found under {DATA_DIR} and {ENV_VAR} is not set. {DOWNLOAD_HELP}")


def load_fer2013(path: str | os.PathLike | None = None, skip_corrupt: bool = False) -> FER2013:
    """Load FER-2013 from a CSV (plain or gzipped) or an image-folder tree.

    Unreadable images in an image folder raise a DatasetError that names them; with
    `skip_corrupt` they are left out instead and listed in the result's `skipped`."""
    p = resolve_data_path(path)
    if p.is_dir():
        splits, skipped = _load_folders(p, skip_corrupt)
        return FER2013(splits=splits, source=p, skipped=skipped)
    return FER2013(splits=_load_csv(p), source=p)


def _open_text(path: Path) -> io.TextIOBase:
    """The file as text, gunzipped if it is gzipped; a UTF-8 byte-order mark (Excel, Windows tools) is dropped."""
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


HEAD_CHARS = 1 << 20  # the header and the rows in the first 1 MB are checked before the whole file is read
PIXEL_FIX = "Correct or delete that line, or re-download the file."


def _columns(path: Path, header: list[str] | None) -> tuple[int, int, int]:
    """The indices of emotion, pixels and Usage in a CSV header, or a DatasetError."""
    if header is None:
        raise DatasetError(f"{path} is empty; expected a CSV with columns emotion,pixels,Usage.")
    cols = [h.strip() for h in header]
    missing = {"emotion", "pixels", "Usage"} - set(cols)
    if missing:
        raise DatasetError(
            f"{path}: wrong columns {cols}; FER-2013 CSV needs emotion,pixels,Usage "
            f"(missing {sorted(missing)}). Is this the canonical fer2013.csv? {DOWNLOAD_HELP}"
        )
    return cols.index("emotion"), cols.index("pixels"), cols.index("Usage")


def _checked_row(path: Path, line_no: int, row: list[str], columns: tuple[int, int, int]) -> tuple[int, str, str]:
    """(label, usage, pixel string) of one CSV row, or a DatasetError naming the line. The pixel
    values are counted here, not parsed (see `_check_pixels`)."""
    ie, ip, iu = columns
    if len(row) <= max(columns):
        raise DatasetError(f"{path}, line {line_no}: {len(row)} fields, expected {max(columns) + 1}.")
    label, usage, pixels = row[ie].strip(), row[iu].strip(), row[ip]
    if label not in {str(i) for i in range(len(EMOTIONS))}:
        raise DatasetError(
            f"{path}, line {line_no}: emotion label {label!r} is not an integer 0-6 "
            f"({', '.join(f'{i} {e}' for i, e in enumerate(EMOTIONS))}).")
    if usage not in SPLITS:
        raise DatasetError(
            f"{path}, line {line_no}: unknown Usage {usage!r}; expected one of {', '.join(SPLITS)}.")
    n_values = pixels.count(" ") + 1 if pixels.strip() else 0
    if n_values != IMAGE_SIZE * IMAGE_SIZE:
        n_values = len(pixels.split())  # repeated or leading/trailing spaces
    if n_values != IMAGE_SIZE * IMAGE_SIZE:
        raise DatasetError(
            f"{path}, line {line_no}: the pixel string has {n_values} values, expected "
            f"{IMAGE_SIZE * IMAGE_SIZE} (48x48). The file is truncated or not FER-2013.")
    return int(label), usage, pixels


def _check_pixels(path: Path, line_no: int, pixels: str) -> None:
    """A DatasetError naming the first pixel value of a row that is not a whole number 0-255."""
    for k, value in enumerate(pixels.split(), start=1):
        if not (value.isascii() and value.isdigit() and int(value) <= 255):
            raise DatasetError(f"{path}, line {line_no}: pixel {k} is {value!r}, not a whole number 0-255. {PIXEL_FIX}")


def _check_head(path: Path) -> None:
    """Check the header and the rows in the first HEAD_CHARS characters, so that a file that is not
    FER-2013 is refused without reading all of it."""
    with _open_text(path) as f:
        head = f.read(HEAD_CHARS)
    if len(head) == HEAD_CHARS:
        if "\n" not in head:
            raise DatasetError(f"{path}: its first {HEAD_CHARS >> 20} MB hold no line break, so it is not a CSV "
                               f"(FER-2013 starts with the line emotion,pixels,Usage). {DOWNLOAD_HELP}")
        head = head[:head.rindex("\n") + 1]  # complete lines only
    reader = csv.reader(io.StringIO(head, newline=""))
    columns = _columns(path, next(reader, None))
    for line_no, row in enumerate(reader, start=2):
        if row:
            _check_pixels(path, line_no, _checked_row(path, line_no, row, columns)[2])


def _gzip_problem(path: Path) -> str | None:
    """Why a gzipped file is damaged (a bad deflate stream, CRC or length: it was cut or changed), found by
    reading it through once; None for a whole gzip file or a file that is not gzipped."""
    with open(path, "rb") as f:
        if f.read(2) != b"\x1f\x8b":
            return None
    try:
        with gzip.open(path, "rb") as f:
            while f.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as e:
        return str(e) or type(e).__name__
    return None


def _load_csv(path: Path) -> dict[str, Split]:
    """The splits of a FER-2013 CSV. A problem in a gzipped file is first blamed on the gzip file itself
    where it is damaged (its lines are then not what was written), not on a line of the CSV."""
    try:
        return _read_csv(path)
    except (DatasetError, OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as e:
        problem = _gzip_problem(path)
        if problem:
            raise DatasetError(f"{path} could not be read: it is a damaged gzip file ({problem}), cut short or "
                               f"changed, so its lines cannot be trusted. Re-download it. {DOWNLOAD_HELP}") from e
        if isinstance(e, DatasetError):
            raise
        raise DatasetError(f"{path} could not be read as a FER-2013 CSV ({e}). Re-download it. {DOWNLOAD_HELP}") from e


def _read_csv(path: Path) -> dict[str, Split]:
    _check_head(path)
    with _open_text(path) as f:
        reader = csv.reader(f)
        columns = _columns(path, next(reader, None))
        labels: list[int] = []
        usages: list[str] = []
        pixels: list[str] = []
        line_nos: list[int] = []
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            label, usage, row_pixels = _checked_row(path, line_no, row, columns)
            labels.append(label)
            usages.append(usage)
            pixels.append(row_pixels)
            line_nos.append(line_no)
    if not labels:
        raise DatasetError(f"{path} has a header but no rows.")
    try:
        flat = np.fromstring(" ".join(pixels), dtype=np.int32, sep=" ")  # fast C parser
    except ValueError as e:  # a value that is not a whole number: find its line
        for line_no, row_pixels in zip(line_nos, pixels):
            _check_pixels(path, line_no, row_pixels)
        raise DatasetError(f"{path}: the pixel values could not be read ({e}). {PIXEL_FIX}") from e
    out_of_range = np.flatnonzero((flat < 0) | (flat > 255))
    if len(out_of_range):
        row, k = divmod(int(out_of_range[0]), IMAGE_SIZE * IMAGE_SIZE)
        raise DatasetError(f"{path}, line {line_nos[row]}: pixel {k + 1} is '{flat[out_of_range[0]]}', not a whole "
                           f"number 0-255. {PIXEL_FIX}")
    images = flat.astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    y = np.array(labels, dtype=np.int64)
    u = np.array(usages)
    return {s: Split(images[u == s], y[u == s]) for s in SPLITS if (u == s).any()}


def _split_of(subset: str, filename: str) -> str:
    if subset == "train":
        return "Training"
    for s in ("PublicTest", "PrivateTest"):
        if filename.startswith(s):
            return s
    return "PrivateTest"


def _load_folders(root: Path, skip_corrupt: bool = False) -> tuple[dict[str, Split], tuple[Path, ...]]:
    """The splits of an image-folder copy and the unreadable images left out (only with `skip_corrupt`;
    without it, unreadable images raise a DatasetError that names them)."""
    import cv2

    from .images import ImageError, decode_image

    subsets = [d for d in ("train", "test") if (root / d).is_dir()]
    if not subsets:
        raise DatasetError(
            f"{root} is a folder but has no train/ or test/ subfolder. Expected train/<emotion>/*.png|jpg "
            f"and test/<emotion>/*, with <emotion> one of {', '.join(EMOTIONS)}. {DOWNLOAD_HELP}")
    images: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    labels: dict[str, list[int]] = {s: [] for s in SPLITS}
    unreadable: list[tuple[Path, str]] = []
    for subset in subsets:
        for class_dir in sorted((root / subset).iterdir()):
            if not class_dir.is_dir():
                continue
            name = class_dir.name.lower()
            if name not in EMOTIONS:
                raise DatasetError(
                    f"{class_dir}: unknown emotion folder {class_dir.name!r}; expected one of {', '.join(EMOTIONS)}.")
            for f in sorted(class_dir.iterdir()):
                if f.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                try:
                    img = decode_image(f.read_bytes(), str(f), cv2.IMREAD_GRAYSCALE)
                except (ImageError, OSError) as e:
                    unreadable.append((f, str(e)))
                    continue
                if img.shape != (IMAGE_SIZE, IMAGE_SIZE):
                    img = cv2.resize(img, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
                split = _split_of(subset, f.name)
                images[split].append(img)
                labels[split].append(EMOTIONS.index(name))
    if unreadable and not skip_corrupt:
        shown = "; ".join(reason for _, reason in unreadable[:3]) + ("; ..." if len(unreadable) > 3 else "")
        raise DatasetError(
            f"{len(unreadable)} unreadable image(s) in {root}: {shown}. Delete or replace them, or leave them out "
            f"with --skip-corrupt (data summary, train; load_fer2013(..., skip_corrupt=True) in Python).")
    if not any(labels.values()):
        raise DatasetError(f"{root}: no images (*.png, *.jpg) found under {', '.join(subsets)}/<emotion>/.")
    return ({s: Split(np.stack(images[s]).astype(np.uint8), np.array(labels[s], dtype=np.int64))
             for s in SPLITS if labels[s]}, tuple(f for f, _ in unreadable))


def cross_split_duplicates(reference: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Boolean mask over `images`: True where an image is byte-identical to one in `reference`
    (e.g. test faces that also appear in Training)."""
    seen = {np.ascontiguousarray(img).tobytes() for img in reference}
    return np.fromiter((np.ascontiguousarray(img).tobytes() in seen for img in images), dtype=bool, count=len(images))


def load_for_notebook(quick: bool) -> tuple[FER2013, bool]:
    """The dataset a notebook should use, and whether it is the full one.

    Quick mode (CI) uses the committed sample. Otherwise the full FER-2013 from the usual
    setting; if it is missing, the reason is printed and the sample is used instead.
    """
    if not quick:
        try:
            return load_fer2013(), True
        except DatasetError as e:
            print(f"Using the 308-face sample instead of the full dataset, because: {e}\n")
    return load_fer2013(SAMPLE_PATH), False
