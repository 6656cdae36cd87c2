"""What a trained model knows of its data, read from its metadata (shared by CLI and pages).

Models written by ``nbae train`` and the study stages carry the metadata built in
:meth:`nbae.data.datasets.Dataset.model_metadata`: labels, pixel range, image shape and, for the
font, the training inputs themselves.
"""

from __future__ import annotations

import numpy as np

from nbae.errors import InputError

# Images this small are bitmaps (the 7x5 font): drawn as text, scored by wrong pixels.
GLYPH_MAX_PIXELS = 256


def pixel_range(ae) -> tuple[float, float]:
    low, high = ae.metadata.get("pixel_range") or (0.0, 1.0)
    return float(low), float(high)


def image_shape(ae) -> tuple[int, int] | None:
    """The model's (rows, cols) if its metadata records one matching the output width."""
    shape = ae.metadata.get("image_shape")
    if shape and len(shape) == 2 and int(shape[0]) * int(shape[1]) == ae.output_dim:
        return int(shape[0]), int(shape[1])
    return None


def is_glyph_model(ae) -> bool:
    """True for small bitmap models (the font): drawn as text, scored in wrong pixels."""
    shape = image_shape(ae)
    return shape is not None and shape[0] * shape[1] <= GLYPH_MAX_PIXELS


def load_model(path):
    """Load a model; a missing file is an InputError, a corrupt one a ModelFileError."""
    from nbae.engine.model import Autoencoder
    from nbae.engine.serialization import ModelFileError, check_model_path
    from nbae.engine.vae_io import load_vae, read_model_file

    try:
        path = check_model_path(path)
    except ModelFileError as exc:  # missing, or a directory, device or pipe: bad input
        raise InputError(str(exc)) from None
    try:
        return Autoencoder.load(path)  # every array header checked before any data is read
    except ModelFileError:
        try:  # a variational autoencoder? (its file is size-capped before reading)
            is_vae = read_model_file(path)[0].get("model") == "vae"
        except ModelFileError:
            is_vae = False
        if not is_vae:
            raise
    return load_vae(path)


def stored_inputs(ae) -> tuple[list[str], np.ndarray | None]:
    """The model's training labels and stored training inputs (None unless a font model)."""
    labels = [str(x) for x in ae.metadata.get("labels") or []]
    train = ae.metadata.get("train_inputs")
    X = np.asarray(train, dtype=np.float64) if train is not None else None
    if X is not None and (X.ndim != 2 or X.shape != (len(labels), ae.input_dim)):
        X = None
    return labels, X
