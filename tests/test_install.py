"""The pip path (pyproject.toml) and the conda path (environment.yml) pin the same versions."""
import re
import tomllib

from fer_utils.data import PROJECT_ROOT


def test_environment_yml_pins_the_same_packages_as_pyproject():
    deps = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = re.findall(r"^\s+- ([A-Za-z0-9_.-]+==[^\s]+)\s*$", (PROJECT_ROOT / "environment.yml").read_text(), re.M)
    assert sorted(deps) == sorted(env)
    assert all("==" in d for d in deps), "every dependency is pinned"
