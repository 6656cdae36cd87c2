"""dvc.yaml lists every nbae module a stage's script imports, so no result goes stale.

DVC reruns a stage only when a listed dependency changes; a library module missing from
``deps`` would let a changed kernel or metric leave old results looking up to date.
"""

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def nbae_imports(path: Path, seen: set[str]) -> set[str]:
    """Repository paths of the nbae modules ``path`` imports, transitively (lazy ones too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nbae"):
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("nbae")]
        for name in names:
            module = ROOT / (name.replace(".", "/") + ".py")
            rel = module.relative_to(ROOT).as_posix()
            if module.exists() and rel not in seen and rel != "nbae/__init__.py":
                seen.add(rel)
                nbae_imports(module, seen)
    return seen


def _stages():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    for name, stage in stages.items():
        yield name, stage.get("do", stage)


@pytest.mark.parametrize("name,stage", list(_stages()), ids=[n for n, _ in _stages()])
def test_stage_deps_cover_imported_modules(name, stage):
    script = re.search(r"stages/\w+\.py", stage["cmd"]).group(0)
    deps = {d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps", [])}
    assert script in deps
    missing = sorted(nbae_imports(ROOT / script, set()) - deps)
    assert not missing, f"stage {name}: add {missing} to its deps in dvc.yaml"
