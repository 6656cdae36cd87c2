"""VAE studies: a font VAE with a 2-D latent space and a flower VAE that samples its prior.

Functions take arrays (or the data dicts of :func:`nbae.font_study.load_font_set` and
:func:`nbae.flower_study.load_flower_set`) and output paths, write their files atomically and
return JSON-ready metrics dicts, so a DVC stage is a few lines of glue. A config is a flat dict
like those of :mod:`nbae.studies.experiment`, with the VAE's own keys ``beta`` and ``kl_warmup``::

    layers: [35, 25, 15, 5, 2]     # encoder; the last width is the latent size
    activation: tanh
    output_activation: sigmoid
    loss: bce
    beta: 1.0
    kl_warmup: 0
    optimizer: adam
    lr: 0.001
    batch_size: 5
    epochs: 20000

Metrics: with BCE on {0, 1} pixels, ``elbo = -(reconstruction + kl)`` per glyph in nats
(reconstruction averaged over ``elbo_samples`` codes drawn from q(z|x)); ``wrong_pixels`` counts
pixels of the decoded posterior means on the wrong side of 0.5.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Ellipse

from nbae.data.datasets import Dataset
from nbae.data.metrics import pixel_errors
from nbae.engine.exact import evaluator
from nbae.fileio import save_figure, write_csv, write_json
from nbae.studies.experiment import drop_timings
from nbae.studies.params import ParamsError

MODEL_KEYS = ("layers", "activation", "output_activation", "decoder", "loss", "init",
              "leaky_slope", "beta", "kl_warmup", "seed", "dtype")
FIT_KEYS = ("epochs", "batch_size", "optimizer", "lr", "shuffle", "momentum", "betas", "eps",
            "weight_decay", "restore_best", "patience", "min_delta", "input_noise",
            "reproducible")
INFO_KEYS = ("name", "description", "note")
FONT_DEFAULTS = {"layers": [35, 25, 15, 5, 2], "activation": "tanh", "loss": "bce",
                 "output_activation": "sigmoid", "optimizer": "adam", "lr": 1e-3,
                 "batch_size": 5, "epochs": 20000}
FLOWER_DEFAULTS = {"layers": [1024, 512, 256, 64, 6], "activation": "tanh",
                   "output_activation": "tanh", "loss": "mse", "optimizer": "adam", "lr": 2e-4,
                   "batch_size": 20, "epochs": 5000, "dtype": "float32"}


def _r(v, digits=6):
    return float(f"{float(v):.{digits}g}")


# ---------------------------------------------------------------------------------------------
# configs


def vae_from_config(cfg: dict, metadata: dict | None = None, where: str = "config"):
    """Untrained :class:`~nbae.vae.VAE` from the model keys of ``cfg``; ValueError names
    ``where`` and any unknown key (the study functions raise them as ParamsError)."""
    from nbae.engine.vae import VAE

    if not isinstance(cfg, dict):
        raise ValueError(f"{where} must be a mapping of settings, got {type(cfg).__name__}")
    unknown = sorted(set(cfg) - set(MODEL_KEYS) - set(FIT_KEYS) - set(INFO_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown VAE setting(s) {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(MODEL_KEYS + FIT_KEYS)}")
    try:
        return VAE(**{k: cfg[k] for k in MODEL_KEYS if k in cfg}, metadata=metadata)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def fit_vae_from_config(vae, cfg: dict, X, where: str = "config", **overrides):
    """Train ``vae`` with the training keys of ``cfg`` (``overrides`` win); return the history."""
    kwargs = {k: cfg[k] for k in FIT_KEYS if k in cfg}
    for key in ("shuffle", "restore_best", "reproducible"):  # "no" would be truthy
        if key in kwargs and not isinstance(kwargs[key], bool):
            raise ValueError(f"{where}.{key} must be true or false, got {kwargs[key]!r}")
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    kwargs.update(overrides)
    try:
        return vae.fit(X, **kwargs)
    except FloatingPointError:
        raise
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


# ---------------------------------------------------------------------------------------------
# figures


def plot_latent_ellipses(mu, sigma, labels, path, title="VAE latent space: posterior mean "
                         "and one standard deviation of each glyph") -> None:
    """Codes ``mu`` (n, 2) with their one-sigma ellipses (axis-aligned: q(z|x) is diagonal)
    over the prior's one- and two-sigma circles, each labelled with its glyph."""
    mu, sigma = np.asarray(mu, float), np.asarray(sigma, float)
    if mu.ndim != 2 or mu.shape[1] != 2 or sigma.shape != mu.shape:
        raise ValueError(f"mu and sigma must both have shape (n, 2), got {mu.shape} and "
                         f"{sigma.shape}")
    if len(labels) != len(mu):
        raise ValueError(f"{len(labels)} labels for {len(mu)} codes")
    fig = Figure(figsize=(8.5, 8.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for r in (1, 2):
        ax.add_patch(Circle((0, 0), r, fill=False, ls="--", lw=0.8, ec="0.6"))
    for (x, y), (sx, sy), lab in zip(mu, sigma, labels, strict=True):
        ax.add_patch(Ellipse((x, y), 2 * sx, 2 * sy, alpha=0.18, color="tab:blue", lw=0))
        ax.add_patch(Ellipse((x, y), 2 * sx, 2 * sy, fill=False, ec="tab:blue", lw=0.6))
        ax.annotate(str(lab), (x, y), ha="center", va="center", fontsize=11,
                    fontweight="bold", parse_math=False)
    lim = max(2.2, float(np.max(np.abs(mu) + sigma)) * 1.05)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title(title + "\n(dashed: prior N(0, I) at 1 and 2 sigma)", fontsize=10)
    ax.grid(True, alpha=0.3)
    save_figure(fig, path)


def plot_vae_history(history, path, title: str = "VAE training") -> None:
    """The loss and its two terms (reconstruction, KL) against epoch, log scale; each epoch's
    value is a one-sample estimate, so curves are smoothed by a running mean over 1% of the
    epochs (named in the title)."""
    from nbae.figures import plot_history

    w = max(1, len(history) // 100)
    curves = {name: pd.DataFrame({"epoch": history["epoch"],
                                  "loss": history[col].rolling(w, min_periods=1).mean()})
              for name, col in (("loss", "loss"), ("reconstruction", "reconstruction"),
                                ("KL", "kl"))}
    if w > 1:
        title += f" (running mean over {w} epochs)"
    plot_history(curves, path, title=title, mark_min=False, ylabel="per sample (nats for BCE)")


def prior_quantile_grid(vae, n: int = 15, dims=(0, 1), q=(0.05, 0.95)):
    """Decodings on a grid of prior quantiles, as Kingma & Welling's figure 4.

    Evenly spaced probabilities in ``q`` are mapped through the inverse normal CDF for latent
    coordinates ``dims`` (the others stay at the prior mean 0). Returns (zs, images (n, n, d))
    with ``images[i, j]`` decoded from ``(zs[j], zs[i])``, ready for ``plot_latent_grid``.
    """
    from scipy.stats import norm

    zs = norm.ppf(np.linspace(q[0], q[1], int(n)))
    zs[np.abs(zs) < 1e-12] = 0.0  # ppf(0.5) comes out as -1.4e-16; label it 0
    Z = np.zeros((n * n, vae.latent_dim))
    Z[:, dims[0]] = np.tile(zs, n)
    Z[:, dims[1]] = np.repeat(zs, n)
    return zs, np.asarray(vae.decode(Z), dtype=np.float64).reshape(n, n, -1)


# ---------------------------------------------------------------------------------------------
# font


def font_targets(data: Dataset) -> np.ndarray:
    """Glyphs mapped to {0, 1} whatever the font set's encoding (BCE needs targets in [0, 1])."""
    lo, hi = (float(v) for v in data.pixel_range)
    return (np.asarray(data.X, dtype=np.float64) - lo) / (hi - lo)


def _train(cfg: dict, X, meta: dict, where: str):
    """Build and train; bad settings (for these data) raise ParamsError naming ``where``."""
    layers = cfg.get("layers")
    if isinstance(layers, list) and layers and layers[0] != X.shape[1]:
        raise ParamsError(f"params {where}.layers starts with {layers[0]} inputs but the data "
                          f"have {X.shape[1]} values per sample")
    try:
        vae = vae_from_config(cfg, metadata=meta, where=where)
        return vae, fit_vae_from_config(vae, cfg, X, where=where)
    except FloatingPointError:  # TrainingDiverged: a runtime failure, not a params one
        raise
    except ValueError as exc:
        raise ParamsError(f"params {exc}") from None


def train_font_vae(data: Dataset, cfg: dict | None = None, where: str = "font_vae"):
    """Build and train the font VAE of ``cfg`` (over :data:`FONT_DEFAULTS`); (vae, history)."""
    cfg = {**FONT_DEFAULTS, **(cfg or {})}
    meta = {"dataset": "font", "labels": list(data.labels), "pixel_range": [0.0, 1.0],
            "image_shape": list(data.image_shape), "font": data.info.get("font")}
    return _train(cfg, font_targets(data), meta, where)


def _mean(values) -> float:
    """Mean by a correctly rounded sum: the same on every machine (NumPy's sums are not)."""
    values = np.ravel(values)
    return math.fsum(values) / len(values)


def font_vae_metrics(vae, data: Dataset, elbo_samples: int = 100, seed: int = 0) -> dict:
    """ELBO, KL, reconstruction (nats per glyph) and wrong pixels of the decoded means (in the
    arithmetic the model was trained in: nbae.engine.exact.evaluator)."""
    ev = evaluator(vae)
    X = font_targets(data)
    terms = ev.loss_terms(X, n_samples=elbo_samples, seed=seed)
    rec, kl = terms["reconstruction"], terms["kl"]
    wrong = pixel_errors(X, ev.reconstruct(X), (0, 1))
    t = vae.training
    return {
        "latent_dim": int(vae.latent_dim), "beta": vae.beta, "n_params": int(vae.n_params),
        "epochs": int(vae.epochs_trained), "best_epoch": t.get("best_epoch"),
        "elbo": _r(-_mean(rec + kl)), "kl": _r(_mean(kl)), "reconstruction": _r(_mean(rec)),
        "elbo_samples": int(elbo_samples),
        "wrong_pixels": int(wrong.sum()), "max_wrong_pixels": int(wrong.max()),
        "exact_glyphs": int((wrong == 0).sum()),
        "wrong_glyphs": " ".join(f"{lab}:{w}" for lab, w in zip(data.labels, wrong,
                                                                 strict=True) if w),
        "training_seconds": round(float(t.get("seconds") or 0.0), 3),
    }


def font_vae_figures(vae, data: Dataset, out_dir, transitions=(("k", "h"), ("w", "u")),
                     steps: int = 9, grid_n: int = 15, reconstructions: bool = True) -> list[Path]:
    """Latent map with sigma ellipses, prior-quantile grid, transitions and (optionally: a
    64-panel figure, the slowest to draw) the reconstructions sheet; returns the paths."""
    from nbae.engine.latent import interpolate
    from nbae.figures import plot_latent_grid, plot_reconstructions, plot_transitions

    out = Path(out_dir)
    vae = evaluator(vae)
    X, labels, shape = font_targets(data), list(data.labels), (7, 5)
    if vae.latent_dim != 2:
        raise ParamsError(f"the font VAE figures need a 2-D latent space, got "
                          f"{vae.latent_dim} (the last of layers)")
    for a, b in transitions:
        for c in (a, b):
            if c not in labels:
                raise ParamsError(f"transition glyph {c!r} is not in the font "
                                  f"({' '.join(labels)})")
    mu, sigma = vae.encode(X, return_sigma=True)
    paths = [out / "latent_map.png", out / "prior_grid.png", out / "transitions.png",
             out / "reconstructions.png"]
    plot_latent_ellipses(mu, sigma, labels, paths[0])
    zs, images = prior_quantile_grid(vae, grid_n)
    plot_latent_grid(images, zs, zs, shape, (0, 1), paths[1],
                     title="VAE decodings at prior quantiles 5%..95% (Kingma & Welling fig. 4)")
    rows = [(a, b, interpolate(vae, X[labels.index(a)], X[labels.index(b)], steps)[1])
            for a, b in transitions]
    plot_transitions(rows, shape, (0, 1), paths[2],
                     title="VAE transitions between posterior means")
    if not reconstructions:
        return paths[:3]
    plot_reconstructions(X, vae.reconstruct(X), labels, shape, (0, 1), paths[3])
    return paths


def run_font_vae_study(data: Dataset, cfg: dict | None, out_dir, model_path=None,
                       transitions=(("k", "h"), ("w", "u")), steps: int = 9, grid_n: int = 15,
                       elbo_samples: int = 100, reconstructions: bool = True) -> dict:
    """Train, then write model.npz, history.csv, metrics.json and the figures (latent_map,
    prior_grid, transitions, reconstructions, training .png); return the metrics.

    Settings are checked before training (ParamsError), so a bad transition or latent size
    costs no training time and writes nothing.
    """
    out = Path(out_dir)
    labels = list(data.labels)
    for a, b in transitions:
        for c in (a, b):
            if c not in labels:
                raise ParamsError(f"transition glyph {c!r} is not in the font "
                                  f"({' '.join(labels)})")
    layers = {**FONT_DEFAULTS, **(cfg or {})}.get("layers")
    if isinstance(layers, list) and layers and layers[-1] != 2:
        raise ParamsError(f"the font VAE study draws a 2-D latent space; layers {layers} end "
                          f"in {layers[-1]}")
    vae, history = train_font_vae(data, cfg)
    metrics = font_vae_metrics(vae, data, elbo_samples=elbo_samples)
    font_vae_figures(vae, data, out, transitions, steps, grid_n, reconstructions)
    plot_vae_history(history, out / "training.png", title="Font VAE training")
    if vae.training.get("engine") == "lanes":  # reproducible: the same file on every machine
        drop_timings(vae)
    vae.save(model_path or out / "model.npz")
    write_csv(out / "history.csv", history)
    write_json(out / "metrics.json", metrics)
    return metrics


# ---------------------------------------------------------------------------------------------
# flowers


def train_flower_vae(data: Dataset, cfg: dict | None = None, where: str = "flowers_vae"):
    """Build and train the flower VAE (over :data:`FLOWER_DEFAULTS`); (vae, history)."""
    cfg = {**FLOWER_DEFAULTS, **(cfg or {})}
    meta = data.model_metadata()
    return _train(cfg, np.asarray(data.X), meta, where)


def nearest_photos(samples, X) -> dict:
    """Each sample's nearest photo in pixel space: ``index``, ``rms`` (root-mean-square pixel
    distance) and the summary numbers ``mean_rms``, ``distinct_nearest`` and ``spread_rms``
    (mean RMS distance between two different samples: small means the samples look alike)."""

    S = np.asarray(samples, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    # squared distances as correctly rounded sums (no BLAS product, no CPU-dependent order)
    d2 = np.array([[math.fsum((s - x) ** 2) for x in X] for s in S])
    idx = np.argmin(d2, axis=1)
    rms = np.sqrt(d2[np.arange(len(S)), idx] / S.shape[1])
    if len(S) > 1:
        pairs = [math.sqrt(_mean((S[i] - S[j]) ** 2)) for i in range(len(S))
                 for j in range(i + 1, len(S))]
        spread = _mean(pairs)
    else:
        spread = 0.0
    return {"index": idx, "rms": rms, "mean_rms": _mean(rms),
            "distinct_nearest": int(len(set(idx.tolist()))), "spread_rms": float(spread)}


def compare_generators(vae, ae, X, n: int = 12, seed: int = 0, scale: float = 1.0) -> dict:
    """Prior samples of ``vae`` vs ``ae``'s samples near its training codes (``latent_stats``
    Gaussian, as ``nbae generate``), each scored against the nearest photo of ``X``.

    Returns {"vae": (samples, nearest info), "ae": (samples, nearest info)}.
    """
    from nbae.engine.latent import sample_codes
    from nbae.studies.experiment import latent_stats

    X = np.asarray(X, dtype=np.float64)
    if "latent_stats" not in ae.metadata:
        reproducible = (ae.training or {}).get("engine") == "lanes"
        ae.metadata["latent_stats"] = latent_stats(ae, X, exact=reproducible)
    out = {"vae": np.asarray(vae.sample(n, seed=seed), dtype=np.float64),
           "ae": np.asarray(ae.decode(sample_codes(ae, n, seed=seed, scale=scale)),
                            dtype=np.float64)}
    return {k: (s, nearest_photos(s, X)) for k, s in out.items()}


def flower_vae_figures(comparison: dict, X, ids, size: int, out_dir) -> list[Path]:
    """Sheets of samples beside their nearest photo, one per generator."""
    from nbae.figures import plot_pairs

    out = Path(out_dir)
    X = np.asarray(X, dtype=np.float64)
    names = {"vae": "VAE prior samples", "ae": "Autoencoder samples near its training codes"}
    paths = []
    for key, (samples, near) in comparison.items():
        caps = [f"#{ids[i]}, rms {r:.2f}" for i, r in zip(near["index"], near["rms"],
                                                           strict=True)]
        path = out / f"samples_{key}.png"
        plot_pairs(samples, X[near["index"]], (size, size), (-1, 1), path,
                   left_title="sample", right_title="nearest photo", captions=caps,
                   title=f"{names[key]}: mean rms to the nearest photo {near['mean_rms']:.3f}")
        paths.append(path)
    return paths


def run_flower_vae_study(data: Dataset, cfg: dict | None, ae, out_dir, model_path=None,
                         n_samples: int = 12, seed: int = 0, scale: float = 1.0) -> dict:
    """Train the flower VAE, compare its prior samples with ``ae``'s (a trained Autoencoder or
    the path of one); write model, history.csv, metrics.json and the sheets; the metrics."""
    from nbae.engine.model import Autoencoder

    out = Path(out_dir)
    if not hasattr(ae, "decode"):
        ae = Autoencoder.load(ae)
    vae, history = train_flower_vae(data, cfg)
    ev = evaluator(vae)  # inference in the arithmetic each model was trained in
    X = np.asarray(data.X, dtype=np.float64)
    terms = ev.loss_terms(X, n_samples=10, seed=seed)
    comp = compare_generators(ev, evaluator(ae), X, n=n_samples, seed=seed, scale=scale)
    size = data.size
    flower_vae_figures(comp, X, data.info["ids"], size, out)
    plot_vae_history(history, out / "training.png", title="Flower VAE training")
    metrics = {"latent_dim": int(vae.latent_dim), "beta": vae.beta,
               "epochs": int(vae.epochs_trained),
               "loss": _r(_mean(terms["reconstruction"] + vae.beta * terms["kl"])),
               "kl": _r(_mean(terms["kl"])), "reconstruction": _r(_mean(terms["reconstruction"])),
               "reconstruction_mse": _r(_mean((ev.reconstruct(X) - X) ** 2)),
               "samples": int(n_samples), "sample_seed": int(seed)}
    for key, (_, near) in comp.items():
        metrics[f"{key}_mean_rms_to_nearest"] = _r(near["mean_rms"])
        metrics[f"{key}_distinct_nearest"] = near["distinct_nearest"]
        metrics[f"{key}_spread_rms"] = _r(near["spread_rms"])
    # the model file lives in DVC's cache and a fresh clone's dvc repro rebuilds it: trained
    # with reproducible: true (config/vae.yaml), the same bytes as in dvc.lock on any x86-64
    drop_timings(vae)
    vae.save(model_path or out / "model.npz")
    write_csv(out / "history.csv", history)
    write_json(out / "metrics.json", metrics)
    return metrics
