"""Self-check questions with instant feedback, for the notebooks' "Check yourself" cells.

A question is plain data (`Choice` or `Number`); `check_answer(question, answer)` is the one pure
function that grades an answer and returns `(ok, feedback)`: the explanation when right, the hint
when wrong. `ask(question_id)` shows a question from `QUESTIONS` as an ipywidget (a choice or a
number box, a Check button, the feedback below it) in JupyterLab. Where widgets cannot render
(GitHub, a static export, a terminal), the same output carries HTML and Markdown versions (the
question, with the answer in a collapsed <details> block) and a plain-text one (the question only);
none holds a memory address, so saved notebooks stay stable.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass

import ipywidgets as widgets


@dataclass(frozen=True)
class Choice:
    """A multiple-choice question: `options[answer]` is the right one."""

    prompt: str
    options: tuple[str, ...]
    answer: int
    hint: str
    explanation: str

    def __post_init__(self):
        if not 0 <= self.answer < len(self.options):
            raise ValueError(f"answer index {self.answer} is not one of the {len(self.options)} options")

    @property
    def answer_text(self) -> str:
        return self.options[self.answer]


@dataclass(frozen=True)
class Number:
    """A question whose answer is a number, accepted within +-`tolerance`."""

    prompt: str
    answer: float
    hint: str
    explanation: str
    tolerance: float = 0.0

    @property
    def answer_text(self) -> str:
        return f"{self.answer:g}"


Question = Choice | Number


def _parse_number(answer) -> float | None:
    """A float from a number or a string such as '1,234', ' 0.5 ', '1e3'; None if it is not one."""
    if isinstance(answer, bool):
        return None
    if isinstance(answer, (int, float)):
        return float(answer)
    try:
        value = float(str(answer).replace(",", "").replace("_", "").strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def check_answer(question: Question, answer) -> tuple[bool, str]:
    """Grade `answer`: (True, explanation) when right, (False, hint or what to enter) when not.

    A `Choice` takes the option's index or its text; a `Number` takes a number or a string of one.
    """
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        return False, "No answer yet: " + ("pick an option." if isinstance(question, Choice) else "type a number.")
    if isinstance(question, Choice):
        if isinstance(answer, int) and not isinstance(answer, bool):
            index = answer
        elif isinstance(answer, str) and answer.strip() in question.options:
            index = question.options.index(answer.strip())
        else:
            return False, f"{answer!r} is not one of the options: pick one of them."
        ok = index == question.answer
    else:
        value = _parse_number(answer)
        if value is None:
            return False, f"{answer!r} is not a number: type digits only, e.g. 42 or 0.25."
        ok = abs(value - question.answer) <= question.tolerance + 1e-9 * max(1.0, abs(question.answer))
    return (True, "Right. " + question.explanation) if ok else (False, "Not yet. Hint: " + question.hint)


def as_text(question: Question) -> str:
    """The question as plain text (the answer not shown)."""
    lines = [f"Self-check: {question.prompt}"]
    if isinstance(question, Choice):
        lines += [f"  ({chr(97 + k)}) {option}" for k, option in enumerate(question.options)]
    else:
        lines.append("  (answer with a number)")
    return "\n".join(lines)


def as_markdown(question: Question) -> str:
    """The question as Markdown, with the answer and explanation in a collapsed <details> block."""
    lines = [f"**Self-check.** {question.prompt}", ""]
    if isinstance(question, Choice):
        lines += [f"- ({chr(97 + k)}) {option}" for k, option in enumerate(question.options)]
        answer = f"({chr(97 + question.answer)}) {question.answer_text}"
    else:
        answer = question.answer_text + (f" (+-{question.tolerance:g})" if question.tolerance else "")
    lines += ["", "<details><summary>Show the answer</summary>", "",
              f"{answer}. {question.explanation}", "", "</details>"]
    return "\n".join(lines)


def as_html(question: Question) -> str:
    """The question as HTML, with the answer and explanation in a collapsed <details> block."""
    esc = html.escape
    parts = [f"<p><b>Self-check.</b> {esc(question.prompt)}</p>"]
    if isinstance(question, Choice):
        parts.append("<ul>" + "".join(f"<li>({chr(97 + k)}) {esc(o)}</li>" for k, o in enumerate(question.options))
                     + "</ul>")
        answer = f"({chr(97 + question.answer)}) {question.answer_text}"
    else:
        answer = question.answer_text + (f" (+-{question.tolerance:g})" if question.tolerance else "")
    parts.append(f"<details><summary>Show the answer</summary><p>{esc(answer)}. {esc(question.explanation)}</p></details>")
    return "".join(parts)


class SelfCheck(widgets.VBox):
    """The widget for one question: an input, a Check button and the feedback line."""

    def __init__(self, question: Question, **kwargs):
        self.question = question
        if isinstance(question, Choice):
            self.input = widgets.RadioButtons(options=list(question.options), value=None,
                                              layout=widgets.Layout(width="auto"))
        else:
            self.input = widgets.Text(placeholder="a number", layout=widgets.Layout(width="12em"))
        self.button = widgets.Button(description="Check", button_style="primary")
        self.feedback = widgets.HTML()
        self.button.on_click(self._check)
        prompt = widgets.HTML(f"<b>Self-check.</b> {html.escape(question.prompt)}")
        super().__init__([prompt, self.input, widgets.HBox([self.button, self.feedback])], **kwargs)

    def _check(self, _button=None) -> None:
        ok, message = check_answer(self.question, self.input.value)
        color = "#1a7f37" if ok else "#b42318"
        self.feedback.value = f'<span style="color:{color}">{"&#10004;" if ok else "&#10008;"} {html.escape(message)}</span>'

    def __repr__(self) -> str:
        return as_text(self.question)

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = as_text(self.question)  # whole, and without a memory address
        bundle["text/markdown"] = as_markdown(self.question)
        bundle["text/html"] = as_html(self.question)
        return bundle


def _conv_out(n: int, k: int, p: int, s: int) -> int:
    return (n + 2 * p - k) // s + 1


# The series' self-checks, by notebook. Answers that follow from a formula are computed by it.
QUESTIONS: dict[str, Question] = {
    "01.conv_output_size": Number(
        "A 48x48 face, a 3x3 kernel, no padding ('valid'), stride 2. How many pixels wide is the feature map?",
        answer=_conv_out(48, 3, 0, 2),
        hint="use (n + 2p - k) // s + 1 with n = 48, k = 3, p = 0, s = 2.",
        explanation="(48 + 0 - 3) // 2 + 1 = 23, as the stride/padding table printed."),
    "01.conv_parameters": Number(
        "How many trainable parameters has Conv2D(32 filters, 3x3 kernel) on a grey (1-channel) image, with bias?",
        answer=3 * 3 * 1 * 32 + 32,
        hint="each filter has 3 x 3 x (input channels) weights plus one bias.",
        explanation="32 filters x (3 x 3 x 1 weights + 1 bias) = 320."),
    "01.pooling": Choice(
        "What does a 2x2 max-pooling layer learn during training?",
        ("its 4 weights", "one weight per channel", "nothing: it has no weights", "the pool size"),
        answer=2,
        hint="look at pool2d: which numbers in it could training change?",
        explanation="Pooling is a fixed summary (max or mean) of each block; it has no parameters."),
    "01.softmax_equal": Number(
        "Seven equal logits go into softmax. What probability does each emotion get? (3 decimals)",
        answer=1 / 7, tolerance=0.001,
        hint="softmax only depends on differences between logits; all differences are 0.",
        explanation="e^z / (7 e^z) = 1/7 = 0.143 for each."),
    "02.which_split": Choice(
        "You compare two learning rates. On which split do you pick the better one?",
        ("Training", "PublicTest", "PrivateTest", "whichever gives the higher accuracy"),
        answer=1,
        hint="one split is for learning weights, one for choices, one only for the final report.",
        explanation="PublicTest is the validation set: every choice is made there; PrivateTest only reports."),
    "02.macro_f1": Number(
        "A model has F1 0.90 on happy and 0.30 on disgust, and only those two classes exist. "
        "Happy has 16 times as many faces. What is its macro-F1?",
        answer=(0.90 + 0.30) / 2, tolerance=0.005,
        hint="macro means every class counts the same, whatever its size.",
        explanation="(0.90 + 0.30) / 2 = 0.60: disgust weighs as much as happy."),
    "03.dense_after_gap": Number(
        "Global average pooling gives 256 numbers; a Dense(7) layer with bias follows. How many parameters has it?",
        answer=256 * 7 + 7,
        hint="one weight per (input, output) pair, plus one bias per output.",
        explanation="256 x 7 + 7 = 1,799, against about 2.3 million in the baseline's Flatten + Dense(1024)."),
    "03.label_smoothing": Number(
        "Keras' label smoothing 0.1 with 7 classes: what target does each WRONG class get? (4 decimals)",
        answer=0.1 / 7, tolerance=0.0005,
        hint="Keras computes y * (1 - 0.1) + 0.1 / 7 for every class.",
        explanation="0 x 0.9 + 0.1 / 7 = 0.0143; the true class gets 0.9 + 0.0143 = 0.914."),
    "03.overfitting": Choice(
        "Training loss keeps falling; validation loss has risen for 10 epochs. What is happening?",
        ("underfitting: train longer", "overfitting: the network memorizes the training faces",
         "the learning rate is too low", "the validation set is too easy"),
        answer=1,
        hint="which set does the network improve on, and which does it get worse on?",
        explanation="Better on the faces it learns from, worse on new ones: overfitting."),
    "04.recall": Number(
        "Of 528 fear faces the model labels 255 as fear; it says 'fear' 423 times in all. What is fear's recall? (3 decimals)",
        answer=255 / 528, tolerance=0.001,
        hint="recall: of the faces that ARE fear, the share it finds.",
        explanation="255 / 528 = 0.483 (precision would be 255 / 423 = 0.603)."),
    "04.tta_cost": Number(
        "Test-time augmentation with the face, its mirror image and both zoomed in by 10%: how many forward "
        "passes per face?",
        answer=4,
        hint="count the views: original, mirror, and a zoomed copy of each.",
        explanation="4 views, so 4 passes: 4x the cost of a single pass for about 2.7 points of accuracy."),
    "04.tta_choice": Choice(
        "Which split may you use to choose the test-time views?",
        ("PrivateTest, since it is the test set", "PublicTest", "both, averaged", "neither: views need no choice"),
        answer=1,
        hint="choosing is a decision like any hyperparameter.",
        explanation="A choice made on PrivateTest would make its figure optimistic; choose on PublicTest."),
    "05.min_neighbors": Choice(
        "You raise the face detector's min_neighbors from 5 to 8. What do you expect?",
        ("more faces found, more false alarms", "fewer false alarms, more missed faces", "faster detection only",
         "no change"),
        answer=1,
        hint="min_neighbors is how many overlapping hits a window needs to count as a face.",
        explanation="A stricter vote removes false alarms and also misses harder faces (Grace Hopper at 320 px)."),
    "05.smoothing": Number(
        "smoothing=0.5: the previous frame said happy 0.8, this frame alone says happy 0.2. What happy probability "
        "is reported?",
        answer=0.5 * 0.8 + 0.5 * 0.2, tolerance=0.001,
        hint="reported = smoothing x previous + (1 - smoothing) x current.",
        explanation="0.5 x 0.8 + 0.5 x 0.2 = 0.5: the label changes more slowly than the raw predictions."),
    "06.frame_rate": Number(
        "The kernel needs 50 ms per frame and handles one frame at a time. At most how many frames per second "
        "can the widget show?",
        answer=1000 / 50,
        hint="frames per second = 1000 ms / (ms per frame).",
        explanation="1000 / 50 = 20 frames/s; sending two frames at a time hides latency but not the kernel's cost."),
    "06.ai_act": Choice(
        "Where does the EU AI Act prohibit emotion recognition (outside medical and safety reasons)?",
        ("nowhere", "in workplaces and educational institutions", "only in public spaces", "only on video"),
        answer=1,
        hint="re-read section 4 of notebook 06.",
        explanation="Article 5 prohibits it in workplaces and education; elsewhere it is high-risk or has transparency duties."),
    "07.cache_detector": Choice(
        "Streamlit re-runs the whole app script on every click. Why is the detector behind st.cache_resource?",
        ("so the model loads once per server, not on every rerun", "so the answers are the same every time",
         "so uploads are saved to disk", "caching makes the network more accurate"),
        answer=0,
        hint="what would happen to a 1-2 s model load if it ran on every click?",
        explanation="Loading the model is the slow part; the cache keeps one detector per server process."),
    "07.camera_https": Choice(
        "A student opens your app at http://192.168.1.20:8501 on another laptop. What works?",
        ("everything", "photo uploads only: browsers offer the camera only on https or localhost",
         "the camera only", "nothing"),
        answer=1,
        hint="browsers treat cameras as a powerful feature for secure pages.",
        explanation="Over plain http from another machine, uploads work but getUserMedia is refused; serve https."),
    "08.ensemble_cost": Number(
        "An ensemble of 3 networks, each with the 4 test-time views: how many forward passes per face?",
        answer=3 * 4,
        hint="every network sees every view.",
        explanation="3 x 4 = 12 passes, 12 times a single pass: why an ensemble is usually distilled into one network before it ships."),
    "08.choose_on_validation": Choice(
        "You tried 10 training recipes. Which figure do you report as the chosen recipe's accuracy?",
        ("its best PrivateTest figure", "its PrivateTest figure, after choosing it on PublicTest",
         "the mean PublicTest figure of all 10", "its training accuracy"),
        answer=1,
        hint="picking the best of 10 on a split makes that split's figure optimistic.",
        explanation="Choose on PublicTest, then report PrivateTest once: it played no part in the choice."),
}


def ask(question_id: str) -> SelfCheck:
    """The self-check widget for `QUESTIONS[question_id]`, e.g. `ask("01.conv_output_size")`."""
    if question_id not in QUESTIONS:
        raise KeyError(f"no self-check {question_id!r}; known: {', '.join(sorted(QUESTIONS))}")
    return SelfCheck(QUESTIONS[question_id])
