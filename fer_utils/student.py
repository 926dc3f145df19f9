"""The student edition: copies of the notebooks with every output cleared and the marked cells left
for the student to write.

The series' convention for marking a cell (the same markers as nbgrader):

- a code cell tagged `student` is one the student writes. In the teacher's notebook it holds working
  code, so CI runs it; in the student edition the code between `### BEGIN SOLUTION` and
  `### END SOLUTION` becomes `# YOUR CODE HERE` + `raise NotImplementedError(...)`, at the markers'
  indentation. Without markers, the cell's leading comment lines (the task) are kept and the rest
  is replaced.
- everything else (prose, set-up, the checks after a marked block, self-checks) is kept as it is.

Build it with `python -m fer_utils student` (writes `student/`, which git ignores).
"""
from __future__ import annotations

import copy
from pathlib import Path

import nbformat

STUDENT_TAG = "student"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "# YOUR CODE HERE"


def _stub(indent: str) -> list[str]:
    return [f"{indent}{STUB}", f'{indent}raise NotImplementedError("your turn: write this part, then run the cell")']


def stub_source(source: str) -> str:
    """The student's version of a marked cell's source (see the module docstring)."""
    lines = source.splitlines()
    if not any(line.strip() == BEGIN for line in lines):
        if any(line.strip() == END for line in lines):
            raise ValueError(f"'{END}' without '{BEGIN}'")
        task = []
        for line in lines:
            if not line.startswith("#"):
                break
            task.append(line)
        return "\n".join(task + _stub(""))
    out, inside = [], False
    for line in lines:
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ValueError(f"'{BEGIN}' twice without '{END}'")
            inside = True
            out += _stub(line[:len(line) - len(line.lstrip())])
        elif marker == END:
            if not inside:
                raise ValueError(f"'{END}' without '{BEGIN}'")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"'{BEGIN}' without '{END}'")
    return "\n".join(out)


def is_marked(cell) -> bool:
    """True for a code cell the student writes (tagged `student`)."""
    return cell.cell_type == "code" and STUDENT_TAG in cell.get("metadata", {}).get("tags", [])


def marking_problems(nb: nbformat.NotebookNode) -> list[str]:
    """What breaks the convention: solution markers in a cell not tagged `student` (they would reach
    the student edition), an `exercise` cell not tagged `student`, exercises with no marked cell."""
    problems = []
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        if not is_marked(cell) and any(line.strip() in (BEGIN, END) for line in cell.source.splitlines()):
            problems.append(f"cell {k} has solution markers but no '{STUDENT_TAG}' tag")
        if "exercise" in tags and STUDENT_TAG not in tags:
            problems.append(f"cell {k} is tagged 'exercise' but not '{STUDENT_TAG}'")
    has_exercises = any(c.cell_type == "markdown" and c.source.lstrip().lower().startswith("## exercises")
                        for c in nb.cells)
    if has_exercises and not any(is_marked(c) for c in nb.cells):
        problems.append(f"it has exercises but no cell tagged '{STUDENT_TAG}'")
    return problems


def student_notebook(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A copy of `nb` with outputs and execution counts cleared, widget state dropped and marked cells stubbed."""
    out = copy.deepcopy(nb)
    out.metadata.pop("widgets", None)
    for k, cell in enumerate(out.cells):
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        if is_marked(cell):
            try:
                cell.source = stub_source(cell.source)
            except ValueError as e:
                raise ValueError(f"{name}, cell {k} (id {cell.get('id')}): {e}; fix the markers") from None
    return out


def build_student_edition(notebooks_dir: str | Path, out_dir: str | Path) -> dict[str, int]:
    """Write the student edition of every notebook in `notebooks_dir` to `out_dir`; returns the
    number of marked cells per notebook file name."""
    notebooks_dir, out_dir = Path(notebooks_dir), Path(out_dir)
    paths = sorted(notebooks_dir.glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no notebooks (*.ipynb) in {notebooks_dir}: pass the series' notebooks folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    marked = {}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        problems = marking_problems(nb)
        if problems:
            raise ValueError(f"{path.name}: {'; '.join(problems)} (see fer_utils/student.py for the convention)")
        nbformat.write(student_notebook(nb, path.name), out_dir / path.name)
        marked[path.name] = sum(is_marked(c) for c in nb.cells)
    return marked
