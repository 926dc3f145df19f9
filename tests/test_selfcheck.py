"""Self-checks: right answers are accepted, wrong ones get the hint, the widget shows what check_answer says,
and the static fallbacks hold the question (and, for Markdown, the hidden answer) with no memory address."""
import re

import pytest

from fer_utils.selfcheck import QUESTIONS, Choice, Number, SelfCheck, as_html, as_markdown, as_text, ask, check_answer

CONV = Number("output width?", answer=23, hint="use the formula", explanation="(48 - 3) // 2 + 1 = 23")
SOFTMAX = Number("softmax of 7 equal logits?", answer=1 / 7, tolerance=0.001, hint="all equal", explanation="1/7")
SPLIT = Choice("which split for choices?", ("Training", "PublicTest", "PrivateTest"), answer=1,
               hint="not the test set", explanation="validation")


@pytest.mark.parametrize("answer", [23, 23.0, "23", " 23 ", "23.0"])
def test_number_right(answer):
    ok, feedback = check_answer(CONV, answer)
    assert ok and feedback.startswith("Right.") and "(48 - 3)" in feedback


@pytest.mark.parametrize("answer", [22, "24", 23.5, "-23"])
def test_number_wrong_gives_the_hint(answer):
    ok, feedback = check_answer(CONV, answer)
    assert not ok and "use the formula" in feedback


def test_number_tolerance_edges():
    assert check_answer(SOFTMAX, "0.143")[0]
    assert check_answer(SOFTMAX, 0.1425)[0]
    assert not check_answer(SOFTMAX, 0.145)[0]
    assert not check_answer(SOFTMAX, 0.14)[0]


@pytest.mark.parametrize("answer", ["twenty", "", "  ", None, True, "nan", "inf"])
def test_number_not_a_number(answer):
    ok, feedback = check_answer(CONV, answer)
    assert not ok and "use the formula" not in feedback  # says what to enter, not the hint
    assert "number" in feedback


def test_thousands_separator():
    assert check_answer(Number("p?", answer=1799, hint="h", explanation="e"), "1,799")[0]


@pytest.mark.parametrize("answer", [1, "PublicTest"])
def test_choice_right(answer):
    assert check_answer(SPLIT, answer) == (True, "Right. validation")


@pytest.mark.parametrize("answer", [0, 2, "PrivateTest"])
def test_choice_wrong_gives_the_hint(answer):
    ok, feedback = check_answer(SPLIT, answer)
    assert not ok and "not the test set" in feedback


@pytest.mark.parametrize("answer", ["Validation", None, 7.5])
def test_choice_not_an_option(answer):
    ok, feedback = check_answer(SPLIT, answer)
    assert not ok and "not the test set" not in feedback


def test_choice_answer_must_be_an_option():
    with pytest.raises(ValueError, match="answer index 3"):
        Choice("q", ("a", "b"), answer=3, hint="h", explanation="e")


@pytest.mark.parametrize("qid", sorted(QUESTIONS))
def test_every_series_question_grades_its_answer(qid):
    q = QUESTIONS[qid]
    assert check_answer(q, q.answer)[0]
    assert check_answer(q, q.answer_text)[0]
    wrong = (q.answer + 1) % len(q.options) if isinstance(q, Choice) else q.answer + 10 * q.tolerance + 1
    ok, feedback = check_answer(q, wrong)
    assert not ok and q.hint in feedback
    assert re.fullmatch(r"\d\d\.[a-z_0-9]+", qid)


def test_series_answers_follow_from_the_notebooks_formulas():
    assert QUESTIONS["01.conv_output_size"].answer == (48 - 3) // 2 + 1
    assert QUESTIONS["01.conv_parameters"].answer == 320
    assert QUESTIONS["03.dense_after_gap"].answer == 1799


def test_widget_shows_check_answer_feedback():
    w = SelfCheck(CONV)
    w.button.click()
    assert "No answer yet" in w.feedback.value
    w.input.value = "22"
    w.button.click()
    assert "use the formula" in w.feedback.value and "&#10008;" in w.feedback.value
    w.input.value = "23"
    w.button.click()
    assert "Right." in w.feedback.value and "&#10004;" in w.feedback.value


def test_choice_widget_starts_unselected_and_grades_the_pick():
    w = SelfCheck(SPLIT)
    assert w.input.value is None
    w.input.value = "PrivateTest"
    w.button.click()
    assert "not the test set" in w.feedback.value
    w.input.value = "PublicTest"
    w.button.click()
    assert "Right." in w.feedback.value


def test_fallbacks_are_stable_and_hide_the_answer_in_details():
    w = ask("01.conv_output_size")
    bundle = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    for text in (bundle["text/plain"], bundle["text/markdown"], bundle["text/html"], repr(w)):
        assert "0x" not in text and " at " not in text
    assert bundle["text/plain"] == as_text(w.question) == repr(ask("01.conv_output_size"))
    assert "23" not in bundle["text/plain"]
    md, page = as_markdown(SPLIT), as_html(SPLIT)
    assert md.index("<details>") < md.index("(b) PublicTest. validation") < md.index("</details>")
    assert page.index("<details>") < page.index("(b) PublicTest. validation") < page.index("</details>")
    assert "&lt;" in as_html(Choice("is 2 < 3?", ("yes", "no"), answer=0, hint="h", explanation="e"))


def test_unknown_question_id_names_the_known_ones():
    with pytest.raises(KeyError, match="01.conv_output_size"):
        ask("01.no_such_question")
