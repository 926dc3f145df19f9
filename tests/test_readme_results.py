"""The README's results block is the model card and benchmark results rendered, not retyped."""
import importlib.util

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
