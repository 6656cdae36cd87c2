"""Models and data shared by test_explorer.py and test_explorer_browser.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nbae.cli.inputs import load_dataset
from nbae.engine.model import Autoencoder
from nbae.explorer import write_explorer

ROOT = Path(__file__).resolve().parents[1]
FONT = ROOT / "data" / "font.h"
FLOWER_LAYERS = [1024, 512, 256, 64, 6]  # params.yaml flowers_arch: decoder 6-64-256-512-1024


def font_data():
    return load_dataset("font", font_file=FONT)


def font_model(data, epochs=300):
    """35-10-2 trained briefly (glyph codes spread over the plane), or untrained (epochs=0)."""
    ae = Autoencoder([35, 10, 2], init="xavier", seed=3, metadata=data.model_metadata())
    if epochs:
        ae.fit(data.X, epochs=epochs, lr=5e-3)
    return ae


def flower_photos(n=24, size=32, seed=0):
    """Synthetic flower-like photos in [-1, 1]: petals of random count, width and phase."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1) * 2 - 1
    r, th = np.hypot(xx, yy), np.arctan2(yy, xx)
    X = []
    for _ in range(n):
        petals, phase, width = rng.integers(5, 9), rng.uniform(0, 6.3), rng.uniform(0.4, 0.8)
        edge = width * (0.6 + 0.4 * np.cos(petals * th + phase))
        img = np.where(r < edge, 0.9, -0.6) + np.where(r < 0.18, -1.2, 0)
        X.append(np.clip(img + rng.normal(0, 0.1, img.shape), -1, 1).ravel())
    return np.asarray(X, dtype=np.float32)


def flower_files(folder: Path):
    """A prepared-flower-set lookalike .npz and an untrained model of the study's shape."""
    X = flower_photos()
    data = folder / "flowers.npz"
    np.savez(data, X=X, ids=np.arange(6000, 6000 + len(X)), labels=np.full(len(X), 49))
    meta = load_dataset(data).model_metadata()
    ae = Autoencoder(FLOWER_LAYERS, activation="tanh", output_activation="tanh", init="xavier",
                     dtype="float32", seed=1, metadata=meta)
    model = folder / "model.npz"
    ae.save(model)
    return model, data


def explorer_page(model, path: Path, data=None) -> Path:
    write_explorer(model, path, data=data)
    return path
