"""Seed sweeps on Dask: tasks, a resumable result store, and the cluster that runs them.

A sweep is a list of :class:`Task` (a module-level function and its arguments).
:func:`run_sweep` looks each task up in a result store (a folder), sends the missing ones to a
Dask cluster, writes every result to the store atomically as soon as it arrives, and returns
all results in task order, read back from the store (so a fresh run and a resumed run hand the
same bytes to what comes next). A killed worker costs only its running task, which Dask
reschedules elsewhere; Ctrl-C or a crash loses only unfinished tasks: a rerun resumes.

Where tasks run (``scheduler``, else the ``NBAE_SCHEDULER`` environment variable):

- ``"local"`` (default): a ``distributed.LocalCluster`` with one single-threaded worker
  process per core (``NBAE_WORKERS`` overrides the count) -- nothing to install or start;
- ``"serial"``: in this process, one task after the other (tests, debugging; each task may
  then use every core through ``threads=None``);
- anything else: the address of a running scheduler, e.g. ``tcp://10.0.0.5:8786`` (a cluster
  started by hand, by dask-jobqueue or on Kubernetes; its workers need nbae installed).

A task's result is a :class:`Result`: named models, named tables (DataFrames) and a JSON
``info`` dict. The store keys it by a digest of the function's name, its arguments (arrays by
content) and the source of every nbae module the function's module imports (transitively), so
changing any of them recomputes the task.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

STORE_ENV, SCHEDULER_ENV, WORKERS_ENV = "NBAE_SWEEP_STORE", "NBAE_SCHEDULER", "NBAE_WORKERS"
CONNECT_TIMEOUT = "30s"  # how long to wait for a scheduler given by address
DEFAULT_STORE = ".nbae-sweeps"


@dataclass(frozen=True)
class Task:
    """One unit of a sweep.

    key : str
        Unique, human-readable name (``"arch 7, seeds 0-7"``); used in messages and Dask keys.
    fn : callable
        A module-level function (workers import it by name); called as
        ``fn(**kwargs, threads=T)`` and returns a :class:`Result`. ``T`` is 1 on Dask workers
        (one task per core) and None (all cores) in serial mode; results must not depend on it.
    kwargs : dict
        Its arguments: numbers, strings, lists, dicts and NumPy arrays.
    cost : float
        Relative run time; costlier tasks are scheduled first (shorter tail).
    """

    key: str
    fn: object
    kwargs: dict = field(default_factory=dict)
    cost: float = 1.0


@dataclass
class Result:
    """What a task returns: ``models`` (name -> Autoencoder), ``tables`` (name -> DataFrame of
    numbers and strings), ``info`` (JSON-ready dict)."""

    models: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# digests


def _canonical(value):
    """JSON-ready stand-in for ``value``; arrays by dtype, shape and a hash of their bytes."""
    if isinstance(value, np.ndarray):
        a = np.ascontiguousarray(value)
        return {"array": hashlib.sha256(a.view(np.uint8).tobytes()).hexdigest(),
                "dtype": a.dtype.str, "shape": list(a.shape)}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"dataclass": type(value).__qualname__,
                **{f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"task argument of type {type(value).__name__} cannot be digested")


def _imports(path: Path) -> set[str]:
    """Names of the nbae modules ``path`` imports (at top level or inside functions)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return {n for n in names if n == "nbae" or n.startswith("nbae.")}


def _source(module: str) -> Path | None:
    root = Path(__file__).resolve().parents[2]
    base = root.joinpath(*module.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None  # a name imported from a module, not a module


@functools.cache
def code_fingerprint(module: str) -> str:
    """sha256 of the source of ``module`` and of every nbae module it imports, transitively.

    A change in any code a task runs recomputes it; changes elsewhere (figures, CLI, other
    studies, this module) keep the stored results.
    """
    seen, todo = {}, [module]
    while todo:
        name = todo.pop()
        p = _source(name)
        # this module only moves results around; its own changes never alter one
        if p is None or p.as_posix() in seen or name == __name__:
            continue
        seen[p.as_posix()] = p
        todo.extend(_imports(p))
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[2]
    for key in sorted(seen):
        p = seen[key]
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def digest(task: Task) -> str:
    spec = {"fn": f"{task.fn.__module__}.{task.fn.__qualname__}",
            "kwargs": _canonical(task.kwargs), "code": code_fingerprint(task.fn.__module__)}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]


# ---------------------------------------------------------------------------------------------
# the store


def store_path(store=None) -> Path:
    return Path(store or os.environ.get(STORE_ENV) or DEFAULT_STORE)


def _write(store: Path, name: str, task: Task, result: Result) -> None:
    """Write ``result`` as folder ``store/name`` in one rename (never half a result)."""
    from nbae.fileio import write_json

    if not isinstance(result, Result):
        raise TypeError(f"task {task.key!r} returned {type(result).__name__}, not a Result")
    final = store / name
    if final.exists():
        return
    store.mkdir(parents=True, exist_ok=True)
    tmp = store / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        (tmp / "models").mkdir(parents=True)
        (tmp / "tables").mkdir()
        for key, ae in result.models.items():
            ae.save(tmp / "models" / f"{key}.npz")
        for key, df in result.tables.items():
            cols = {c: df[c].to_numpy() for c in df.columns}
            for c, v in cols.items():
                if v.dtype == object:
                    cols[c] = v.astype(str)
            np.savez(tmp / "tables" / f"{key}.npz", **{f"c{i}": v for i, v in
                                                       enumerate(cols.values())},
                     columns=np.array(list(cols), dtype=str))
        write_json(tmp / "info.json", {"task": task.key, "info": result.info})
        os.replace(tmp, final)
    except OSError:
        if not final.exists():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read(store: Path, name: str) -> Result | None:
    """The stored result ``name``, or None when missing or unreadable (then it is redone)."""
    from nbae.engine.model import Autoencoder

    folder = store / name
    if not folder.is_dir():
        return None
    try:
        info = json.loads((folder / "info.json").read_text(encoding="utf-8"))["info"]
        models = {p.stem: Autoencoder.load(p) for p in sorted((folder / "models").glob("*.npz"))}
        tables = {}
        for p in sorted((folder / "tables").glob("*.npz")):
            with np.load(p, allow_pickle=False) as z:
                names = [str(c) for c in z["columns"]]
                tables[p.stem] = pd.DataFrame({c: z[f"c{i}"] for i, c in enumerate(names)})
    except (OSError, ValueError, KeyError, TypeError):
        shutil.rmtree(folder, ignore_errors=True)  # damaged: compute it again
        return None
    return Result(models, tables, info)


# ---------------------------------------------------------------------------------------------
# running


def scheduler_setting(scheduler=None) -> str:
    value = scheduler or os.environ.get(SCHEDULER_ENV) or "local"
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"scheduler must be 'local', 'serial' or an address, got {value!r}")
    return value.strip()


def _workers() -> int:
    raw = os.environ.get(WORKERS_ENV)
    if raw is None:
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                   else os.cpu_count() or 1)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{WORKERS_ENV} must be a positive integer, got {raw!r}")
    return int(raw)


def _client(setting: str):
    import logging

    from distributed import Client, LocalCluster

    if setting == "local":
        cluster = LocalCluster(n_workers=_workers(), threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)
        return Client(cluster), cluster
    try:
        return Client(setting, timeout=CONNECT_TIMEOUT), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise ValueError(f"cannot reach the Dask scheduler {setting!r} "
                         f"(scheduler option / {SCHEDULER_ENV}): {exc}") from None


def _bar(total, progress):
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="task", file=sys.stderr, leave=False)


def run_sweep(tasks, store=None, scheduler=None, progress=None) -> list[Result]:
    """Run ``tasks`` (or find them in ``store``); return their results in order.

    store : path, optional
        Result folder (default ``$NBAE_SWEEP_STORE`` or ``.nbae-sweeps``).
    scheduler : str, optional
        ``"local"``, ``"serial"`` or a scheduler address (default ``$NBAE_SCHEDULER`` or
        ``"local"``).
    progress : bool, optional
        A tqdm bar over tasks (default: when stderr is a terminal).
    """
    tasks = list(tasks)
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError("task keys must be unique")
    store = store_path(store)
    names = [digest(t) for t in tasks]
    todo = [(t, n) for t, n in zip(tasks, names, strict=True) if _read(store, n) is None]
    if todo:
        setting = scheduler_setting(scheduler)
        bar = _bar(len(tasks), progress)
        if bar is not None:
            bar.update(len(tasks) - len(todo))
        try:
            if setting == "serial":
                for t, n in todo:
                    _write(store, n, t, t.fn(**t.kwargs, threads=None))
                    if bar is not None:
                        bar.update()
            else:
                _run_dask(todo, store, setting, bar)
        finally:
            if bar is not None:
                bar.close()
    results = [_read(store, n) for n in names]
    missing = [t.key for t, r in zip(tasks, results, strict=True) if r is None]
    if missing:
        raise OSError(f"{store}: results of {', '.join(missing)} could not be stored")
    return results


def _run_dask(todo, store: Path, setting: str, bar) -> None:
    from distributed import as_completed

    client, cluster = _client(setting)
    futures = {}
    try:
        for t, n in todo:
            f = client.submit(t.fn, **t.kwargs, threads=1, key=f"nbae-{n}", pure=False,
                              priority=t.cost)
            futures[f] = (t, n)
        for f in as_completed(futures):
            t, n = futures[f]
            _write(store, n, t, f.result())
            if bar is not None:
                bar.update()
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
