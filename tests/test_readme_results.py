"""The README's results block is the model card and benchmark results rendered, not retyped."""
import importlib.util
import json
import sys

from fer_utils.data import PROJECT_ROOT


def load_generator():
    spec = importlib.util.spec_from_file_location("readme_results", PROJECT_ROOT / "benchmarks" / "readme_results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_results_block_matches_the_model_card_and_benchmark_results():
    gen = load_generator()
    readme = (PROJECT_ROOT / "README.md").read_text()
    block = gen.results_block(*gen.load_sources())
    assert block in readme, "README.md is out of date with the model card: run python benchmarks/readme_results.py"


def test_the_block_shows_both_the_full_and_the_deduplicated_figures():
    gen = load_generator()
    card, peer, tta = gen.load_sources()
    block = gen.results_block(card, peer, tta)
    private = card["metrics"]["PrivateTest"]
    assert f"| {private['accuracy']:.3f} | {private['macro_f1']:.3f} | {private['dedup_accuracy']:.3f} |" in block


def load_figures():
    spec = importlib.util.spec_from_file_location("figures", PROJECT_ROOT / "benchmarks" / "figures.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


# Quotes of figures that wait for a measurement on a quiet machine, or for a file another session is
# editing: each names the figure and the file. The lead empties this list after running
# `python benchmarks/notebook_times.py --mode quick --mode full --data PATH --update-notebooks` on a quiet
# machine and fixing the other files; it must never grow to make the test pass.
AWAITING_REMEASURE: set[tuple[str, str]] = set()


def test_every_quoted_figure_agrees_with_its_results_file():
    problems = [p for p in load_figures().check_all()
                if not any(p.startswith(f"{figure}: {file} ") for figure, file in AWAITING_REMEASURE)]
    assert not problems, "\n".join(problems)


def test_every_awaited_figure_still_needs_it():
    """An entry of AWAITING_REMEASURE that agrees now must leave the list (it would hide a regression)."""
    problems = load_figures().check_all()
    stale = [entry for entry in AWAITING_REMEASURE if not any(p.startswith(f"{entry[0]}: {entry[1]} ") for p in problems)]
    assert not stale, f"these agree now: remove them from AWAITING_REMEASURE: {sorted(stale)}"


def test_the_figure_check_catches_a_disagreement(tmp_path):
    figures = load_figures()
    (tmp_path / "r.json").write_text('{"a": {"b": 2.17}}')
    (tmp_path / "doc.md").write_text("It needs 2.2 GB. Later: 2.17 GB. Elsewhere: 2.5 GB.")
    figure = figures.Figure("size", "r.json", figures._dig("a", "b"), "python make.py",
                            (figures.Mention("doc.md", r"(?P<v>[\d.]+) GB"),))
    assert figures.check_figure(figure, tmp_path) == ["size: doc.md says 2.5, r.json says 2.17 (`python make.py`)"]
    (tmp_path / "doc.md").write_text("no figure here")
    assert "no longer quotes it" in figures.check_figure(figure, tmp_path)[0]
    (tmp_path / "r.json").write_text("{}")
    assert figures.check_figure(figure, tmp_path) == [], "a figure not measured and not quoted is no problem"
    (tmp_path / "doc.md").write_text("It needs 2.2 GB.")
    assert "has no measured value" in figures.check_figure(figure, tmp_path)[0]


def test_the_model_card_names_the_split_of_each_evaluation():
    card = json.loads((PROJECT_ROOT / "models" / "fer_vgg_bn.json").read_text())
    for split in card["metrics"]:
        assert f"--split {split}" in card["evaluation_commands"][split]
    assert "--split PrivateTest" in card["evaluation_command"], \
        "the card's evaluation command must be the one behind the PrivateTest figures the README and notebook 04 report"
