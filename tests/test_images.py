"""nbae.data.images: archive reading, preprocessing, selection, contact sheet, prepare stage."""

from __future__ import annotations

import importlib.util
import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from nbae.data import images as im
from nbae.studies import flower_data as fd
from nbae.studies.params import ParamsError, run_stage

ROOT = Path(__file__).resolve().parents[1]
# the five-class subset of the Oxford archive, when the environment names its folder
SUBSET = Path(os.environ.get("NBAE_FLOWERS_SUBSET", "/nonexistent"))


def _disc(radius: float, size: int = 64, offset=(0, 0)) -> Image.Image:
    """White disc on black: the synthetic 'flower' photo."""
    yy, xx = np.mgrid[:size, :size]
    cy, cx = size / 2 + offset[0], size / 2 + offset[1]
    mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
    rgb = np.zeros((size, size, 3), np.uint8)
    rgb[mask] = (250, 240, 200)
    return Image.fromarray(rgb)


def _stripes(size: int = 64) -> Image.Image:
    rgb = np.zeros((size, size, 3), np.uint8)
    rgb[:, ::8] = 255
    rgb[:, 1::8] = 255
    return Image.fromarray(rgb)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """102flowers.tgz + imagelabels.mat in a tmp raw folder.

    Ids 1-6 (class 3): discs of similar size, 7-8 (class 3): outliers (stripes, corner disc),
    9-10 (class 5): small discs; id 11 is labelled but missing from the archive.
    """
    raw = tmp_path_factory.mktemp("raw")
    photos = {i: _disc(18 + i) for i in range(1, 7)}
    photos[7] = _stripes()
    photos[8] = _disc(10, offset=(-20, -20))
    photos[9] = _disc(6)
    photos[10] = _disc(7)
    with tarfile.open(raw / "102flowers.tgz", "w:gz") as tar:
        info = tarfile.TarInfo("jpg")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        for i, img in photos.items():
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=95)
            info = tarfile.TarInfo(im.member_name(i))
            info.size = len(buf.getvalue())
            tar.addfile(info, io.BytesIO(buf.getvalue()))
    labels = np.array([[3] * 8 + [5, 5, 5]], dtype=np.uint8)
    scipy.io.savemat(raw / "imagelabels.mat", {"labels": labels})
    return raw


# --- names and labels --------------------------------------------------------------------


def test_member_names():
    assert im.member_name(42) == "jpg/image_00042.jpg"
    assert im.image_id("jpg/image_00042.jpg") == 42
    assert im.image_id("image_08189.jpg") == 8189
    assert im.image_id("jpg/") is None


def test_read_labels(archive, tmp_path):
    labels = im.read_labels(archive / "imagelabels.mat")
    assert labels.dtype == np.int64 and labels.tolist() == [3] * 8 + [5, 5, 5]
    scipy.io.savemat(tmp_path / "x.mat", {"other": np.ones(3)})
    with pytest.raises(ValueError, match="no 'labels'"):
        im.read_labels(tmp_path / "x.mat")
    with pytest.raises(ValueError, match="no such file"):
        im.read_labels(tmp_path / "missing.mat")


# --- reading the archive -----------------------------------------------------------------


def test_iter_tgz_members_reads_only_wanted(archive):
    before = sorted(p.name for p in archive.iterdir())
    got = list(im.iter_tgz_members(archive / "102flowers.tgz",
                                   [im.member_name(5), im.member_name(2), "jpg/nope.jpg"]))
    assert [name for name, _ in got] == [im.member_name(2), im.member_name(5)]  # archive order
    assert all(data[:2] == b"\xff\xd8" for _, data in got)  # JPEG bytes
    assert sorted(p.name for p in archive.iterdir()) == before  # nothing extracted
    with open(archive / "102flowers.tgz", "rb") as f:  # file objects work too
        assert len(list(im.iter_tgz_members(f, [im.member_name(1)]))) == 1


def test_read_images_from_tgz(archive):
    imgs = im.read_images_from_tgz(archive / "102flowers.tgz", [4, 1])
    assert list(imgs) == [1, 4]
    assert imgs[1].size == (64, 64) and imgs[1].mode == "RGB"
    with pytest.raises(ValueError, match=r"not in the archive \(ids 11\)"):
        im.read_images_from_tgz(archive / "102flowers.tgz", [1, 11])


def test_damaged_archive(tmp_path):
    bad = tmp_path / "102flowers.tgz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage" * 10)
    with pytest.raises(ValueError, match="damaged or not a .tgz"):
        im.read_images_from_tgz(bad, [1])
    with pytest.raises(ValueError, match="no such file"):
        im.read_images_from_tgz(tmp_path / "none.tgz", [1])


# --- preprocessing -----------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(90, 30), (30, 90), (31, 30)])
def test_crop_keeps_the_centre(shape):
    w, h = shape
    side = min(w, h)
    img = Image.new("RGB", (w, h), (0, 0, 0))
    left, top = (w - side) // 2, (h - side) // 2
    img.paste((255, 255, 255), (left, top, left + side, top + side))
    x = im.preprocess(img, size=8)
    assert x.shape == (64,) and x.dtype == np.float32
    assert np.all(x == 1.0)  # only the white centre square survives the crop


def test_crop_is_centred_not_left_aligned():
    img = Image.new("L", (60, 20), 0)
    img.paste(255, (0, 0, 20, 20))  # white on the left third only
    assert np.all(im.preprocess(img, size=4) == -1.0)


@pytest.mark.parametrize("size", [1, 7, 32])
def test_output_size_and_exact_range(size):
    black = im.preprocess(Image.new("RGB", (50, 40), (0, 0, 0)), size)
    white = im.preprocess(Image.new("RGB", (50, 40), (255, 255, 255)), size)
    assert black.shape == white.shape == (size * size,)
    assert black.dtype == white.dtype == np.float32
    assert np.all(black == -1.0) and np.all(white == 1.0)


def test_grayscale_is_itu_601_luma():
    def value(rgb):
        x = im.preprocess(Image.new("RGB", (10, 10), rgb), size=4)
        assert np.all(x == x[0])
        return float(x[0])

    # L = R*299/1000 + G*587/1000 + B*114/1000, rounded to 8 bits
    assert value((255, 0, 0)) == pytest.approx(round(255 * 299 / 1000) / 127.5 - 1, abs=1e-6)
    assert value((0, 255, 0)) == pytest.approx(round(255 * 587 / 1000) / 127.5 - 1, abs=1e-6)
    assert value((0, 0, 255)) == pytest.approx(round(255 * 114 / 1000) / 127.5 - 1, abs=1e-6)


def test_rows_are_flattened_top_to_bottom():
    img = Image.new("L", (64, 64), 0)
    img.paste(255, (0, 0, 64, 32))  # top half white
    x = im.preprocess(img, size=8).reshape(8, 8)
    assert np.all(x[0] == 1.0) and np.all(x[7] == -1.0)
    assert np.all(x[:4] > 0.8) and np.all(x[4:] < -0.8)


def test_other_modes_are_accepted():
    rgba = Image.new("RGBA", (20, 20), (255, 0, 0, 128))
    pal = Image.new("RGB", (20, 20), (255, 0, 0)).convert("P")
    assert im.preprocess(rgba, 4)[0] == pytest.approx(76 / 127.5 - 1, abs=1e-6)
    assert im.preprocess(pal, 4)[0] == pytest.approx(76 / 127.5 - 1, abs=1e-6)
    with pytest.raises(ValueError, match="size"):
        im.preprocess(rgba, 0)


# --- selection ---------------------------------------------------------------------------


def test_medoid_nearest_ties_and_order():
    rng = np.random.default_rng(0)
    base = rng.normal(size=16)
    X = np.stack([base, base, base + rng.normal(scale=0.1, size=16), rng.normal(size=16)])
    idx, med = im.medoid_nearest(X, 2, ids=[10, 11, 12, 13])
    assert med == 0 and idx.tolist() == [0, 1]  # equal rows: the smaller id wins
    perm = [3, 2, 1, 0]
    idx2, med2 = im.medoid_nearest(X[perm], 2, ids=np.array([10, 11, 12, 13])[perm])
    assert sorted(np.array([10, 11, 12, 13])[perm][idx2]) == [10, 11]  # row order irrelevant
    with pytest.raises(ValueError, match="cannot select 5"):
        im.medoid_nearest(X, 5)


def test_select_medoid_drops_outliers(archive):
    fs = im.select_images(archive / "102flowers.tgz", archive / "imagelabels.mat",
                          classes=[3], n_images=5, size=16)
    assert fs.X.shape == (5, 256) and fs.X.dtype == np.float32
    assert set(fs.ids.tolist()) <= {1, 2, 3, 4, 5, 6}  # no stripes (7), no corner disc (8)
    assert fs.ids.tolist() == sorted(fs.ids.tolist())
    assert fs.labels.tolist() == [3] * 5 and fs.medoid_id in fs.ids
    again = im.select_images(archive / "102flowers.tgz", archive / "imagelabels.mat",
                             classes=3, n_images=5, size=16)
    assert np.array_equal(again.ids, fs.ids) and np.array_equal(again.X, fs.X)


def test_select_first_and_explicit_ids(archive):
    tgz, labels = archive / "102flowers.tgz", archive / "imagelabels.mat"
    first = im.select_images(tgz, labels, classes=[3, 5], n_images=3, selection="first", size=8)
    assert first.ids.tolist() == [1, 2, 3] and first.medoid_id is None
    chosen = im.select_images(tgz, labels, ids=[10, 2, 7], size=8)
    assert chosen.ids.tolist() == [2, 7, 10] and chosen.labels.tolist() == [3, 3, 5]
    img = im.read_images_from_tgz(tgz, [7])[7]
    assert np.array_equal(chosen.X[1], im.preprocess(img, 8))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"classes": [5], "n_images": 4}, "have 3 photos"),  # id 11 is class 5 but not stored
        ({"classes": [5], "n_images": 3}, r"not in the archive \(ids 11\)"),
        ({"classes": [99]}, "no photos with labels"),
        ({"ids": [1, 1]}, "more than once"),
        ({"ids": [12]}, "out of range"),
        ({"selection": "random"}, "selection must be"),
    ],
)
def test_select_errors(archive, kwargs, message):
    with pytest.raises(ValueError, match=message):
        im.select_images(archive / "102flowers.tgz", archive / "imagelabels.mat", **kwargs)


def test_contact_sheet(tmp_path):
    X = np.linspace(-1, 1, 5 * 64, dtype=np.float32).reshape(5, 64)
    path = tmp_path / "sheet" / "contact_sheet.png"
    im.contact_sheet(X, 8, [1, 2, 3, 4, 5], path)
    with Image.open(path) as img:
        assert img.format == "PNG" and img.mode == "L"
        assert img.width > 3 * 24 and img.height > 24
    assert [p.name for p in path.parent.iterdir()] == ["contact_sheet.png"]
    with pytest.raises(ValueError, match="ids"):
        im.contact_sheet(X, 8, [1, 2], path)


# --- params and the prepare stage --------------------------------------------------------


def test_flowers_params():
    cfg = fd.flowers_params({})
    assert cfg["classes"] == list(im.DEFAULT_CLASSES) and cfg["n_images"] == 24
    assert cfg["files"]["102flowers.tgz"]["size"] == 344862509
    assert fd.flowers_params({"classes": 54})["classes"] == [54]
    for bad, message in [
        ({"clases": [1]}, "unknown key"),
        ({"classes": [103]}, r"^params flowers.classes: 103 is outside 1..102$"),
        ({"ids": [0]}, r"^params flowers.ids: 0 is outside >= 1$"),
        ({"ids": []}, r"^params flowers.ids is empty"),
        ({"ids": [4, 4]}, r"^params flowers.ids lists an image more than once$"),
        ({"size": [32]}, r"^params flowers.size must be an integer in 2..512, got \[32\]$"),
        ({"size": None}, r"^params flowers.size must be an integer in 2..512, got None$"),
        ({"n_images": 0}, r"^params flowers.n_images must be an integer >= 1 or null "
                          r"\(all photos of the classes\), got 0$"),
        ({"n_images": True}, r"flowers.n_images must be"),
        ({"selection": "best"}, r"^params flowers.selection must be one of \['medoid', "
                                r"'first'\], got 'best'$"),
        ({"files": {"setid.mat": {}}}, "102flowers.tgz is required"),
    ]:
        with pytest.raises(ParamsError, match=message):
            fd.flowers_params(bad)
    assert fd.flowers_params({"n_images": None})["n_images"] is None


def _files(raw) -> str:
    """The ``flowers.files`` entry (md5, size) of the synthetic archive in ``raw``."""
    import hashlib

    return "{" + ", ".join(
        f"{n}: {{md5: {hashlib.md5((raw / n).read_bytes()).hexdigest()}, "
        f"size: {(raw / n).stat().st_size}}}" for n in ("102flowers.tgz", "imagelabels.mat")) + "}"


def _prepare_stage():
    spec = importlib.util.spec_from_file_location("prepare_flowers",
                                                  ROOT / "stages/prepare_flowers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prepare_stage(archive, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text(
        f"other: {{a: 1}}\nflowers:\n  files: {_files(archive)}\n  classes: [3]\n"
        "  n_images: 4\n  size: 16\n"
    )
    assert _prepare_stage().main(["config.yaml", str(archive), "data/flowers/prepared"]) == 0
    out = tmp_path / "data/flowers/prepared"
    with np.load(out / "flowers.npz") as npz:
        assert sorted(npz.files) == ["X", "ids", "labels"]
        assert npz["X"].shape == (4, 256) and npz["X"].dtype == np.float32
        assert npz["X"].min() >= -1 and npz["X"].max() <= 1
        assert npz["labels"].tolist() == [3] * 4
    assert (out / "contact_sheet.png").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["contact_sheet.png", "flowers.npz"]
    assert "4 photos" in capsys.readouterr().out


@pytest.mark.slow
def test_prepare_stage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text("flowers:\n  base_url: http://127.0.0.1:9/\n")
    # missing files, no server: a runtime failure
    assert run_stage(_prepare_stage().main, ["config.yaml", "nowhere", "out"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "nowhere" in err
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("setting, message", [
    ({"size": 0}, "params flowers.size must be an integer in 2..512, got 0"),
    ({"selection": "random"}, "params flowers.selection must be one of ['medoid', 'first'], "
                              "got 'random'"),
    ({"n_images": 0}, "params flowers.n_images must be an integer >= 1 or null (all photos of "
                      "the classes), got 0"),
    ({"n_images": 9}, "params flowers.n_images = 9 but classes [3] have 8 photos"),
    ({"ids": [12]}, "params flowers.ids: image ids out of range 1..11: [12]"),
    ({"clases": [3]}, "flowers: unknown key(s) ['clases'] (known: ['base_url', 'classes', "
                      "'files', 'ids', 'n_images', 'selection', 'size'])"),
])
def test_prepare_stage_bad_params_exit_2(archive, tmp_path, monkeypatch, capsys, setting,
                                          message):
    """A bad ``flowers:`` setting is one ``error: params ...`` line and exit status 2."""
    import yaml

    monkeypatch.chdir(tmp_path)
    flowers = {"files": yaml.safe_load(_files(archive)), "classes": [3], "n_images": 4, **setting}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"flowers": flowers}))
    assert run_stage(_prepare_stage().main, ["config.yaml", str(archive), "data/prep"]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert not (tmp_path / "data").exists()


def test_prepare_stage_missing_params_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_stage(_prepare_stage().main, ["none.yaml", "raw", "out"]) == 2
    assert capsys.readouterr().err == "error: none.yaml: file not found\n"


# --- the real five-class subset (shared folder; skipped when absent) ---------------------


@pytest.mark.skipif(not SUBSET.is_dir(), reason="NBAE_FLOWERS_SUBSET is not set")
def test_real_subset_default_selection():
    tgz, labels = SUBSET / "102flowers.tgz", SUBSET / "imagelabels.mat"
    fs = im.select_images(tgz, labels, n_images=24, size=32)
    assert fs.X.shape == (24, 1024) and fs.X.dtype == np.float32
    assert fs.X.min() >= -1.0 and fs.X.max() <= 1.0 and fs.X.std() > 0.2
    assert len(set(fs.ids.tolist())) == 24
    assert set(fs.labels.tolist()) == set(im.DEFAULT_CLASSES)
    assert all(im.read_labels(labels)[fs.ids - 1] == fs.labels)
    again = im.select_images(tgz, labels, n_images=24, size=32)
    assert np.array_equal(again.ids, fs.ids) and np.array_equal(again.X, fs.X)
    explicit = im.select_images(tgz, labels, ids=fs.ids.tolist(), size=32)
    assert np.array_equal(explicit.X, fs.X)
