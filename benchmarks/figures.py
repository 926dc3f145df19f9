"""Every figure the course quotes in more than one place, with the one results file it comes from.

A figure is read from a results file (written by one command: the model card by `python -m fer_utils
train`/`evaluate --write-card`, benchmarks/results/*.json by the benchmark scripts) and each place that
quotes it is a `Mention`: a file (a notebook's markdown cells and text outputs, or a Markdown file) and a
regular expression whose group `v` is the number as written there. A mention agrees when the measured
value, rounded to the digits the text shows, is the number written (so "2.2 GB" agrees with 2.17 GB).
`tests/test_readme_results.py` fails on any disagreement, and on a mention that no longer matches its
file (the text changed: update the pattern here), so a figure cannot drift silently.

    python benchmarks/figures.py        # list every figure, its value and each mention's state
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_TIMES = "benchmarks/results/notebook_times.json"
NOTEBOOK_TIMES_COMMAND = "python benchmarks/notebook_times.py --mode {mode}"


@dataclass(frozen=True)
class Mention:
    """Where a figure is quoted: `file` (relative to the project) and a pattern with a group `v`."""

    file: str
    pattern: str


@dataclass(frozen=True)
class Figure:
    """A figure: its results file, how to read it (`get`), the command that writes it, where it is quoted."""

    name: str
    source: str
    get: Callable[[dict], float | None]
    command: str
    mentions: tuple[Mention, ...]


def _dig(*keys) -> Callable[[dict], float | None]:
    def get(d: dict):
        for k in keys:
            if not isinstance(d, dict) or k not in d:
                return None
            d = d[k]
        return d
    return get


def _scaled(get: Callable[[dict], float | None], factor: float) -> Callable[[dict], float | None]:
    return lambda d: None if get(d) is None else get(d) * factor


def _experiment_row(name: str, views: int, key: str = "accuracy") -> Callable[[dict], float | None]:
    return lambda d: next((r[key] for r in d.get("rows", []) if r["name"] == name and r["views"] == views), None)


NOTEBOOKS = {
    "01": "01_how_a_cnn_sees_a_face", "02": "02_the_fer2013_dataset", "03": "03_training_a_cnn",
    "04": "04_evaluating_the_model", "05": "05_faces_in_photos_and_video", "06": "06_live_webcam",
    "07": "07_from_notebook_to_web_app", "08": "08_the_last_points",
}


def _notebook_time_figures() -> list[Figure]:
    figures = []
    for number, stem in NOTEBOOKS.items():
        for mode, column in (("quick", 1), ("full", 2)):
            cells = r"[^|\n]*\|" * column
            figures.append(Figure(
                f"notebook {number} run time, {mode} mode (s)", NOTEBOOK_TIMES,
                _dig("notebooks", stem, mode, "seconds"), NOTEBOOK_TIMES_COMMAND.format(mode=mode),
                (Mention(f"notebooks/{stem}.ipynb", rf"(?P<v>[\d.]+) s in {mode} mode"),
                 Mention("docs/course.md", rf"(?m)^\| {number} {cells} (?P<v>[\d.]+) s"))))
    return figures


CARD = "models/fer_vgg_bn.json"
INSTALL = "benchmarks/results/install_size.json"
EXPERIMENTS = "benchmarks/results/accuracy_experiments.json"
FERPLUS = "benchmarks/results/ferplus_agreement.json"
ENSEMBLES = "benchmarks/results/ensemble.json"
ENSEMBLES_COMMAND = "python benchmarks/ensemble.py --data PATH/TO/fer2013.csv.gz"
THREE_TEACHERS = "ensemble of seed0_fp32 + seed1_bf16 + seed2_mixup"
FIVE_TEACHERS = f"{THREE_TEACHERS} + seed5_ferplus + seed6_crop44"
SIX_TEACHERS = f"{FIVE_TEACHERS} + seed7_balanced"
CALIBRATION = "benchmarks/results/calibration.json"
CALIBRATION_COMMAND = "python benchmarks/calibration.py --data PATH/TO/fer2013.csv.gz"
MIB_TO_GB = 1 / 1024  # install_size.py records MiB; the README's table shows them / 1024 as GB

FIGURES: list[Figure] = [
    *_notebook_time_figures(),
    Figure("install size, pip install -e . (GB)", INSTALL, _scaled(_dig("installs", "pip install -e .", "mb"), MIB_TO_GB),
           "python benchmarks/install_size.py",
           (Mention("README.md", r"\| `pip install -e \.` \| (?P<v>[\d.]+) GB"),
            Mention("docs/course.md", r"(?P<v>[\d.]+) GB for students"))),
    Figure("install size, pip install -e .[dev] (GB)", INSTALL,
           _scaled(_dig("installs", 'pip install -e ".[dev]"', "mb"), MIB_TO_GB), "python benchmarks/install_size.py",
           (Mention("README.md", r'\| `pip install -e "\.\[dev\]"` \| (?P<v>[\d.]+) GB'),
            Mention("docs/course.md", r"(?P<v>[\d.]+) GB with the web app"),
            Mention("docs/course.md", r"the first build \(a (?P<v>[\d.]+) GB environment"))),
    Figure("training time of the shipped model (min)", CARD, _dig("training_minutes_this_process"),
           "python -m fer_utils train ... (the model card)",
           (Mention("README.md", r"epochs took (?P<v>[\d.]+) minutes"),
            Mention("docs/course.md", r"takes (?P<v>[\d.]+)\s+minutes on the 2-core"))),
    Figure("PrivateTest accuracy of the shipped model", CARD, _dig("metrics", "PrivateTest", "accuracy"),
           "python -m fer_utils evaluate --split PrivateTest --write-card",
           (Mention("README.md", r"\*\*this series, `fer_vgg_bn.keras`\*\* \| (?P<v>[\d.]+) \|"),)),
    Figure("PrivateTest macro-F1 of the shipped model", CARD, _dig("metrics", "PrivateTest", "macro_f1"),
           "python -m fer_utils evaluate --split PrivateTest --write-card",
           (Mention("README.md", r"\*\*this series, `fer_vgg_bn.keras`\*\* \| [\d.]+ \| (?P<v>[\d.]+) \|"),)),
    Figure("warm restart training time (min)", EXPERIMENTS, _dig("training", "restart", "minutes"),
           "python benchmarks/accuracy_experiments.py --data PATH/TO/fer2013.csv.gz",
           (Mention("README.md", r"EMA\) of the weights scored each\s+epoch; (?P<v>[\d.]+) min on 2 cores"),
            Mention("notebooks/08_the_last_points.ipynb", r"the warm restart (?P<v>[\d.]+) min"))),
    *[Figure(f"PublicTest accuracy, {label}, {views} view(s)", EXPERIMENTS, _experiment_row(name, views),
             "python benchmarks/accuracy_experiments.py --data PATH/TO/fer2013.csv.gz",
             (Mention("README.md", rf"\| {re.escape(label)} \| " + (r"(?P<v>[\d.]+) /" if views == 1
                                                                  else r"[\d.]+ / [\d.]+ \| (?P<v>[\d.]+) /")),))
      for name, label in (("shipped", "shipped model"), ("restart best", "restart, best plain weights (epoch 16)"),
                          ("restart best_ema", "restart, best weight average (epoch 9)"))
      for views in (1, 4)],
    Figure("FER+ plurality agrees with the FER-2013 label (%)", FERPLUS, _scaled(_dig("all", "agreement"), 100),
           "python benchmarks/ferplus_agreement.py --data PATH/TO/fer2013.csv.gz",
           (Mention("README.md", r"agrees with the FER-2013 label on (?P<v>[\d.]+)%"),)),
    Figure("FER+ agreement counting ties (%)", FERPLUS, _scaled(_dig("all", "agreement_with_ties"), 100),
           "python benchmarks/ferplus_agreement.py --data PATH/TO/fer2013.csv.gz",
           (Mention("README.md", r"\((?P<v>[\d.]+)% counting ties"),)),
    Figure("FER+ agreement on fear faces (%)", FERPLUS, _scaled(_dig("per_class", "fear", "agreement"), 100),
           "python benchmarks/ferplus_agreement.py --data PATH/TO/fer2013.csv.gz",
           (Mention("README.md", r"only (?P<v>[\d.]+)% of fear"),)),
    Figure("FER+ agreement on disgust faces (%)", FERPLUS, _scaled(_dig("per_class", "disgust", "agreement"), 100),
           "python benchmarks/ferplus_agreement.py --data PATH/TO/fer2013.csv.gz",
           (Mention("README.md", r"(?P<v>[\d.]+)% of disgust"),)),
    *[Figure(f"{split} {label}, {name}", ENSEMBLES, _dig("rows", name, split, key), ENSEMBLES_COMMAND,
             (Mention("README.md", pattern),))
      for name, split, key, label, pattern in (
          (FIVE_TEACHERS, "PublicTest", "accuracy", "accuracy", r"PublicTest accuracy\s+measured \((?P<v>[\d.]+),"),
          (THREE_TEACHERS, "PublicTest", "accuracy", "accuracy", r"against (?P<v>[\d.]+) for\s+three"),
          (FIVE_TEACHERS, "PublicTest", "macro_f1", "macro-F1", r"PublicTest macro-F1 \((?P<v>[\d.]+) to"),
          (SIX_TEACHERS, "PublicTest", "macro_f1", "macro-F1", r"PublicTest macro-F1 \([\d.]+ to (?P<v>[\d.]+)\)"),
          (SIX_TEACHERS, "PrivateTest", "accuracy", "accuracy", r"six networks:\s+PrivateTest (?P<v>[\d.]+)"),
          (SIX_TEACHERS, "PrivateTest", "dedup_accuracy", "accuracy without duplicates",
           r"six networks:\s+PrivateTest [\d.]+ \((?P<v>[\d.]+) without\s+duplicates\)"),
          (SIX_TEACHERS, "PrivateTest", "macro_f1", "macro-F1", r"without duplicates\), macro-F1 (?P<v>[\d.]+),"),
          (SIX_TEACHERS, "PrivateTest", "disgust_recall", "disgust recall", r"macro-F1 [\d.]+,\s+disgust recall (?P<v>[\d.]+), still"),
          ("seed7_balanced", "PrivateTest", "disgust_recall", "disgust recall", r"PrivateTest from [\d.]+\s+\(seed0_fp32\) to (?P<v>[\d.]+)"),
          ("seed0_fp32", "PrivateTest", "disgust_recall", "disgust recall", r"PrivateTest from (?P<v>[\d.]+)\s+\(seed0_fp32\)"))],
    *[Figure(f"PublicTest {label}, five teachers' mean", CALIBRATION, get, CALIBRATION_COMMAND, (Mention("README.md", pattern),))
      for label, get, pattern in (
          ("accuracy (%)", _scaled(_dig("rows", FIVE_TEACHERS, "accuracy"), 100), r"mean is right on (?P<v>[\d.]+)% of PublicTest"),
          ("mean top probability", _dig("rows", FIVE_TEACHERS, "mean_top_probability"), r"mean top probability is (?P<v>[\d.]+);"),
          ("NLL at T=1", _dig("rows", FIVE_TEACHERS, "nll_by_temperature", "1.0"), r"likelihood is (?P<v>[\d.]+) at temperature 1,"),
          ("NLL at T=2", _dig("rows", FIVE_TEACHERS, "nll_by_temperature", "2.0"), r"at temperature 1, (?P<v>[\d.]+) at 2"),
          ("NLL at T=0.8", _dig("rows", FIVE_TEACHERS, "nll_by_temperature", "0.8"), r"lowest, (?P<v>[\d.]+), at 0\.8"),
          ("chosen temperature", _dig("rows", FIVE_TEACHERS, "chosen_temperature"), r"five teachers at temperature (?P<v>[\d.]+)"))],
    Figure("live notebook in the browser (annotated frames/s)", "benchmarks/results/live_browser.json",
           _dig("annotated_frames_per_s"), "FER_WRITE_RESULTS=1 python -m pytest tests/test_browser.py -s",
           (Mention("notebooks/06_live_webcam.ipynb", r"(?P<v>[\d.]+) annotated frames/s"),)),
]


def file_text(path: Path) -> str:
    """What a reader sees of a file: a notebook's markdown cells and text outputs, or the whole text."""
    if path.suffix != ".ipynb":
        return path.read_text()
    parts = []
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            parts.append("".join(cell["source"]))
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            parts += ["".join(v) if isinstance(v, list) else str(v) for mime, v in output.get("data", {}).items()
                      if mime in ("text/plain", "text/markdown")]
    return "\n".join(parts)


def agrees(value: float, written: str) -> bool:
    """True when `value` rounded to the digits of `written` is `written` ("2.2" agrees with 2.17)."""
    decimals = len(written.split(".")[1]) if "." in written else 0
    return abs(round(value, decimals) - float(written)) < 10 ** -(decimals + 3)


def check_figure(figure: Figure, root: Path = REPO) -> list[str]:
    """Every problem with one figure: its results file or value missing, a mention that no longer matches
    its file, a mention whose number disagrees with the value."""
    source = root / figure.source
    value = figure.get(json.loads(source.read_text())) if source.is_file() else None
    problems, texts = [], {}
    for mention in figure.mentions:
        path = root / mention.file
        if not path.is_file():
            problems.append(f"{figure.name}: {mention.file} is missing")
            continue
        text = texts.setdefault(mention.file, file_text(path))
        written = [m.group("v").rstrip(".") for m in re.finditer(mention.pattern, text)]
        if not written:
            if value is not None:
                problems.append(f"{figure.name}: {mention.file} no longer quotes it (pattern {mention.pattern!r}): "
                                "update the pattern in benchmarks/figures.py")
        elif value is None:
            problems.append(f"{figure.name}: {mention.file} quotes {', '.join(written)}, but {figure.source} has no "
                            f"measured value: run `{figure.command}`")
        else:
            problems += [f"{figure.name}: {mention.file} says {w}, {figure.source} says {value:.4g} "
                         f"(`{figure.command}`)" for w in written if not agrees(value, w)]
    return problems


def check_all(root: Path = REPO) -> list[str]:
    """The problems of every figure in FIGURES."""
    return [p for figure in FIGURES for p in check_figure(figure, root)]


if __name__ == "__main__":
    problems = check_all()
    for figure in FIGURES:
        source = REPO / figure.source
        value = figure.get(json.loads(source.read_text())) if source.is_file() else None
        print(f"{figure.name}: {'not measured' if value is None else f'{value:.4g}'} ({figure.source})")
    print("\n".join(["", f"{len(problems)} problem(s):", *problems]) if problems else "\nevery mention agrees")
    sys.exit(1 if problems else 0)
