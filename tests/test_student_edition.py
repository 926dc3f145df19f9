"""The two editions: the student edition built from the teacher's notebooks into a temporary folder,
every output cleared, every marked cell (tag `student`) present and stubbed, instructor-only text and
every reference to the worked solutions gone, nothing else changed; the instructor edition with the
notebooks and the worked solutions; the marking convention kept (no solution markers outside marked
cells, no Exercises section without a marked cell, autograded checks after a marked cell); and the
autograded checks executed in both editions: they fail on the stub and pass on the solution."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from fer_utils.student import (BEGIN, END, STUB, build_instructor_edition, build_student_edition, is_autograded,
                               is_marked, marking_problems, solution_references, student_markdown, stub_source,
                               student_notebook)

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOLUTIONS = NOTEBOOKS.parent / "solutions"
TEACHER = sorted(NOTEBOOKS.glob("*.ipynb"))
AUTOGRADED = [p for p in TEACHER if any(is_autograded(c) for c in nbformat.read(p, as_version=4).cells)]

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


def make_notebook(marked_source: str | None, exercises: bool = True, markers_unmarked: bool = False,
                  exercises_heading: str = "## Exercises\nDo them."):
    cells = [nbformat.v4.new_markdown_cell("# 99. Test"), nbformat.v4.new_code_cell("x = 1")]
    cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    cells[1].execution_count = 1
    if exercises:
        cells.append(nbformat.v4.new_markdown_cell(exercises_heading))
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


def test_an_exercises_section_without_a_cell_to_write_is_found():
    """Notebook 07's old mistake: the Exercises heading at the end of the last cell, after "What we learned",
    so the marked cell above it is not in the section and the student edition stubs nothing there."""
    late = make_notebook(None, exercises=False)
    late.cells.append(nbformat.v4.new_code_cell(MARKED))
    late.cells[-1].metadata["tags"] = ["student"]
    late.cells.append(nbformat.v4.new_markdown_cell("## What we learned\n- things\n\n### Exercises\n1. Do it."))
    assert "Exercises section (the heading in cell 3) has no cell tagged 'student'" in " ".join(marking_problems(late))
    # the section ends at the next heading of its level: a marked cell after it does not count
    ended = make_notebook(None)
    ended.cells.append(nbformat.v4.new_markdown_cell("## What we learned"))
    ended.cells.append(nbformat.v4.new_code_cell(MARKED))
    ended.cells[-1].metadata["tags"] = ["student"]
    assert "has no cell tagged 'student'" in " ".join(marking_problems(ended))
    assert marking_problems(make_notebook(MARKED, exercises_heading="### Exercises\nDo them.")) == []


def test_an_autograded_check_must_follow_a_marked_cell():
    nb = make_notebook(MARKED)
    check = nbformat.v4.new_code_cell("assert max_pool(data) is not None")
    check.metadata["tags"] = ["autograded"]
    nb.cells.append(check)
    assert marking_problems(nb) == []
    nb.cells.insert(1, copy_of(check))
    assert "tagged 'autograded' but does not follow a cell tagged 'student'" in " ".join(marking_problems(nb))


def copy_of(cell):
    return nbformat.from_dict(dict(cell))


def test_instructor_text_and_solution_links_leave_the_student_copy():
    source = ("## Exercises\nWrite them.\n<!-- BEGIN INSTRUCTOR -->\nWorked: [key](../solutions/99_test_solutions.ipynb)."
              "\n<!-- END INSTRUCTOR -->\nSolutions: ask your teacher (`solutions/` in the repository).")
    assert student_markdown(source) == "## Exercises\nWrite them.\nSolutions: ask your teacher."
    nb = make_notebook(MARKED, exercises_heading=source)
    assert solution_references(nb) and solution_references(student_notebook(nb)) == []


def test_build_refuses_a_student_copy_that_points_at_the_solutions(tmp_path):
    src = tmp_path / "teacher"
    src.mkdir()
    nbformat.write(make_notebook(MARKED, exercises_heading="## Exercises\nAnswers: solutions/99_test_solutions.ipynb"),
                   src / "99_test.ipynb")
    with pytest.raises(ValueError, match="99_test.ipynb: the student copy would point at the worked solutions"):
        build_student_edition(src, tmp_path / "student")
    assert not (tmp_path / "student").exists(), "nothing is written when a notebook is refused"


def test_build_refuses_a_notebook_that_breaks_the_convention(tmp_path):
    src = tmp_path / "teacher"
    src.mkdir()
    nbformat.write(make_notebook(None), src / "99_test.ipynb")
    with pytest.raises(ValueError, match="99_test.ipynb: its Exercises section .* has no cell tagged 'student'"):
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
    assert solution_references(student) == [], "the student copy points at the worked solutions"
    for t, s in zip(teacher.cells, student.cells):
        if s.cell_type == "code":
            assert s.outputs == [] and s.execution_count is None
        assert "INSTRUCTOR -->" not in s.source
        if not is_marked(t):
            assert s.source == (student_markdown(t.source) if t.cell_type == "markdown" else t.source)
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


def test_cli_builds_the_instructor_edition(run_cli, tmp_path):
    proc = run_cli("student", "--edition", "instructor", "--out", str(tmp_path / "instructor"))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "instructor").glob("*.ipynb")) == [p.name for p in TEACHER]
    assert sorted(p.name for p in (tmp_path / "instructor" / "solutions").glob("*.ipynb")) == \
        sorted(p.name for p in SOLUTIONS.glob("*.ipynb"))
    assert (tmp_path / "instructor" / TEACHER[-1].name).read_bytes() == TEACHER[-1].read_bytes()


def run_until_last_check(path: Path, monkeypatch) -> nbformat.NotebookNode:
    """The notebook at `path` executed in quick mode up to its last autograded cell, errors kept in the outputs."""
    nb = nbformat.read(path, as_version=4)
    last = max(k for k, c in enumerate(nb.cells) if is_autograded(c))
    nb.cells = nb.cells[:last + 1]
    monkeypatch.setenv("FER_QUICK", "1")
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def error_of(cell) -> str | None:
    return next((o.ename for o in cell.get("outputs", []) if o.output_type == "error"), None)


@pytest.mark.parametrize("path", AUTOGRADED, ids=[p.name for p in AUTOGRADED])
def test_autograded_checks_fail_on_the_stub_and_pass_on_the_solution(path, tmp_path, monkeypatch):
    build_instructor_edition(NOTEBOOKS, SOLUTIONS, tmp_path / "instructor")
    build_student_edition(NOTEBOOKS, tmp_path / "student")
    instructor = run_until_last_check(tmp_path / "instructor" / path.name, monkeypatch)
    student = run_until_last_check(tmp_path / "student" / path.name, monkeypatch)
    checks = [k for k, c in enumerate(instructor.cells) if is_autograded(c)]
    assert checks
    for k in checks:
        assert error_of(instructor.cells[k]) is None, f"{path.name} cell {k}: the check fails on the solution"
        assert "every check passes" in "".join(o.get("text", "") for o in instructor.cells[k].outputs)
        assert error_of(student.cells[k]) is not None, f"{path.name} cell {k}: the check passes on the stub"
    for k, cell in enumerate(student.cells):
        if is_marked(cell):
            assert error_of(cell) == "NotImplementedError", f"{path.name} cell {k}: the stub does not say it is one"
        elif not is_autograded(cell) and k < checks[0]:
            assert error_of(cell) is None, f"{path.name} cell {k} fails before any exercise: {error_of(cell)}"
