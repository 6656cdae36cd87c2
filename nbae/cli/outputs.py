"""What ``nbae`` commands write: matrices (CSV/.npy), image grids (PNG) and text art.

Every file is written through :mod:`nbae.fileio` (a temporary file renamed into place), so no
output is ever half-written.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from nbae import fileio
from nbae.engine.metadata import image_shape, pixel_range
from nbae.errors import InputError


def check_output(path, allowed) -> str:
    """Suffix of ``path`` (``".png"``...) if in ``allowed``, else an InputError saying which."""
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        raise InputError(f"{path}: unsupported output type {suffix or '(none)'!r}; "
                         f"use {', '.join(allowed)}")
    return suffix


def matrix_csv(M, prefix: str = "z", labels=None) -> str:
    """CSV text with header ``z0,z1,...`` (and ``label`` when labels are given)."""
    M = np.atleast_2d(np.asarray(M, dtype=np.float64))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([f"{prefix}{j}" for j in range(M.shape[1])] + (["label"] if labels else []))
    for i, row in enumerate(M):
        # repr-exact float text: files read back to the same numbers
        w.writerow([repr(float(v)) for v in row] + ([labels[i]] if labels else []))
    return buf.getvalue()


def write_matrix(path, M, prefix: str = "z", labels=None) -> None:
    """Write a matrix atomically as ``.csv`` (with header and labels) or ``.npy``."""
    suffix = check_output(path, (".csv", ".npy"))
    if suffix == ".npy":
        fileio.save_npy(path, np.asarray(M))
    else:
        fileio.write_text(path, matrix_csv(M, prefix, labels))


def write_images(path, images, ae, titles=None, title: str | None = None) -> None:
    """Write decoded images as a PNG grid (needs an image shape), ``.npy`` or ``.csv``."""
    suffix = check_output(path, (".png", ".npy", ".csv"))
    if suffix != ".png":
        write_matrix(path, images, prefix="x", labels=titles)
        return
    shape = image_shape(ae)
    if shape is None:
        raise InputError(f"{path}: the model records no image shape; write .npy or .csv")
    from nbae.figures import plot_image_grid

    plot_image_grid(images, shape, pixel_range(ae), path, titles=titles,
                    ncols=min(len(images), 10), suptitle=title)


def ascii_grid(rows, shape, pixel_range, titles=None, row_labels=None, extra=None,
               width: int = 79) -> str:
    """Images drawn as text side by side (``'#'`` above the range midpoint, ``'.'`` below).

    ``rows`` is a list of image rows, each a sequence of flat images (same count per row);
    ``titles`` head the columns, ``row_labels`` name the rows, and ``extra`` is a list of
    ``(label, [text per column])`` lines added at the bottom. Columns wrap to ``width``.
    """
    from nbae.data.font import render_ascii

    rows = [list(r) for r in rows]
    n = len(rows[0])
    drawn = [[render_ascii(img, shape, pixel_range).split("\n") for img in r] for r in rows]
    extra = extra or []
    texts = [titles or [""] * n] + [cells for _, cells in extra]
    colw = [max([shape[1]] + [len(str(t[j])) for t in texts]) for j in range(n)]
    labels = list(row_labels or []) + [lab for lab, _ in extra]
    margin = max((len(s) for s in labels), default=0)
    margin = margin + 2 if margin else 0
    blocks, start = [], 0
    while start < n:
        stop, used = start, margin
        while stop < n and (stop == start or used + colw[stop] <= width):
            used += colw[stop] + 2
            stop += 1
        cols = range(start, stop)
        lines = []
        if titles:
            lines.append(" " * margin + "  ".join(str(titles[j]).ljust(colw[j]) for j in cols))
        for r, imgs in enumerate(drawn):
            for k in range(shape[0]):
                lab = row_labels[r] if row_labels and k == 0 else ""
                lines.append(lab.ljust(margin)
                             + "  ".join(imgs[j][k].ljust(colw[j]) for j in cols))
            if r < len(drawn) - 1 and row_labels:
                lines.append("")
        for lab, cells in extra:
            lines.append(lab.ljust(margin) + "  ".join(str(cells[j]).ljust(colw[j])
                                                        for j in cols))
        blocks.append("\n".join(line.rstrip() for line in lines))
        start = stop
    return "\n\n".join(blocks)
