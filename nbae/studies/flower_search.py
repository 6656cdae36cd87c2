"""The flower study's latent-size search: every latent size x seed, the smallest size that
learns the photos (stage ``search_flowers``).

Settings: ``flowers_arch`` (the family, :func:`nbae.studies.flowers.arch_config`) and
``flowers_search: {latent_sizes, epochs, seeds, threshold, criterion}``. Runs are Dask tasks
(:mod:`nbae.studies.sweep`), on the reproducible lanes arithmetic when the family sets
``reproducible: true`` (as shipped: the same bits on every x86-64 machine); the rule is the
median over seeds (:func:`smallest_size`).
"""

from __future__ import annotations

import math

import pandas as pd

from nbae.data.datasets import Dataset
from nbae.studies.experiment import describe
from nbae.studies.flowers import _r, build_model, fit_model, thin_history, with_latent
from nbae.studies.params import ParamsError, integer, integer_list, number, section

SEARCH_DEFAULTS = {"latent_sizes": [1, 2, 3, 4, 5, 6, 8], "epochs": 2000, "seeds": 5,
                   "threshold": 1e-3, "criterion": "best_loss"}
CRITERIA = ("best_loss", "final_loss")


def search_params(params: dict) -> dict:
    cfg = section(params, "flowers_search", SEARCH_DEFAULTS)
    sizes = integer_list(cfg["latent_sizes"], "flowers_search.latent_sizes", 1)
    if len(set(sizes)) != len(sizes):
        raise ParamsError("params flowers_search.latent_sizes lists a size twice")
    cfg["latent_sizes"] = sorted(sizes)
    cfg["epochs"] = integer(cfg["epochs"], "flowers_search.epochs", 1)
    from nbae.studies.font_sweep import seed_list

    cfg["seeds"] = seed_list(cfg["seeds"], "flowers_search.seeds")
    cfg["threshold"] = number(cfg["threshold"], "flowers_search.threshold")
    if cfg["criterion"] not in CRITERIA:
        raise ParamsError(f"params flowers_search.criterion must be one of {list(CRITERIA)}, "
                          f"got {cfg['criterion']!r}")
    return cfg



def latent_search(base_cfg: dict, data: Dataset, sizes, epochs: int, seeds=(0,),
                  scheduler=None, progress=None):
    """Train ``base_cfg`` with every latent size and seed (a Dask sweep); return
    (table, histories).

    The table has one row per run: ``latent_dim, seed, n_params, epochs, final_loss,
    best_loss, best_epoch, diverged, seconds``; ``histories[(k, seed)]`` is each run's thinned
    history. A diverged run is kept (its best finite loss, ``diverged`` True) so one bad size
    does not sink the search. Runs take one thread per Dask worker; with ``reproducible:
    true`` in ``base_cfg`` (as shipped) every loss is the same on every x86-64 machine, with
    false (the BLAS engine) the last digits may differ between machines.
    """
    from nbae.studies.sweep import Task, run_sweep

    tasks = [Task(key=f"latent {k}, seed {seed}", fn=search_run,
                  kwargs={"cfg": {**with_latent(base_cfg, k), "epochs": int(epochs),
                                  "seed": int(seed)}, "data": data},
                  cost=float(k + 1000)) for k in sizes for seed in seeds]
    results = run_sweep(tasks, scheduler=scheduler, progress=progress)
    table = pd.concat([r.tables["row"] for r in results], ignore_index=True)
    histories = {(int(r.info["latent_dim"]), int(r.info["seed"])): r.tables["curve"]
                 for r in results}
    return table, histories


def search_run(cfg: dict, data: Dataset, threads=None):
    """One run of the latent-size search (a sweep task): ``cfg`` trained on ``data``."""
    from nbae.errors import TrainingDiverged
    from nbae.studies.sweep import Result

    k = int(cfg["layers"][-1])
    where = f"flowers_arch (latent size {k})"
    ae = build_model(cfg, data, where)
    diverged = False
    try:
        history = fit_model(ae, cfg, data, where)
    except TrainingDiverged:
        diverged = True
        history = ae.history
    t = ae.training
    loss = history["loss"].to_numpy(dtype=float)
    row = {"latent_dim": k, "seed": int(cfg["seed"]), "n_params": int(ae.n_params),
           "epochs": int(t["epochs_run"]),
           "final_loss": float(loss[-1]) if len(loss) else math.nan,
           "best_loss": float(t["best_loss"]) if t.get("best_loss") is not None else math.nan,
           "best_epoch": int(t["best_epoch"] or 0), "diverged": diverged,
           "seconds": round(float(t["seconds"]), 3)}
    return Result(tables={"row": pd.DataFrame([row]), "curve": thin_history(history, 10)},
                  info={"latent_dim": k, "seed": int(cfg["seed"])})


def smallest_size(table: pd.DataFrame, threshold: float, criterion: str = "best_loss"):
    """Smallest latent size whose *median* ``criterion`` over seeds is <= ``threshold``.

    The rule: the median (for an even count of seeds, the mean of the middle two) must reach
    the threshold, so one lucky seed does not decide. Sizes are not assumed monotone (a size
    counts even when a larger one does not); a NaN loss (diverged before any finite epoch)
    never qualifies. None when no size does.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {list(CRITERIA)}, got {criterion!r}")
    med = table.fillna({criterion: math.inf}).groupby("latent_dim")[criterion].median()
    ok = med[med <= threshold]
    return None if ok.empty else int(ok.index.min())


def search_summary(table: pd.DataFrame, threshold: float, criterion: str, base_cfg: dict,
                   epochs: int) -> dict:
    """JSON-ready result of the search (DVC metrics): the chosen size and the loss per size."""
    chosen = smallest_size(table, threshold, criterion)
    t = table.fillna({criterion: math.inf})
    g = t.groupby("latent_dim")
    per = pd.DataFrame({"median": g[criterion].median(), "q1": g[criterion].quantile(0.25),
                        "q3": g[criterion].quantile(0.75),
                        "reached": g[criterion].apply(lambda v: float((v <= threshold).mean())),
                        "seconds": g["seconds"].sum()})

    def by_size(col):
        return {str(int(k)): (_r(v) if math.isfinite(v) else None) for k, v in per[col].items()}

    return {
        "architecture": describe({**base_cfg, "layers": list(base_cfg["layers"][:-1]) + ["k"]}),
        "epochs": int(epochs),
        "seeds": sorted(int(s) for s in table["seed"].unique()),
        "threshold": float(threshold),
        "criterion": criterion,
        "rule": "smallest latent size whose median criterion over seeds <= threshold",
        "smallest_latent_dim": chosen,
        "median": by_size("median"),
        "q1": by_size("q1"),
        "q3": by_size("q3"),
        "share_reached": {str(int(k)): float(v) for k, v in per["reached"].items()},
        "diverged_runs": int(table["diverged"].sum()),
        "total_seconds": round(float(table["seconds"].sum()), 1),
    }


def search_curves(histories: dict, every: int = 10) -> pd.DataFrame:
    """``epoch, series, loss`` rows: per latent size ("latent 3") the median loss over its
    seeds, at every ``every``-th epoch all its seeds logged (plus the first and last)."""
    frames = []
    for k in sorted({k for k, _ in histories}):
        runs = [thin_history(h, every)[["epoch", "loss"]] for (kk, _), h in
                sorted(histories.items()) if kk == k]
        both = pd.concat(runs, ignore_index=True).groupby("epoch")["loss"]
        full = both.count() == len(runs)
        med = both.median()[full]
        frames.append(pd.DataFrame({"epoch": med.index.to_numpy(), "series": f"latent {k}",
                                    "loss": med.to_numpy()}))
    return pd.concat(frames, ignore_index=True)


def headline(summary: dict) -> dict:
    """The flower numbers ``dvc exp show`` displays: the chosen latent size and its median
    loss over seeds."""
    k = summary["smallest_latent_dim"]
    best = summary["median"].get(str(k)) if k is not None else None
    return {"latent_size": k, "latent_mse": float(f"{best:.3g}") if best is not None else None}
