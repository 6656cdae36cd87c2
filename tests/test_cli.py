"""Tests for the ``nbae`` command line (click's CliRunner, in-process)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nbae import Autoencoder, __version__
from nbae.cli import train as cli_train
from nbae.cli.app import main

ROOT = Path(__file__).resolve().parents[1]
FONT = ROOT / "data" / "font.h"
COMMANDS = ["train", "encode", "decode", "interpolate", "denoise", "generate", "info", "explore"]
TINY = ["--layers", "35,10,2", "--epochs", "300", "--seed", "3", "--font-file", str(FONT)]


def run(*args, input=None, code=0):
    result = CliRunner().invoke(main, [str(a) for a in args], input=input)
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny font model trained once through the command line."""
    path = tmp_path_factory.mktemp("cli") / "m.npz"
    res = run("train", *TINY, "-o", path)
    assert res.stdout == ""  # messages go to stderr only
    assert "saved" in res.stderr and "epoch 300/300" in res.stderr
    return path


def load(path):
    from nbae import Autoencoder

    return Autoencoder.load(path)


def glyphs(*chars):
    from nbae.data.font import read_font

    fs = read_font(FONT)
    return fs.matrix()[[fs.index(c) for c in chars]]


def csv_matrix(text):
    lines = text.strip().splitlines()
    return lines[0].split(","), np.array([[float(v) for v in ln.split(",")[:-1]]
                                          for ln in lines[1:]])


# ------------------------------------------------------------------------------ basics


def test_help_does_not_import_numba():
    code = ("import sys; from click.testing import CliRunner; from nbae.cli.app import main; "
            "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0; "
            "heavy = [m for m in ('numba', 'matplotlib', 'pandas', 'nbae.engine.model') "
            "if m in sys.modules]; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("command", [[]] + [[c] for c in COMMANDS])
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_everywhere(command, flag):
    out = run(*command, flag).stdout
    assert out.startswith(f"Usage: main {' '.join(command)}".rstrip())
    if command:
        assert "Examples:" in out or "[default:" in out


def test_version():
    assert __version__ in run("--version").stdout


# ------------------------------------------------------------------------------ train


def test_train_writes_model_metadata_and_history(model):
    import pandas as pd

    ae = load(model)
    meta = ae.metadata
    assert ae.sizes == [35, 10, 2, 10, 35]
    assert meta["dataset"] == "font" and meta["labels"][11] == "k"
    assert meta["pixel_range"] == [0, 1] and meta["image_shape"] == [7, 5]
    assert np.array_equal(meta["train_inputs"], glyphs(*meta["labels"]))
    assert len(meta["latent_stats"]["mean"]) == 2
    assert ae.training["epochs_run"] == 300
    hist = pd.read_csv(model.with_name("m.history.csv"))
    assert list(hist["epoch"]) == list(range(1, 301))


def test_round_trip_matches_python_api(model, tmp_path):
    from nbae.studies.experiment import fit_from_config, model_from_config

    ae = load(model)
    # the same settings through the Python API give the same weights
    cfg = {"layers": [35, 10, 2], "epochs": 300, "seed": 3}
    X = glyphs(*ae.metadata["labels"])
    twin = model_from_config(cfg)
    fit_from_config(twin, cfg, X)
    for w, v in zip(ae.weights, twin.weights, strict=True):
        np.testing.assert_allclose(w, v, rtol=0, atol=1e-12)

    header, Z = csv_matrix(run("encode", model, "k", "h").stdout)
    assert header == ["z0", "z1", "label"]
    np.testing.assert_array_equal(Z, ae.encode(glyphs("k", "h")))  # repr floats: exact

    run("encode", model, "kh", "-o", tmp_path / "z.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "z.npy"), Z)
    run("decode", model, tmp_path / "z.npy", "-o", tmp_path / "x.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), ae.decode(Z))
    # CSV codes file -> CSV images keeps the labels
    run("encode", model, "k", "h", "-o", tmp_path / "z.csv")
    out = run("decode", model, tmp_path / "z.csv", "--format", "csv").stdout
    header, Xh = csv_matrix(out)
    assert header[0] == "x0" and header[-1] == "label" and out.splitlines()[1].endswith(",k")
    np.testing.assert_array_equal(Xh, ae.decode(Z))


def test_train_from_yaml_section_with_override(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("architectures:\n  7:\n    name: tiny\n    layers: [35, 6, 2]\n"
                      "    epochs: 50000\n    encoding: bipolar\n    output_activation: tanh\n")
    out = tmp_path / "y.npz"
    res = run("train", "--params", params, "--section", "architectures.7", "--epochs", "20",
              "--font-file", FONT, "-o", out, "--history", tmp_path / "h.csv", "-q")
    assert res.stderr == ""
    ae = load(out)
    assert ae.sizes == [35, 6, 2, 6, 35] and ae.training["epochs"] == 20
    assert ae.metadata["pixel_range"] == [-1, 1] and ae.activations[-1] == "tanh"
    assert (tmp_path / "h.csv").is_file()


def test_train_interrupt_saves_best_and_exits_130(tmp_path, monkeypatch):
    calls = []

    def interrupt(epoch, total, loss):
        calls.append(epoch)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli_train, "_log_line", interrupt)
    out = tmp_path / "i.npz"
    res = run("train", "--layers", "35,4,2", "--epochs", "100", "--font-file", FONT, "-o", out,
              code=130)
    assert "interrupted after 20 of 100 epochs" in res.stderr
    ae = load(out)
    assert ae.training["stop_reason"] == "interrupted" and "latent_stats" in ae.metadata
    assert len(out.with_name("i.history.csv").read_text().splitlines()) == 21


def test_train_other_data(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    flowers = tmp_path / "fl.npz"
    np.savez(flowers, X=(rng.random((6, 400)) * 2 - 1).astype("float32"), ids=np.arange(10, 16),
             labels=np.full(6, 49))
    run("train", "--data", flowers, "--layers", "400,8,3", "--output-activation", "tanh",
        "--epochs", "5", "-o", tmp_path / "f.npz", "-q")
    ae = load(tmp_path / "f.npz")
    assert ae.metadata["dataset"] == "flowers" and ae.metadata["image_shape"] == [20, 20]
    assert ae.metadata["labels"] == [str(i) for i in range(10, 16)]
    # an image file is centre-cropped, grayscaled, resized like the training photos
    photo = tmp_path / "photo.png"
    Image.fromarray((rng.random((30, 50, 3)) * 255).astype("uint8")).save(photo)
    _, Z = csv_matrix(run("encode", tmp_path / "f.npz", photo).stdout)
    from nbae.data.images import preprocess

    with Image.open(photo) as im:
        x = preprocess(im, 20)
    np.testing.assert_allclose(Z, ae.encode(x[None].astype(np.float64)), rtol=1e-12)
    out = run("denoise", tmp_path / "f.npz", photo, "--kind", "gaussian").stdout
    assert out.startswith("label,noisy_rmse,restored_rmse\nphoto,")

    matrix = tmp_path / "m.npy"
    np.save(matrix, rng.random((4, 9)))
    run("train", "--data", matrix, "--layers", "9,2", "--epochs", "3", "-o", tmp_path / "g.npz",
        "-q")
    assert load(tmp_path / "g.npz").metadata["image_shape"] == [3, 3]


# ------------------------------------------------------------------------------ using models


def test_decode_inline_codes_and_stdin(model):
    ae = load(model)
    art = run("decode", model, "0.5,-0.2", "-1,1;0,0").stdout
    lines = art.splitlines()
    assert lines[0].split() == ["0", "1", "2"] and len(lines) == 8
    from nbae.data.font import render_ascii

    expected = render_ascii(ae.decode(np.array([[0.5, -0.2]]))[0]).splitlines()
    assert [ln[:5] for ln in lines[1:]] == expected
    assert run("decode", model, "--", "0.5", "-0.2").stdout.splitlines()[1:] == [
        ln.rstrip() for ln in expected]
    piped = run("decode", model, "-", input=run("encode", model, "k", "h").stdout).stdout
    assert piped.splitlines()[0].split() == ["k", "h"]


def test_encode_image_on_font_model(model, tmp_path):
    from PIL import Image

    from nbae.cli.inputs import load_image

    ink = np.zeros((14, 12), dtype=np.uint8)  # 2 px wider than 7x5: the crop trims the sides
    ink[:, 1:4] = 255
    Image.fromarray(ink).save(tmp_path / "bar.png")
    x = load_image(tmp_path / "bar.png", (7, 5), (0, 1))
    assert x.shape == (35,) and x.reshape(7, 5)[:, 0].min() > 0.9 and x.max() <= 1
    _, Z = csv_matrix(run("encode", model, tmp_path / "bar.png").stdout)
    np.testing.assert_array_equal(Z, load(model).encode(x[None]))


def test_decode_png(model, tmp_path):
    from PIL import Image

    run("decode", model, "0,0;1,1", "-o", tmp_path / "d.png")
    with Image.open(tmp_path / "d.png") as im:
        assert im.format == "PNG"


def test_interpolate(model, tmp_path):
    ae = load(model)
    lines = run("interpolate", model, "k", "h", "--steps", "5").stdout.splitlines()
    assert lines[0].split() == ["k", "0.25", "0.5", "0.75", "h"] and len(lines) == 8
    run("interpolate", model, "k", "h", "--steps", "5", "-o", tmp_path / "i.npy")
    from nbae.engine.latent import interpolate

    _, expected = interpolate(ae, *glyphs("k", "h"), steps=5)
    np.testing.assert_array_equal(np.load(tmp_path / "i.npy"), expected)
    run("interpolate", model, "k", "h", "-o", tmp_path / "i.png")
    assert (tmp_path / "i.png").stat().st_size > 0


def test_denoise(model, tmp_path):
    from nbae.data.metrics import pixel_errors
    from nbae.data.noise import add_noise

    ae = load(model)
    out = run("denoise", model, "k", "h", "--noise", "0.2", "--seed", "4").stdout
    X = glyphs("k", "h")
    noisy = add_noise(X, "flip", 0.2, seed=4)
    wrong = pixel_errors(X, ae.reconstruct(noisy))
    assert f"wrong     {wrong[0]}" in out and "clean" in out and "restored" in out
    assert f"{int(pixel_errors(X, noisy).sum())} pixel(s) changed" in out
    run("denoise", model, "kh", "--kind", "mask", "-o", tmp_path / "d.npy")
    assert np.load(tmp_path / "d.npy").shape == (3, 2, 35)
    run("denoise", model, "kh", "-o", tmp_path / "d.png")
    assert (tmp_path / "d.png").stat().st_size > 0


def test_generate(model, tmp_path):
    from nbae.engine.latent import sample_codes

    ae = load(model)
    out = run("generate", model, "-n", "3", "--seed", "2").stdout
    assert len(out.splitlines()) == 8 and out.split()[0].startswith("~")
    run("generate", model, "-n", "3", "--seed", "2", "-o", tmp_path / "g.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "g.npy"),
                                  ae.decode(sample_codes(ae, 3, seed=2)))


def test_info(model):
    text = run("info", model).stdout
    assert "35-10-2-10-35" in text and "parameters" in text and "wrong pixels max" in text
    data = json.loads(run("info", model, "--json").stdout)
    assert data["sizes"] == [35, 10, 2, 10, 35] and data["n_params"] == load(model).n_params
    assert data["training"]["epochs_run"] == 300 and "max_pixel_error" in data["train_metrics"]
    assert re.search(r"300/300 epochs \(completed\) in [0-9.]+ s\n", text)


def test_info_of_a_reproducible_model_without_timings(tmp_path):
    # the studies save reproducibly trained models without timings: no "in None s"
    ae = Autoencoder([35, 6, 2], seed=0)
    X = (np.random.default_rng(0).random((8, 35)) > 0.5).astype(float)
    ae.fit(X, epochs=3, reproducible=True)
    ae.training = {**ae.training, "seconds": None, "steps_per_second": None}
    ae.save(tmp_path / "r.npz")
    text = run("info", tmp_path / "r.npz").stdout
    assert "3/3 epochs (completed), reproducible arithmetic\n" in text and "None" not in text


# ------------------------------------------------------------------------------ bad input


@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 not really a zip")
    np.save(tmp_path / "wide.npy", np.zeros((2, 30)))
    (tmp_path / "p.yaml").write_text("architectures:\n  7: {layers: [35, 2]}\n")
    return tmp_path


@pytest.mark.parametrize("args, code, message", [
    (["encode", "{model}", "Q"], 2, "unknown glyph 'Q'"),
    (["encode", "{tmp}/nope.npz", "k"], 2, "nope.npz: no such model file"),
    (["info", "/dev/null"], 2, "/dev/null: not a regular file"),
    (["encode", "{model}", "{tmp}/missing.csv"], 2, "missing.csv: no such file"),
    (["encode", "{model}", "{tmp}/photo.png"], 2, "photo.png: no such image file"),
    (["encode", "{model}", "{tmp}/wide.npy"], 2, "rows have 30 values but the model expects 35"),
    (["info", "{tmp}/corrupt.npz"], 1, "corrupt.npz: not a readable .npz model file"),
    (["decode", "{model}", "1,2,3"], 2, "has 3 values but the model's latent space has 2"),
    (["decode", "{model}", "{tmp}/wide.npy"], 2, "codes have 30 values"),
    (["decode", "{model}", "zero"], 2, "zero: no such codes file"),
    (["train", "--params", "{tmp}/p.yaml", "--section", "architectures.9"], 2,
     "no section 'architectures.9' (architectures has 7)"),
    (["train", "--params", "{tmp}/nope.yaml"], 2, "nope.yaml: no such params file"),
    (["train", "--layers", "30,2"], 2, "the first size must be 35"),
    (["train", "--layers", "35,2", "--font-file", "{tmp}/none.h"], 2, "no such font file"),
    (["train", "--layers", "35,2", "--loss", "bce", "--encoding", "bipolar",
      "--output-activation", "tanh"], 2, "loss 'bce' needs"),
    (["interpolate", "{model}", "k", "kh"], 2, "interpolate needs exactly one"),
    (["denoise", "{model}", "k", "--noise", "1.5"], 2, "--noise is a probability"),
    (["generate", "{model}", "-o", "{tmp}/out.txt"], 2, "unsupported output type '.txt'"),
    (["encode", "{model}", ""], 2, "empty input argument"),
    (["encode", "{model}", "k", ""], 2, "empty input argument"),
    (["decode", "{model}", ""], 2, "no codes given"),
    (["decode", "{model}", " ; "], 2, "no codes given"),
    (["encode", "{model}", "{tmp}"], 2, "is a directory"),
    (["encode", "{model}", "{tmp}/kh"], 2, "kh: no such file"),
    (["interpolate", "{model}", "k", "{tmp}/h"], 2, "/h: no such file"),
    (["encode", "{model}", "{tmp}/p"], 2, "/p: no such file"),
    (["train", "--layers", "35,2", "--history", "{tmp}/h.txt"], 2, "h.txt: history files end"),
    (["train", "--layers", "35,2", "--history", "{tmp}/never.npz"], 2, "history files end"),
    (["train", "--layers", "35,2", "--history", "{tmp}/corrupt.npz/h.csv"], 2,
     "corrupt.npz is not a directory"),
])
def test_bad_input_is_one_line_error(model, bad_files, args, code, message):
    args = [a.format(model=model, tmp=bad_files) for a in args]
    if args[0] == "train":
        args += ["-o", str(bad_files / "never.npz"), "--epochs", "2"]
    if "--font-file" not in args and args[0] == "train":
        args += ["--font-file", str(FONT)]
    before = sorted(p.name for p in bad_files.iterdir())
    res = run(*args, code=code)
    assert res.stdout == ""
    assert res.stderr.startswith("Error: ") and res.stderr.count("\n") == 1, res.stderr
    assert message in res.stderr
    assert sorted(p.name for p in bad_files.iterdir()) == before  # nothing written


def _bad_train(*args, code=2, font=FONT):
    """Run ``nbae train`` on a tiny model and check it fails with one line, before training."""
    res = run("train", "--layers", "35,5,2", "--epochs", "5", "--font-file", font, *args,
              code=code)
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    if code == 2:
        assert "training" not in res.stderr and "epoch" not in res.stderr  # nothing trained
    return lines[0]


def test_train_checks_output_paths_before_training(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "font.h").write_bytes(FONT.read_bytes())
    msg = _bad_train("-o", "font.h/m.npz")
    assert msg == "Error: font.h/m.npz: font.h is not a directory"
    msg = _bad_train("-o", "m.npz", "--history", "font.h/deep/h.csv")
    assert msg == "Error: font.h/deep/h.csv: font.h is not a directory"
    (tmp_path / "hd" / "m.history.csv").mkdir(parents=True)
    assert _bad_train("-o", "hd/m.npz") == "Error: hd/m.history.csv is a directory"
    assert sorted(p.name for p in (tmp_path / "hd").iterdir()) == ["m.history.csv"]
    (tmp_path / "a.csv").symlink_to("a.npz")
    assert "history cannot be the model" in _bad_train("-o", "a.npz", "--history", "a.csv")
    (tmp_path / "a.csv").unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["font.h", "hd"]
    # folders that do not exist yet are made
    run("train", "--layers", "35,5,2", "--epochs", "2", "--font-file", "font.h", "-o",
        "new/sub/m.npz", "--history", "logs/h.csv", "-q")
    assert (tmp_path / "new/sub/m.npz").is_file() and (tmp_path / "logs/h.csv").is_file()


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux /proc")
def test_train_unwritable_folder_names_the_users_path():
    msg = _bad_train("-o", "/proc/m.npz")
    assert msg.startswith("Error: /proc/m.npz: cannot write in /proc") and ".m.npz." not in msg


def test_train_writes_model_and_history_or_neither(tmp_path, monkeypatch):
    import os

    import pandas as pd

    out, hist = tmp_path / "m.npz", tmp_path / "m.history.csv"

    def full_disk(self, path, *args, **kwargs):
        raise OSError(28, "No space left on device", str(path))

    with monkeypatch.context() as m:
        m.setattr(pd.DataFrame, "to_csv", full_disk)
        msg = _bad_train("-o", out, "-q", code=1)
    assert msg == f"Error: {hist}: cannot write (No space left on device); no model or " \
                  "history written"
    assert list(tmp_path.iterdir()) == []  # no model, no temp files

    # the history's rename fails after the model's: the model is removed again
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == hist:
            raise PermissionError(13, "Permission denied", str(src))
        return real_replace(src, dst)

    with monkeypatch.context() as m:
        m.setattr(os, "replace", replace)
        msg = _bad_train("-o", out, "-q", code=1)
    assert msg.startswith(f"Error: {hist}: cannot write (Permission denied)")
    assert list(tmp_path.iterdir()) == []


def test_encode_paths_are_not_glyph_strings(model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outdir").mkdir()
    (tmp_path / "kh").write_text("not an input")
    res = run("encode", model, "outdir", code=2)
    assert res.stderr.startswith("Error: outdir is a directory") and res.stdout == ""
    assert "kh: unsupported input file type" in run("encode", model, "kh", code=2).stderr
    assert "data/codes: no such file" in run("encode", model, "data/codes", code=2).stderr
    assert "codes.npy: no such file" in run("encode", model, "codes.npy", code=2).stderr
    assert "unknown glyph 'out_file'" in run("encode", model, "out_file", code=2).stderr
    # glyph strings still work; an exact label wins over a same-named folder
    (tmp_path / "k").mkdir()
    _, Z = csv_matrix(run("encode", model, "k", "ha", "DEL").stdout)
    np.testing.assert_array_equal(Z, load(model).encode(glyphs("k", "h", "a", "DEL")))


def test_train_reports_loss_of_saved_weights(tmp_path):
    out = tmp_path / "m.npz"
    res = run("train", *TINY, "--epochs", "30", "-o", out)
    ae = load(out)
    saved = ae.loss(glyphs(*ae.metadata["labels"]))
    t = ae.training
    last = res.stderr.splitlines()[-1]
    assert last.startswith(f"saved {out} (best epoch {t['best_epoch']}, running loss "
                           f"{t['best_loss']:.6g}; loss of the saved weights {saved:.6g} on "
                           "the training set, ")
    assert t["epoch_loss"] == "running"


def test_train_epoch_loss_option_overrides_yaml(tmp_path):
    import pandas as pd

    params = tmp_path / "params.yaml"
    params.write_text("layers: [35, 6, 2]\nepochs: 40\nepoch_loss: running\n")
    out = tmp_path / "m.npz"
    res = run("train", "--params", params, "--epoch-loss", "full", "--font-file", FONT,
              "-o", out)
    ae = load(out)
    assert ae.training["epoch_loss"] == "full"
    saved = ae.loss(glyphs(*ae.metadata["labels"]))
    hist = pd.read_csv(tmp_path / "m.history.csv")
    best = int(ae.training["best_epoch"])
    # with full-set epoch losses the best epoch's loss is that of the saved weights
    np.testing.assert_allclose(hist["loss"][best - 1], saved, rtol=1e-9)
    assert f"full loss {ae.training['best_loss']:.6g}" in res.stderr
    run("train", "--params", params, "--font-file", FONT, "-o", out, "-q")
    assert load(out).training["epoch_loss"] == "running"  # no option: the yaml's setting
    res = run("train", *TINY, "--epoch-loss", "half", "-o", out, code=2)
    assert "Invalid value for '--epoch-loss'" in res.stderr


def test_runtime_warnings_do_not_leak(tmp_path):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = run("train", "--layers", "35,5,2", "--epochs", "10", "--lr", "1e300",
                  "--font-file", FONT, "-o", tmp_path / "m.npz")
        run("decode", tmp_path / "m.npz", "1e300,-1e300", "--format", "csv")
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [
        str(w.message) for w in caught]
    assert "Warning" not in res.stderr and res.stderr.splitlines()[-1].startswith("saved")


def test_option_errors_are_usage_errors(model):
    res = run("interpolate", model, "k", "h", "--steps", "1", code=2)
    assert "Invalid value for '--steps'" in res.stderr and "Traceback" not in res.output


def test_decode_png_titles_each_image_with_its_code(model, tmp_path, monkeypatch):
    from nbae.figures import common

    seen, real = {}, common.save_figure

    def look(fig, path):
        seen["titles"] = [ax.get_title() for ax in fig.axes if ax.get_visible()]
        seen["suptitle"] = fig._suptitle.get_text()
        real(fig, path)

    monkeypatch.setattr(common, "save_figure", look)
    run("decode", model, "6.5,-0.4;0,0", "-o", tmp_path / "glyph.png")
    assert seen["titles"] == ["(6.50, -0.40)", "(0.00, 0.00)"]
    assert seen["suptitle"] == f"Decoded from {model}"


def test_train_vae_then_info_generate_encode_explore(tmp_path):
    """Issue 12: nbae train --vae/--beta/--kl-warmup, and every command takes the VAE."""
    from nbae.engine.metadata import load_model

    out = tmp_path / "v.npz"
    run("train", "--font-file", FONT, "--vae", "--beta", "0.5", "--kl-warmup", "3",
        "--layers", "35,10,2", "--epochs", "6", "-q", "-o", out)
    vae = load_model(out)
    assert type(vae).__name__ == "VAE" and vae.beta == 0.5 and vae.kl_warmup == 3
    assert "latent_stats" in vae.metadata
    assert "variational autoencoder, beta 0.5, KL warm-up 3 epochs" in run("info", out).output
    gen = run("generate", out, "-n", "3", "--seed", "2").output
    assert gen.count("\n") > 7  # three glyphs drawn as text
    codes = run("encode", out, "k").output.splitlines()
    assert codes[0] == "z0,z1,label" and codes[1].endswith(",k")
    mu = vae.encode(vae.metadata["train_inputs"])[vae.metadata["labels"].index("k")]
    np.testing.assert_allclose([float(v) for v in codes[1].split(",")[:2]], mu, rtol=1e-12)
    run("explore", out, "-o", tmp_path / "v.html")
    assert (tmp_path / "v.html").stat().st_size > 10_000


@pytest.mark.parametrize("args, message", [
    (["--beta", "0.5"], "--beta and --kl-warmup need --vae"),
    (["--kl-warmup", "4"], "--beta and --kl-warmup need --vae"),
    (["--vae", "--latent-activation", "tanh"], "--latent-activation does not apply to --vae"),
    (["--vae", "--epoch-loss", "full"], "--epoch-loss full does not apply to --vae"),
])
def test_train_vae_option_errors(tmp_path, args, message):
    r = run("train", "--font-file", FONT, "--layers", "35,10,2", "--epochs", "2", *args,
            "-o", tmp_path / "v.npz", code=2)
    assert message in r.output and r.output.count("Error:") == 1
    assert not (tmp_path / "v.npz").exists()


def test_a_closed_stdout_pipe_ends_quietly():
    """``nbae info m.npz | head -1``: the reader goes away; no 'Broken pipe' error line."""
    model = ROOT / "models/font/arch/7/representative.npz"
    p = subprocess.Popen([sys.executable, "-m", "nbae.cli", "info", str(model)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    p.stdout.close()  # before the command writes anything
    err = p.stderr.read().decode()
    p.stderr.close()
    assert p.wait(60) == 141 and err == ""
