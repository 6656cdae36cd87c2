"""Interactive latent explorer: one self-contained HTML page per trained model.

The page carries the model's decoder (weights and biases base64-encoded in the model's own
dtype, little-endian), the latent codes of the training inputs, their labels and pixels, and
runs the decoder in JavaScript as the user moves through the latent space. It loads nothing:
no CDN, no second file, no server; a Content-Security-Policy forbids every network fetch.

Two layouts, chosen from the model:

* glyph models (small bitmaps such as the 5x7 font, see :func:`nbae.inputs.is_glyph_model`)
  with a latent space of 2 or more dimensions get the *latent plane*: two chosen coordinates
  as a map with every glyph at its code, the other coordinates on sliders;
* every other model gets one slider per latent coordinate and clickable thumbnails of the
  training inputs (flower photos).

Both show the decoded image enlarged, the nearest training code (Euclidean distance in latent
space) with its pixel difference, and a "random sample" button drawing codes from the Gaussian
of the training codes (``latent_stats``, as ``nbae generate`` does).

The JavaScript decoder applies every activation of :mod:`nbae.codes` with the formulas of
``nbae.kernels.activate`` and stores each layer's outputs in the model's dtype, so its output
equals ``Autoencoder.decode`` to rounding (1e-12 for float64 models, ~1e-6 for float32).
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from pathlib import Path

import numpy as np

from nbae import fileio
from nbae.data.datasets import load_dataset
from nbae.engine.metadata import image_shape, is_glyph_model, pixel_range, stored_inputs
from nbae.errors import InputError

PAGE_FORMAT = 1
DEFAULT_FLOWER_SET = Path("data/flowers/prepared/flowers.npz")
# Training inputs embedded at most (codes, thumbnails, nearest-input search); more would make
# the page heavy without helping anyone navigate. Larger sets are subsampled evenly.
MAX_INPUTS = 512
# Slider ranges reach this many standard deviations of the training codes beyond their mean.
SLIDER_STDS = 3.0


def _b64(array, dtype) -> str:
    """Base64 of ``array`` as little-endian ``dtype`` bytes (what JS typed arrays read)."""
    data = np.ascontiguousarray(np.asarray(array, dtype=np.dtype(dtype).newbyteorder("<")))
    return base64.b64encode(data.tobytes()).decode("ascii")


def _as_model(model):
    """An Autoencoder or VAE from a path or an object; anything else is an InputError."""
    from nbae.engine.model import Autoencoder
    from nbae.engine.vae import VAE

    if isinstance(model, (Autoencoder, VAE)):  # a VAE's decoder is the same dense chain
        return model
    if isinstance(model, (str, Path)):
        from nbae.engine.metadata import load_model

        return load_model(model)
    raise InputError(f"expected a model file or an Autoencoder, got {type(model).__name__}")


def training_inputs(ae, data=None, labels=None) -> tuple[np.ndarray, list[str], str]:
    """The inputs whose codes the page shows: ``(X (n, input_dim), labels, description)``.

    ``data`` is None (the inputs a font model stores, else the prepared flower set for flower
    models), a data file or ``"font"`` as ``nbae train --data`` takes, or an array with
    optional ``labels``.
    """
    if data is None:
        known, X = stored_inputs(ae)
        if X is not None:
            return X, known, str(ae.metadata.get("dataset") or "stored training inputs")
        if ae.metadata.get("dataset") == "flowers" and DEFAULT_FLOWER_SET.is_file():
            data = DEFAULT_FLOWER_SET
        else:
            raise InputError("the model stores no training inputs; pass --data with the file "
                             "it was trained on (.npz flower set, .npy or .csv)")
    if isinstance(data, (str, Path)):
        ds = load_dataset(data)
        X, names, where = ds.X, list(ds.labels), str(data)
        if ds.kind == "flowers":
            names = [f"#{i}" for i in names]
    else:
        X = np.asarray(data, dtype=np.float64)
        if X.ndim != 2:
            raise InputError(f"data must be a 2-D array (samples x values), got shape {X.shape}")
        names, where = None, "array"
        if labels is not None:
            names = [str(v) for v in labels]
            if len(names) != len(X):
                raise InputError(f"got {len(names)} labels for {len(X)} inputs")
        names = names or [str(i) for i in range(len(X))]
    if X.shape[1] != ae.input_dim:
        raise InputError(f"{where}: inputs have {X.shape[1]} values but the model takes "
                         f"{ae.input_dim}")
    if len(X) == 0 or not np.all(np.isfinite(X)):
        raise InputError(f"{where}: needs at least one input and finite values only")
    return np.asarray(X, dtype=np.float64), names, where


def _sampler(ae, Z) -> tuple[np.ndarray, np.ndarray]:
    """Mean and a factor L (cov = L L^T) of the training codes' Gaussian, as generate uses.

    ``latent_stats`` recorded at training wins; without it the codes' own moments are used.
    The factor comes from an eigendecomposition, as ``multivariate_normal(method="eigh")``.
    """
    stats = ae.metadata.get("latent_stats") or {}
    k = Z.shape[1]
    if "mean" in stats and "cov" in stats:
        mean = np.asarray(stats["mean"], dtype=np.float64).reshape(k)
        cov = np.asarray(stats["cov"], dtype=np.float64).reshape(k, k)
    else:
        mean = Z.mean(axis=0)
        cov = np.atleast_2d(np.cov(Z, rowvar=False)) if len(Z) > 1 else np.zeros((k, k))
    w, V = np.linalg.eigh(cov)
    return mean, V * np.sqrt(np.clip(w, 0.0, None))


def _layout(ae) -> str:
    """"plane" for glyph models with 2+ latent coordinates, else "sliders"."""
    return "plane" if is_glyph_model(ae) and ae.latent_dim >= 2 else "sliders"


def _slider_ranges(Z, mean, L) -> tuple[list[float], list[float]]:
    """Per coordinate: the codes' range and mean +- SLIDER_STDS std, widened by 10%."""
    std = np.sqrt((L**2).sum(axis=1))
    lo = np.minimum(Z.min(axis=0), mean - SLIDER_STDS * std)
    hi = np.maximum(Z.max(axis=0), mean + SLIDER_STDS * std)
    pad = np.maximum(0.1 * (hi - lo), 1e-3)
    return (lo - pad).tolist(), (hi + pad).tolist()


def page_data(ae, X, labels, title: str | None = None, source: str = "") -> dict:
    """Everything the page needs, as a JSON-ready dict (arrays as base64 strings)."""
    X = np.asarray(X, dtype=np.float64)
    n_all = len(X)
    if n_all > MAX_INPUTS:  # evenly spaced subset, order kept
        keep = np.unique(np.linspace(0, n_all - 1, MAX_INPUTS).round().astype(int))
        X, labels = X[keep], [labels[i] for i in keep]
    Z = np.asarray(ae.encode(X), dtype=np.float64)
    mean, L = _sampler(ae, Z)
    lo, hi = _slider_ranges(Z, mean, L)
    shape = image_shape(ae) or (1, ae.output_dim)
    glyph = is_glyph_model(ae)
    k0 = ae.n_encoder_layers
    dtype = ae.dtype.name
    layers = [{"fan_in": ae.sizes[l], "fan_out": ae.sizes[l + 1],
               "activation": ae.activations[l],
               "W": _b64(ae.weights[l], dtype), "b": _b64(ae.biases[l], dtype)}
              for l in range(k0, len(ae.sizes) - 1)]
    arch = "-".join(map(str, ae.sizes))
    return {
        "format": PAGE_FORMAT,
        "title": title or f"Latent explorer: {arch}",
        "layout": _layout(ae),
        "glyph": bool(glyph),
        # what one training input is called on the page
        "noun": "glyph" if glyph else "photo" if ae.metadata.get("dataset") == "flowers"
        else "input",
        "architecture": arch,
        "activations": list(ae.activations),
        "dtype": dtype,
        "leaky_slope": float(ae.leaky_slope),
        "latent_dim": int(ae.latent_dim),
        "shape": [int(shape[0]), int(shape[1])],
        "pixel_range": list(pixel_range(ae)),
        "layers": layers,
        "source": source,
        "n_inputs": n_all,
        "labels": [str(v) for v in labels],
        "codes": _b64(Z, "float64"),
        "inputs": _b64(X, "float32"),
        "mean": mean.tolist(),
        "sampler": L.tolist(),
        "slider_min": lo,
        "slider_max": hi,
    }


def _script_json(obj) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' can end it early."""
    text = json.dumps(obj, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def build_page(ae, X, labels, title: str | None = None, source: str = "") -> str:
    """The explorer page of ``ae`` with the training inputs ``X`` (rows) and their labels."""
    from nbae.explorer.page import TEMPLATE

    data = page_data(ae, X, labels, title=title, source=source)
    fills = {"TITLE": html.escape(data["title"]), "DATA": _script_json(data)}
    # one pass: a title or label containing a placeholder's text is never substituted again
    return re.sub(r"__NBAE_(TITLE|DATA)__", lambda m: fills[m.group(1)], TEMPLATE)


def write_explorer(model, out_path, data=None, labels=None, title: str | None = None) -> dict:
    """Write the explorer page of ``model`` (path or Autoencoder) to ``out_path`` atomically.

    ``data``: see :func:`training_inputs`. Returns a summary: path, layout, latent size,
    number of inputs shown and page size in bytes. For DVC stages and ``nbae explore``.
    """
    ae = _as_model(model)
    X, names, source = training_inputs(ae, data, labels)
    page = build_page(ae, X, names, title=title, source=source)
    fileio.write_text(out_path, page)
    return {"path": str(out_path), "layout": _layout(ae), "latent_dim": int(ae.latent_dim),
            "inputs": min(len(X), MAX_INPUTS), "bytes": len(page.encode("utf-8")),
            "decoder_params": int(sum(ae.sizes[l] * ae.sizes[l + 1] + ae.sizes[l + 1]
                                      for l in range(ae.n_encoder_layers,
                                                     len(ae.sizes) - 1)))}


def format_bytes(n: int) -> str:
    """``3747804`` -> ``'3.6 MB'``."""
    if n < 1024:
        return f"{n} B"
    exp = min(int(math.log(n, 1024)), 3)
    return f"{n / 1024**exp:.1f} {'KMG'[exp - 1]}B"
