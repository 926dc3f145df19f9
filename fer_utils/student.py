"""The two editions of the course, built from one source (the notebooks in `notebooks/`):

- the **student edition**: every output cleared, the marked cells left for the student to write, and
  nothing that leads to an answer (instructor-only text removed, no reference to `solutions/`);
- the **instructor edition**: the notebooks as they are (solutions in the marked cells, outputs kept)
  and the worked solutions of `solutions/` beside them.

The series' convention for marking a cell (the same markers as nbgrader):

- a code cell tagged `student` is one the student writes. In the teacher's notebook it holds working
  code, so CI runs it; in the student edition the code between `### BEGIN SOLUTION` and
  `### END SOLUTION` becomes `# YOUR CODE HERE` + `raise NotImplementedError(...)`, at the markers'
  indentation. Without markers, the cell's leading comment lines (the task) are kept and the rest
  is replaced.
- a code cell tagged `autograded` (nbgrader's "autograder tests") follows a marked cell and checks
  the student's answer with `assert`s: it fails on the stub and passes on the solution. The student
  runs it; `tests/test_student_edition.py` executes both editions and checks both outcomes.
- in Markdown, text between `<!-- BEGIN INSTRUCTOR -->` and `<!-- END INSTRUCTOR -->` is for teachers
  only (e.g. a link to the worked solutions) and is removed from the student edition, and so is any
  parenthesis that points into `solutions/`; a reference to `solutions/` left anywhere stops the build.
- an Exercises section (a `## Exercises` heading up to the next heading of its level) must contain at
  least one marked cell, or the student edition would offer nothing to write there.
- everything else (prose, set-up, self-checks) is kept as it is.

Build them with `python -m fer_utils student` (writes `student/`, which git ignores) and
`python -m fer_utils student --edition instructor --out instructor` (also git-ignored).
"""
from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path

import nbformat

from .files import atomic_write, write_text

STUDENT_TAG = "student"
AUTOGRADED_TAG = "autograded"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "# YOUR CODE HERE"
INSTRUCTOR_BLOCK = re.compile(r"[ \t]*<!-- BEGIN INSTRUCTOR -->.*?<!-- END INSTRUCTOR -->[ \t]*\n?", re.S)
SOLUTIONS_PARENTHESIS = re.compile(r"\s*\([^()\n]*solutions/[^()\n]*\)")
SOLUTIONS_REFERENCE = re.compile(r"solutions/|_solutions\.ipynb")
HEADING = re.compile(r"^(#{1,6})\s+(.*)$", re.M)


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


def is_autograded(cell) -> bool:
    """True for a code cell that checks the student's answer (tagged `autograded`)."""
    return cell.cell_type == "code" and AUTOGRADED_TAG in cell.get("metadata", {}).get("tags", [])


def exercise_sections(nb: nbformat.NotebookNode) -> list[tuple[int, int]]:
    """(first, end) cell ranges of each Exercises section: from the cell after the `Exercises` heading up
    to the next markdown heading of the same or a higher level (or the end of the notebook)."""
    sections = []
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for m in HEADING.finditer(cell.source):
            if m.group(2).strip().lower().startswith("exercises"):
                level, end = len(m.group(1)), len(nb.cells)
                for j in range(k + 1, len(nb.cells)):
                    if nb.cells[j].cell_type == "markdown" and any(
                            len(h.group(1)) <= level for h in HEADING.finditer(nb.cells[j].source)):
                        end = j
                        break
                sections.append((k + 1, end))
    return sections


def marking_problems(nb: nbformat.NotebookNode) -> list[str]:
    """What breaks the convention: solution markers in a cell not tagged `student` (they would reach
    the student edition), an `exercise` cell not tagged `student`, an `autograded` cell with no marked
    cell before it (or tagged `student` itself), an Exercises section with no marked cell."""
    problems = []
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        if not is_marked(cell) and any(line.strip() in (BEGIN, END) for line in cell.source.splitlines()):
            problems.append(f"cell {k} has solution markers but no '{STUDENT_TAG}' tag")
        if "exercise" in tags and STUDENT_TAG not in tags:
            problems.append(f"cell {k} is tagged 'exercise' but not '{STUDENT_TAG}'")
        if is_autograded(cell) and (is_marked(cell) or not any(is_marked(c) for c in nb.cells[:k])):
            problems.append(f"cell {k} is tagged '{AUTOGRADED_TAG}' but does not follow a cell tagged '{STUDENT_TAG}'")
    for first, end in exercise_sections(nb):
        if not any(is_marked(c) for c in nb.cells[first:end]):
            problems.append(f"its Exercises section (the heading in cell {first - 1}) has no cell tagged '{STUDENT_TAG}': "
                            "the student edition would offer nothing to write there")
    return problems


def student_markdown(source: str) -> str:
    """A markdown cell's source for the student edition: instructor blocks and parentheses pointing into
    solutions/ removed."""
    return SOLUTIONS_PARENTHESIS.sub("", INSTRUCTOR_BLOCK.sub("", source))


def solution_references(nb: nbformat.NotebookNode) -> list[str]:
    """Where a notebook still mentions the worked solutions (`solutions/`, `*_solutions.ipynb`)."""
    return [f"cell {k} (id {cell.get('id')}): ...{cell.source[max(0, m.start() - 50):m.end() + 30]!r}..."
            for k, cell in enumerate(nb.cells) for m in SOLUTIONS_REFERENCE.finditer(cell.source)]


def student_notebook(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A copy of `nb` with outputs and execution counts cleared, widget state dropped, marked cells stubbed
    and instructor-only text removed."""
    out = copy.deepcopy(nb)
    out.metadata.pop("widgets", None)
    for k, cell in enumerate(out.cells):
        cell.metadata.pop("execution", None)
        if cell.cell_type == "markdown":
            cell.source = student_markdown(cell.source)
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        if is_marked(cell):
            try:
                cell.source = stub_source(cell.source)
            except ValueError as e:
                raise ValueError(f"{name}, cell {k} (id {cell.get('id')}): {e}; fix the markers") from None
    return out


def _notebook_paths(notebooks_dir: Path) -> list[Path]:
    paths = sorted(notebooks_dir.glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no notebooks (*.ipynb) in {notebooks_dir}: pass the series' notebooks folder")
    return paths


def build_student_edition(notebooks_dir: str | Path, out_dir: str | Path) -> dict[str, int]:
    """Write the student edition of every notebook in `notebooks_dir` to `out_dir`; returns the
    number of marked cells per notebook file name. Refuses a notebook that breaks the convention or
    whose student copy would still point at the worked solutions."""
    notebooks_dir, out_dir = Path(notebooks_dir), Path(out_dir)
    paths = _notebook_paths(notebooks_dir)
    editions, marked = {}, {}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        problems = marking_problems(nb)
        if problems:
            raise ValueError(f"{path.name}: {'; '.join(problems)} (see fer_utils/student.py for the convention)")
        editions[path.name] = student_notebook(nb, path.name)
        leaks = solution_references(editions[path.name])
        if leaks:
            raise ValueError(f"{path.name}: the student copy would point at the worked solutions: {'; '.join(leaks)}; "
                             "wrap that text in <!-- BEGIN INSTRUCTOR --> ... <!-- END INSTRUCTOR -->")
        marked[path.name] = sum(is_marked(c) for c in nb.cells)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, nb in editions.items():
        write_text(out_dir / name, nbformat.writes(nb) + "\n")
    return marked


def build_instructor_edition(notebooks_dir: str | Path, solutions_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """Write the instructor edition to `out_dir`: the notebooks as they are (solutions in the marked cells,
    outputs kept) and, under `out_dir/solutions/`, the worked solutions. Returns the files written."""
    notebooks_dir, solutions_dir, out_dir = Path(notebooks_dir), Path(solutions_dir), Path(out_dir)
    paths = _notebook_paths(notebooks_dir)
    solutions = sorted(solutions_dir.glob("*.ipynb"))
    if not solutions:
        raise FileNotFoundError(f"no worked solutions (*.ipynb) in {solutions_dir}: pass the series' solutions folder")
    for path in paths:
        problems = marking_problems(nbformat.read(path, as_version=4))
        if problems:
            raise ValueError(f"{path.name}: {'; '.join(problems)} (see fer_utils/student.py for the convention)")
    (out_dir / "solutions").mkdir(parents=True, exist_ok=True)
    written = [out_dir / p.name for p in paths] + [out_dir / "solutions" / p.name for p in solutions]
    for source, target in zip(paths + solutions, written):
        atomic_write(target, lambda tmp, source=source: shutil.copyfile(source, tmp))
    return written
