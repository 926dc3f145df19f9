"""The course guide and the glossary: every relative link points at a file that exists and, for a
notebook section, at a heading the notebook still has (GitHub's anchor for it); the README links both."""
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "docs" / "course.md", ROOT / "docs" / "glossary.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def github_anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lstrip("#").strip().lower()).replace(" ", "-")


def notebook_anchors(path: Path) -> set[str]:
    nb = nbformat.read(path, as_version=4)
    return {github_anchor(line) for cell in nb.cells if cell.cell_type == "markdown"
            for line in cell.source.splitlines() if re.match(r"^#{1,6} ", line)}


def relative_links(doc: Path) -> list[str]:
    return [t for t in LINK.findall(doc.read_text()) if not re.match(r"^[a-z]+:", t) and not t.startswith("#")]


def test_github_anchor():
    assert github_anchor("## 4. Stride and padding set the feature map's size") == "4-stride-and-padding-set-the-feature-maps-size"
    assert github_anchor("## 2. How many faces per emotion?") == "2-how-many-faces-per-emotion"


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_links_resolve(doc):
    links = relative_links(doc)
    assert links, f"{doc.name} has no links"
    for target in links:
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve()
        assert file.exists(), f"{doc.name}: {target} points at a missing file"
        if anchor and file.suffix == ".ipynb":
            assert anchor in notebook_anchors(file), f"{doc.name}: {target}: the notebook has no such heading"


def test_glossary_covers_the_issue_terms():
    defined = " | ".join(re.findall(r"^\*\*(.+?)\*\*:", (ROOT / "docs" / "glossary.md").read_text().lower(), re.M))
    for term in ("kernel", "stride", "padding", "feature map", "receptive field", "pooling", "softmax", "logits",
                 "label smoothing", "augmentation", "tta", "macro-f1", "grad-cam", "loss", "gradient", "optimizer",
                 "learning rate", "batch normalization", "dropout", "litert", "ensemble", "distillation", "mixup"):
        assert term in defined, f"the glossary does not define {term!r}"


def test_readme_links_the_course_docs():
    readme = (ROOT / "README.md").read_text()
    assert "docs/course.md" in readme and "docs/glossary.md" in readme


COURSE_NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))
# Notebooks other sessions are editing now; the lead empties this list once each has its contents cell.
CONTENTS_TO_ADD: set[str] = set()


@pytest.mark.parametrize("path", COURSE_NOTEBOOKS, ids=[f"{p.parent.name}/{p.name}" for p in COURSE_NOTEBOOKS])
def test_each_notebook_opens_with_its_contents(path):
    """A cell with id `contents` among the first four lists every `## ` section, in order, linked to its heading."""
    if f"{path.parent.name}/{path.name}" in CONTENTS_TO_ADD:
        pytest.skip("contents cell not added yet (CONTENTS_TO_ADD)")
    nb = nbformat.read(path, as_version=4)
    ids = [c.get("id") for c in nb.cells]
    assert "contents" in ids[:4], f"{path.name}: no cell with id 'contents' among the first four"
    contents = nb.cells[ids.index("contents")].source
    sections = [line[3:] for c in nb.cells if c.cell_type == "markdown" and c.get("id") != "contents"
                for line in c.source.splitlines() if line.startswith("## ")]
    listed = re.findall(r"^- \[(.+)\]\(#([^)]+)\)$", contents, re.M)
    assert [title for title, _ in listed] == sections, f"{path.name}: the contents do not list the sections in order"
    assert all(anchor == github_anchor(title) for title, anchor in listed)


def test_contents_list_is_still_needed():
    for name in CONTENTS_TO_ADD:
        nb = nbformat.read(ROOT / name, as_version=4)
        assert "contents" not in [c.get("id") for c in nb.cells], f"{name} has its contents now: remove it from CONTENTS_TO_ADD"


def test_readme_opens_in_binder_and_says_it_is_not_tested():
    readme = (ROOT / "README.md").read_text()
    link = re.search(r"\(https://mybinder\.org/v2/gh/([^/)]+)/([^/)]+)/HEAD\?urlpath=lab/tree/notebooks\)", readme)
    assert link, "the README has no Open in Binder link to the notebooks"
    assert (ROOT / "environment.yml").is_file() and (ROOT / "notebooks").is_dir()
    assert "Not tested on mybinder.org" in readme
