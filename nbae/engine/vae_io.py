"""VAE model files: the ``.npz`` style of :mod:`nbae.engine.serialization` with ``model: "vae"``.

A VAE's encoder head is ``(h, 2k)`` wide, so its arrays are not the layer chain that
``serialization.load_model`` derives from ``sizes``; the metadata therefore also records
``layer_shapes``, and reading checks the arrays against the architecture rebuilt from
``config``. (Once ``load_model`` validates against ``layer_shapes`` when present, ``load_vae``
can call it; see NOTES-vae.md.)
"""

from __future__ import annotations

import json
import zipfile

import numpy as np

from nbae import __version__
from nbae.engine.model import Autoencoder, _jsonable
from nbae.engine.serialization import (
    FORMAT,
    MAX_META_BYTES,
    MAX_PARAMS,
    ModelFileError,
    check_model_path,
    save_model,
)
from nbae.engine.vae import MODEL_KIND
from nbae.fileio import NPY_LOAD_ERRORS


def save_vae(vae, path) -> None:
    """Write ``vae`` to ``path`` atomically (arrays W0, b0, ... and the JSON ``meta``)."""
    meta = {"nbae_version": __version__, "model": MODEL_KIND, "sizes": list(vae.sizes),
            "layer_shapes": [list(s) for s in vae.layer_shapes],
            "activations": list(vae.activations), "config": vae.config(),
            "training": _jsonable(vae.training), "metadata": _jsonable(vae.metadata),
            # fit() draws each call's stream by its index, and the KL warm-up counts epochs:
            # a loaded model continues training exactly as the saved one would have
            "fit_calls": vae._fits, "epochs_trained": vae.epochs_trained}
    save_model(path, meta, vae._W, vae._b)


def load_vae(path, cls=None):
    """The :class:`~nbae.vae.VAE` in ``path``; ModelFileError naming the file otherwise."""
    if cls is None:
        from nbae.engine.vae import VAE as cls
    meta, arrays = read_model_file(path)
    if meta.get("model") != MODEL_KIND:
        raise ModelFileError(f"{path}: not a VAE model (a plain autoencoder? load it with "
                             f"Autoencoder.load)")
    try:
        vae = cls(**meta["config"], metadata=meta.get("metadata") or {})
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: inconsistent architecture record: {exc}") from None
    shapes = vae.layer_shapes
    names = {f"{c}{l}" for l in range(len(shapes)) for c in "Wb"}
    if set(arrays) - {"meta"} != names:
        raise ModelFileError(f"{path}: arrays {sorted(set(arrays) - {'meta'})} do not match "
                             f"a {len(shapes)}-layer VAE")
    for l, (fi, fo) in enumerate(shapes):
        for key, shape in ((f"W{l}", (fi, fo)), (f"b{l}", (fo,))):
            if arrays[key].shape != shape:
                raise ModelFileError(f"{path}: array {key} has shape {arrays[key].shape} "
                                     f"but the architecture needs {shape}")
            if not np.all(np.isfinite(arrays[key])):
                raise ModelFileError(f"{path}: array {key} holds non-finite values")
    vae.weights = [arrays[f"W{l}"] for l in range(len(shapes))]
    vae.biases = [arrays[f"b{l}"] for l in range(len(shapes))]
    vae.training = meta.get("training") or {}
    vae._fits = int(meta.get("fit_calls", 0))
    vae.epochs_trained = int(meta.get("epochs_trained", 0))
    return vae


def load_any(path):
    """:class:`~nbae.vae.VAE` or :class:`~nbae.model.Autoencoder`, whichever ``path`` holds."""
    meta, _ = read_model_file(path)
    return load_vae(path) if meta.get("model") == MODEL_KIND else Autoencoder.load(path)


def read_model_file(path):
    """(meta, arrays) of an nbae model file, with the checks of serialization.load_model
    that do not depend on the layer chain."""
    path = check_model_path(path)
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":
            raise ModelFileError(f"{path}: not an nbae model (.npz) file")
    try:
        # bounded memory before anything is inflated: a hostile file cannot claim gigabytes
        with zipfile.ZipFile(path) as zf:
            inflated = sum(info.file_size for info in zf.infolist())
        if inflated > 8 * MAX_PARAMS + MAX_META_BYTES:
            raise ModelFileError(f"{path}: its arrays would take {inflated:,} bytes, more than "
                                 f"a model of {MAX_PARAMS:,} parameters")
        with np.load(path, allow_pickle=False) as z:
            arrays = {key: z[key] for key in z.files}
        meta = json.loads(str(arrays["meta"]))
    except NPY_LOAD_ERRORS as exc:
        raise ModelFileError(f"{path}: not a readable nbae model file ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an nbae model file")
    return meta, arrays
