"""A class on JupyterHub without Kubernetes: a local hub (shared-password login, local process spawner, on
loopback) where 5 students at once run notebook 05 through their own server's kernel, each in their own copy
of the course, in quick mode. The figures are printed; benchmarks/jupyterhub_class.py measures them for the
record, and config.yaml's resources must cover what it measured. Skipped where jupyterhub or the proxy is
not installed (the [dev] extra installs both)."""
import importlib.util
import json
import re
import shutil
import sys
import time

import nbformat
import pytest
import yaml

from fer_utils.data import PROJECT_ROOT

STUDENTS = 5


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


hub_class = _load(PROJECT_ROOT / "benchmarks" / "jupyterhub_class.py", "jupyterhub_class")
hub_live = _load(PROJECT_ROOT / "benchmarks" / "jupyterhub_live.py", "jupyterhub_live")
course_home = _load(PROJECT_ROOT / "deploy" / "jupyterhub" / "course_home.py", "course_home")
CONFIG = yaml.safe_load((PROJECT_ROOT / "deploy" / "jupyterhub" / "config.yaml").read_text())


@pytest.fixture(scope="module")
def class_run(tmp_path_factory):
    problem = hub_class.missing_tools()
    if problem:
        pytest.skip(problem)
    root = tmp_path_factory.mktemp("hub")
    started = time.time()
    return root, hub_class.run_class(STUDENTS, root, quick=True), started


@pytest.mark.jupyterhub
def test_five_students_run_notebook_05_at_once_each_in_their_own_copy(class_run, capsys):
    root, result, started = class_run
    with capsys.disabled():
        print("\n" + hub_class.table(result))
    students = result["students"]
    assert len(students) == STUDENTS and all(s["ok"] for s in students), [s["error"] for s in students]
    code_cells = sum(c.cell_type == "code" for c in nbformat.read(hub_class.NOTEBOOK, 4).cells)
    for s in students:
        home = root / "homes" / s["name"] / "fer-course"
        assert s["cells"] == code_cells
        assert s["kernel"]["fer_home"] == str(home), "the kernel's FER_HOME is the student's own copy"
        done = nbformat.read(home / "notebooks" / hub_class.NOTEBOOK.name, 4)  # saved by their server
        cells = [c for c in done.cells if c.cell_type == "code"]
        assert [c.execution_count for c in cells] == list(range(1, code_cells + 1))
        assert not any(o.output_type == "error" for c in cells for o in c.outputs)
        printed = "".join(o.get("text", "") for c in cells for o in c.outputs)
        assert "frames at 12 frames/s" in printed and "change(s)" in printed
        figures = list((home / "figures").glob("05_*.png"))  # save_fig writes under FER_HOME
        assert figures and all(f.stat().st_mtime >= started for f in figures), figures


@pytest.mark.jupyterhub
def test_a_notebook_05_kernel_never_imports_tensorflow_and_stays_small(class_run):
    for s in class_run[1]["students"]:
        assert s["kernel"]["tensorflow"] is False, s["name"]
        # a kernel without TensorFlow: ~265-320 MB depending on the environment (benchmarks/jupyterhub_class.py
        # prints the figure against the 300 MB bar); one that loads TensorFlow was ~940 MB
        assert s["kernel"]["peak_rss_mb"] <= 450, s


@pytest.mark.jupyterhub
def test_a_student_runs_the_live_notebook_through_the_hub_with_a_camera(tmp_path, capsys):
    """Notebook 06 in JupyterLab behind the hub's proxy, the fake camera playing the clip: the widget's frames (binary
    websocket messages) reach the student's kernel and come back annotated. Through pip's proxy without
    deploy/jupyterhub/proxy.py the kernel connection closes at the first frame and no frame ever comes back."""
    problem = hub_class.missing_tools()
    if problem or not shutil.which("chromium"):
        pytest.skip(problem or "needs Debian's chromium")
    pytest.importorskip("playwright")
    [student] = hub_live.run_class(1, tmp_path, seconds=4)
    with capsys.disabled():
        print(f"\nnotebook 06 through the hub: {student}")
    assert not student["error"], student["error"]
    assert student["annotated_frames_per_s"] > 1 and student["faces_total"] >= 30  # faces over all frames received
    assert student["kernel_peak_rss_mb"] <= 450  # TensorFlow-free, like notebook 05's


def _bytes(quantity: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)\s*([KMG]?)", str(quantity)).groups()
    return float(number) * {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}[unit]


def test_the_class_config_covers_what_was_measured():
    measured = json.loads((PROJECT_ROOT / "benchmarks" / "results" / "jupyterhub_class.json").read_text())
    per_student = max(s["kernel"]["peak_rss_mb"] + s["server_peak_rss_mb"] for s in measured["students"]) * 2**20
    memory, cpu = CONFIG["singleuser"]["memory"], CONFIG["singleuser"]["cpu"]
    assert _bytes(memory["guarantee"]) >= per_student, "the guarantee must hold one notebook's kernel and the server"
    assert _bytes(memory["limit"]) > _bytes(memory["guarantee"]) and cpu["limit"] >= cpu["guarantee"] > 0
    assert CONFIG["cull"]["enabled"] and CONFIG["cull"]["timeout"] > 0
    env = CONFIG["singleuser"]["extraEnv"]
    assert env["FER_HOME"].startswith("/home/jovyan/") and "FER2013_PATH" in env


def test_the_course_guide_sizing_is_the_measured_one():
    measured = json.loads((PROJECT_ROOT / "benchmarks" / "results" / "jupyterhub_class.json").read_text())
    sizing, guide = hub_class.sizing(measured), (PROJECT_ROOT / "docs" / "course.md").read_text()  # from the raw figures
    assert hub_class.sizing_table(sizing) in guide
    by_memory = list(sizing["by_memory_gb"].values())
    kernel_peak = max(s["kernel"]["peak_rss_mb"] for s in measured["students"])
    for figure in (f"{sizing['cpu_s_per_student']} CPU-seconds", f"/ {sizing['mb_per_student']} MB",
                   f"- {sizing['hub_and_proxy_mb']} MB", f"peaked at **{kernel_peak:.0f} MB**",
                   f"memory alone allows {by_memory[0]}, {by_memory[1]} and {by_memory[2]}"):
        assert figure in " ".join(guide.split()), figure


def test_a_students_copy_of_the_course_keeps_their_work(tmp_path):
    source, home = tmp_path / "course", tmp_path / "home"
    for name, text in (("notebooks/05.ipynb", "course"), ("models/m.json", "{}"), ("data/images/a.txt", "a")):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    (home / "notebooks").mkdir(parents=True)
    (home / "notebooks" / "05.ipynb").write_text("the student's work")
    copied = course_home.make_course_home(source, home)
    assert sorted(p.relative_to(home).as_posix() for p in copied) == ["data/images/a.txt", "models/m.json"]
    assert (home / "notebooks" / "05.ipynb").read_text() == "the student's work"
    assert course_home.main([str(tmp_path / "nowhere"), str(home)]) == 2
