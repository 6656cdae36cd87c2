"""dvc.yaml's deps are exactly what each stage's script imports, so no result goes stale and
no stage reruns for a module it never uses.

A stage depends on its script, on every ``nbae`` module the script imports (transitively,
lazy imports included) and on its data. Two rooms count as one dependency each, as folders:
the training engine (``nbae/engine``) and the figures (``nbae/figures``), whose modules change
together. ``nbae/__init__.py`` and package ``__init__`` files are not listed.
"""

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("nbae/engine", "nbae/figures", "nbae/explorer")
# the Oxford files: a verified download cache, not pipeline data (prepare_flowers' output is)
UNTRACKED = {"data/flowers/raw"}


def _module_path(name: str) -> Path | None:
    base = ROOT / name.replace(".", "/")
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def nbae_imports(path: Path, seen: set[Path]) -> set[Path]:
    """Files of the nbae modules ``path`` imports, transitively (lazy ones too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nbae"):
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("nbae")]
        for name in names:
            module = _module_path(name)
            # nbae/__init__.py only re-exports Autoencoder lazily; not a dependency
            if module is not None and module not in seen and module != ROOT / "nbae/__init__.py":
                seen.add(module)
                nbae_imports(module, seen)
    return seen


def expected_deps(script: str) -> set[str]:
    out = set()
    for p in nbae_imports(ROOT / script, set()):
        rel = p.relative_to(ROOT).as_posix()
        room = next((r for r in ROOMS if rel.startswith(r + "/")), None)
        if room:
            out.add(room)
        elif p.name != "__init__.py":
            out.add(rel)
    return out


def _stages():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    for name, stage in stages.items():
        yield name, stage.get("do", stage)


@pytest.mark.parametrize("name,stage", list(_stages()), ids=[n for n, _ in _stages()])
def test_stage_deps_are_exactly_the_imported_modules(name, stage):
    script = re.search(r"stages/\w+\.py", stage["cmd"]).group(0)
    deps = {d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps", [])}
    code = {d for d in deps if d.startswith("nbae")}
    assert script in deps
    want = expected_deps(script)
    assert not want - code, f"stage {name}: add {sorted(want - code)} to its deps"
    assert not code - want, f"stage {name}: {sorted(code - want)} are not imported; drop them"


def test_every_path_in_a_command_is_a_dep_or_an_out():
    """Paths are written once, in ``cmd``; each must also be declared so DVC tracks it."""
    for name, stage in _stages():
        declared = {d if isinstance(d, str) else next(iter(d))
                    for key in ("deps", "outs", "metrics", "plots") for d in stage.get(key, [])}
        # a params file tracked by section (``- config/x.yaml: [section]``) is declared too
        declared |= {next(iter(p)) for p in stage.get("params", []) if isinstance(p, dict)}
        for arg in stage["cmd"].split()[2:]:
            if "/" in arg and arg not in UNTRACKED:
                assert arg in declared or any(arg.startswith(d + "/") or d.startswith(arg + "/")
                                              for d in declared), (
                    f"stage {name}: {arg} is in cmd but not in deps/outs")
