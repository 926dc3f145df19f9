"""The student edition: built from the teacher's notebooks into a temporary folder, every output
cleared, every marked cell (tag `student`) present and stubbed, nothing else changed, and the marking
convention kept (no solution markers outside marked cells, no exercises without a marked cell)."""
from pathlib import Path

import nbformat
import pytest

from fer_utils.student import (BEGIN, END, STUB, build_student_edition, is_marked, marking_problems,
                               stub_source, student_notebook)

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
TEACHER = sorted(NOTEBOOKS.glob("*.ipynb"))

MARKED = f"""# Exercise 2: max pooling.
def max_pool(x, size=2):
    {BEGIN}
    return x.reshape(-1, size).max(axis=1)
    {END}

print(max_pool(data))"""


def solution_lines(source: str) -> list[str]:
    """The non-blank lines between the markers (or, without markers, after the leading comments)."""
    lines = source.splitlines()
    if any(line.strip() == BEGIN for line in lines):
        inside, out = False, []
        for line in lines:
            if line.strip() in (BEGIN, END):
                inside = line.strip() == BEGIN
            elif inside and line.strip():
                out.append(line)
        return out
    k = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    return [line for line in lines[k:] if line.strip()]


def test_stub_replaces_the_marked_block_and_keeps_the_rest():
    out = stub_source(MARKED)
    assert out.splitlines() == [
        "# Exercise 2: max pooling.", "def max_pool(x, size=2):", f"    {STUB}",
        '    raise NotImplementedError("your turn: write this part, then run the cell")', "", "print(max_pool(data))"]
    compile(out, "<student cell>", "exec")  # still valid Python


def test_stub_without_markers_keeps_the_task_comments():
    out = stub_source("# Exercise 1: count the faces.\n# Use data.counts().\nprint(data.counts())")
    assert out.startswith("# Exercise 1: count the faces.\n# Use data.counts().\n" + STUB)
    assert "print(" not in out


@pytest.mark.parametrize("source", [f"{BEGIN}\nx = 1", f"x = 1\n{END}", f"{BEGIN}\n{BEGIN}\n{END}"])
def test_unbalanced_markers_are_an_error(source):
    with pytest.raises(ValueError, match="SOLUTION"):
        stub_source(source)


def make_notebook(marked_source: str | None, exercises: bool = True, markers_unmarked: bool = False):
    cells = [nbformat.v4.new_markdown_cell("# 99. Test"), nbformat.v4.new_code_cell("x = 1")]
    cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    cells[1].execution_count = 1
    if exercises:
        cells.append(nbformat.v4.new_markdown_cell("## Exercises\nDo them."))
    if marked_source is not None:
        cell = nbformat.v4.new_code_cell(marked_source)
        cell.metadata["tags"] = ["student", "exercise"]
        cells.append(cell)
    if markers_unmarked:
        cells.append(nbformat.v4.new_code_cell(f"{BEGIN}\nanswer = 42\n{END}"))
    return nbformat.v4.new_notebook(cells=cells)


def test_marking_problems_are_found():
    assert marking_problems(make_notebook(MARKED)) == []
    assert "no cell tagged 'student'" in " ".join(marking_problems(make_notebook(None)))
    assert "solution markers but no 'student' tag" in " ".join(marking_problems(make_notebook(MARKED, markers_unmarked=True)))
    untagged = make_notebook(MARKED)
    untagged.cells[-1].metadata["tags"] = ["exercise"]
    assert "tagged 'exercise' but not 'student'" in " ".join(marking_problems(untagged))


def test_build_refuses_a_notebook_that_breaks_the_convention(tmp_path):
    src = tmp_path / "teacher"
    src.mkdir()
    nbformat.write(make_notebook(None), src / "99_test.ipynb")
    with pytest.raises(ValueError, match="99_test.ipynb: it has exercises but no cell tagged 'student'"):
        build_student_edition(src, tmp_path / "student")


def test_student_notebook_of_a_small_notebook():
    nb = make_notebook(MARKED)
    out = student_notebook(nb)
    assert out.cells[1].outputs == [] and out.cells[1].execution_count is None
    assert nb.cells[1].outputs, "the teacher's notebook is not modified"
    assert STUB in out.cells[-1].source and "reshape" not in out.cells[-1].source


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    return out, build_student_edition(NOTEBOOKS, out)


def test_every_notebook_has_a_student_copy(edition):
    out, marked = edition
    assert TEACHER, "no notebooks found"
    assert sorted(marked) == [p.name for p in TEACHER]
    assert sorted(p.name for p in out.glob("*.ipynb")) == [p.name for p in TEACHER]


@pytest.mark.parametrize("path", TEACHER, ids=[p.name for p in TEACHER])
def test_student_copy_matches_the_convention(edition, path):
    out, marked = edition
    teacher = nbformat.read(path, as_version=4)
    student = nbformat.read(out / path.name, as_version=4)
    assert marking_problems(teacher) == []
    assert [c.get("id") for c in student.cells] == [c.get("id") for c in teacher.cells]
    assert marked[path.name] == sum(is_marked(c) for c in teacher.cells) == sum(is_marked(c) for c in student.cells)
    assert "widgets" not in student.metadata
    for t, s in zip(teacher.cells, student.cells):
        if s.cell_type == "code":
            assert s.outputs == [] and s.execution_count is None
        if not is_marked(t):
            assert s.source == t.source
            continue
        assert STUB in s.source and "NotImplementedError" in s.source
        leaked = [line for line in solution_lines(t.source) if line in s.source.splitlines()]
        assert not leaked, f"solution lines left in the student copy: {leaked}"


def test_cli_builds_the_edition(run_cli, tmp_path):
    proc = run_cli("student", "--out", str(tmp_path / "student"))
    assert proc.returncode == 0, proc.stderr
    assert len(list((tmp_path / "student").glob("*.ipynb"))) == len(TEACHER)
    assert "outputs cleared" in proc.stdout


def test_cli_names_a_missing_folder(run_cli, tmp_path):
    proc = run_cli("student", "--notebooks", str(tmp_path / "nowhere"), "--out", str(tmp_path / "s"))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no notebooks" in proc.stderr
