"""Helpers of the DVC integration tests: a throwaway git + DVC copy of the project.

``tests/conftest.py`` puts ``tests/`` on ``sys.path``, so test modules ``import repo_utils``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("dvc.yaml", "params.yaml", ".dvcignore", ".gitignore", "pyproject.toml")


def run(args, cwd, env, check=True) -> subprocess.CompletedProcess:
    """Run a command (15 min limit); unless ``check=False`` a failure shows its output."""
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def dvc_executable() -> Path:
    """The ``dvc`` installed next to this Python; skips the test if there is none."""
    dvc = Path(sys.executable).with_name("dvc")
    if not dvc.exists():
        pytest.skip("dvc is not installed next to this Python")
    return dvc


def copy_project(work: Path, extra=()) -> None:
    """Copy what the pipeline needs into ``work``: the package, the stages, ``config/``,
    ``data/font.h``, dvc.yaml and params.yaml (and friends), the DVC config and plot
    templates, and the ``extra`` paths (relative to the repository root)."""
    # Numba's on-disk cache comes along (copy2 keeps the sources' times, which key it), so
    # the stages load compiled kernels instead of compiling them again
    ignore = shutil.ignore_patterns("*.pyc")
    for name in ("nbae", "stages", "config"):
        shutil.copytree(ROOT / name, work / name, ignore=ignore)
    for rel in ("data/font.h", *extra):
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, work / rel)
    for name in PROJECT_FILES:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, work / name)
    (work / ".dvc").mkdir()
    shutil.copy2(ROOT / ".dvc" / "config", work / ".dvc" / "config")
    # the plot templates and the offline page the config names
    shutil.copytree(ROOT / ".dvc" / "plots", work / ".dvc" / "plots")
    (work / ".dvc" / ".gitignore").write_text("/config.local\n/tmp\n/cache\n")


def project_env() -> dict:
    """Environment of the git and dvc commands: no analytics or prompts, JIT on, this
    virtualenv's tools first on PATH (DVC runs the stages with ``python``)."""
    env = dict(os.environ, DVC_NO_ANALYTICS="1", GIT_TERMINAL_PROMPT="0",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("NUMBA_DISABLE_JIT", None)
    return env


def commit_all(work: Path, env: dict, message: str) -> None:
    run(["git", "add", "-A"], work, env)
    run(["git", "commit", "-q", "-m", message], work, env)


def init_repo(work: Path, env: dict) -> None:
    """``git init`` ``work`` (branch main, a local test identity) and commit everything."""
    run(["git", "-c", "init.defaultBranch=main", "init", "-q"], work, env)
    run(["git", "config", "user.name", "nbae test"], work, env)
    run(["git", "config", "user.email", "test@example.invalid"], work, env)
    commit_all(work, env, "project")
