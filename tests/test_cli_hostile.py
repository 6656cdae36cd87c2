"""The command line against hostile input (issue 16): every bad value is one ``Error:`` line.

Each class of failure is parametrized over many cases and checked the same way: the exit
status (2 for bad usage or input, 1 for runtime failures, 130 for Ctrl-C), a single line on
stderr that starts with ``Error:`` and names the option or file, no traceback, nothing on
stdout, and no file created or changed in the working folder. One test runs a few cases in a
real subprocess, where a traceback would be printed rather than caught by click's runner.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from nbae.cli import train as cli_train
from nbae.cli.app import main
from nbae.cli.checks import MAX_COUNT, MAX_EPOCHS, MAX_PARAMS, MAX_WIDTH

ROOT = Path(__file__).resolve().parents[1]
FONT = ROOT / "data" / "font.h"
TINY = ["--layers", "35,4,2", "--epochs", "3", "--font-file", str(FONT)]


def snapshot(folder: Path) -> dict:
    """Every file below ``folder`` with a hash of its bytes (hidden temporaries included)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def invoke(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def one_line_error(res, code, *snippets):
    """Assert ``res`` failed with ``code`` and one ``Error:`` line holding every snippet."""
    assert not (res.exception and not isinstance(res.exception, SystemExit)), repr(
        res.exception)
    assert res.exit_code == code, (res.exit_code, res.stderr)
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    assert "Traceback" not in res.output
    for s in snippets:
        assert s in lines[0], (s, lines[0])
    return lines[0]


def fails_cleanly(folder, args, code, *snippets, input=None):
    """Run ``args``; one-line error; no file below ``folder`` created or changed."""
    before = snapshot(folder)
    line = one_line_error(invoke(*args, input=input), code, *snippets)
    assert snapshot(folder) == before
    return line


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "m.npz"
    res = invoke("train", "--layers", "35,4,2", "--epochs", "20", "--font-file", FONT,
                 "-o", path, "-q")
    assert res.exit_code == 0, res.output
    return path


# ------------------------------------------------------------------- wrongly typed settings

SETTINGS = [  # (YAML line, what the message names)
    ("activation: 3", "activation"), ("activation: [3]", "activation"),
    ("activation: {a: 1}", "activation"), ("betas: 0.9", "betas"), ("betas: [a, b]", "betas"),
    ("betas: [0.9, 0.9, 0.9]", "betas"), ("lr: null", "lr"), ("lr: abc", "lr"),
    ("lr: .inf", "lr"), ("lr: .nan", "lr"), ("lr: [1]", "lr"), ("epochs: 3.5", "epochs"),
    ("epochs: true", "epochs"), ("epochs: '3'", "epochs"), ("epochs: null", "epochs"),
    ("batch_size: 0.5", "batch_size"), ("layers: '35,4,2'", "layers"),
    ("layers: [35, 4.5, 2]", "layers"), ("layers: [[35], 2]", "layers"),
    ("layers: {a: 1}", "layers"), ("layers: [35, true, 2]", "layers"),
    ("decoder: abc", "decoder"), ("decoder: [2, x, 35]", "decoder"), ("seed: x", "seed"),
    ("seed: -1", "seed"), ("dtype: 3", "dtype"), ("loss: 3", "loss"), ("init: [x]", "init"),
    ("optimizer: 3", "optimizer"), ("output_activation: 5", "output_activation"),
    ("latent_activation: [tanh]", "latent_activation"), ("leaky_slope: x", "leaky_slope"),
    ("momentum: [0.9]", "momentum"), ("eps: x", "eps"), ("weight_decay: x", "weight_decay"),
    ("min_delta: [1]", "min_delta"), ("restore_best: maybe", "restore_best"),
    ("reproducible: 1", "reproducible"), ("reproducible: 'yes'", "reproducible"),
    ("shuffle: [1]", "shuffle"), ("patience: x", "patience"), ("patience: 0.5", "patience"),
    ("input_noise: 3", "input_noise"), ("input_noise: {kind: flip, level: 0.1, range: 3}",
                                         "input_noise.range"),
    ("input_noise: {kind: gaussian, level: 0.1, range: [a, 1]}", "input_noise.range"),
    ("input_noise: {kind: 3, level: 0.1}", "noise kind"), ("epoch_loss: 3", "epoch_loss"),
    ("data: 3", "data"), ("encoding: [a]", "encoding"), ("encoding: 3", "encoding"),
    ("layres: [35, 2]", "layres"),
    # absurd sizes: refused before anything is allocated
    ("epochs: 1000000000000", "epochs"), ("patience: 100000000000000000000", "patience"),
    ("layers: [35, 1000000000, 2]", "layers"), ("decoder: [2, 1000000000, 35]", "decoder"),
    ("layers: [35, 100000, 100000, 2]", "parameters"), ("batch_size: -1", "batch_size"),
]


@pytest.mark.parametrize("line, name", SETTINGS, ids=[s for s, _ in SETTINGS])
@pytest.mark.parametrize("section", [None, "architectures.7"])
def test_wrongly_typed_settings_name_file_and_setting(tmp_path, line, name, section):
    body = "\n".join(f"{k}: {v}" for k, v in {"layers": "[35, 4, 2]", "epochs": "3"}.items()
                     if not line.startswith(f"{k}:")) + f"\n{line}\n"
    if section:
        body = "architectures:\n  7:\n" + "".join(f"    {b}\n" for b in body.splitlines())
    params = tmp_path / "p.yaml"
    params.write_text(body)
    args = ["train", "--params", params, "--font-file", FONT, "-o", tmp_path / "o.npz"]
    if section:
        args += ["--section", section]
    fails_cleanly(tmp_path, args, 2, str(params), name)


# ------------------------------------------------------------------- absurd sizes and values

SIZES = [  # (arguments after the model, option named, fragment of the message)
    (["train", "--layers", f"35,{MAX_WIDTH + 1},2"], "--layers", "over the limit"),
    (["train", "--layers", "35," + "9" * 30 + ",2"], "--layers", "over the limit"),
    (["train", "--layers", "35,100000,100000,2"], "--layers", f"{MAX_PARAMS:,}"),
    (["train", "--layers", "35,0,2"], "--layers", "positive"),
    (["train", "--layers", "35,x,2"], "--layers", "integers"),
    (["train", "--layers", "35"], "--layers", "latent size"),
    (["train", "--layers", "35,4,2", "--epochs", str(MAX_EPOCHS + 1)], "--epochs", ""),
    (["train", "--layers", "35,4,2", "--epochs", "1" + "0" * 20], "--epochs", ""),
    (["train", "--layers", "35,4,2", "--epochs", "0"], "--epochs", ""),
    (["train", "--layers", "35,4,2", "--lr", "nan"], "--lr", "finite"),
    (["train", "--layers", "35,4,2", "--lr", "inf"], "--lr", "finite"),
    (["train", "--layers", "35,4,2", "--lr", "1e999"], "--lr", "finite"),
    (["train", "--layers", "35,4,2", "--lr", "-1"], "--lr", ""),
    (["train", "--layers", "35,4,2", "--batch-size", "0"], "--batch-size", ""),
    (["interpolate", "{model}", "k", "h", "--steps", str(MAX_COUNT + 1)], "--steps", ""),
    (["interpolate", "{model}", "k", "h", "--steps", "1" + "0" * 15], "--steps", ""),
    (["generate", "{model}", "-n", str(MAX_COUNT + 1)], "--count", ""),
    (["generate", "{model}", "-n", "1" + "0" * 15], "--count", ""),
    (["generate", "{model}", "--scale", "1e308"], "--scale", ""),
    (["generate", "{model}", "--scale", "inf"], "--scale", ""),
    (["generate", "{model}", "--scale", "nan"], "--scale", "finite"),
    (["generate", "{model}", "--scale", "-1"], "--scale", ""),
    (["denoise", "{model}", "k", "--kind", "gaussian", "--noise", "1e308"], "--noise", ""),
    (["denoise", "{model}", "k", "--kind", "gaussian", "--noise", "inf"], "--noise", ""),
    (["denoise", "{model}", "k", "--kind", "gaussian", "--noise", "nan"], "--noise", "finite"),
    (["denoise", "{model}", "k", "--noise", "1.5"], "--noise", "probability"),
    (["decode", "{model}", "1e999,0"], "", "finite"),
    (["decode", "{model}", "nan,0"], "", "finite"),
]


@pytest.mark.parametrize("args, option, fragment", SIZES,
                         ids=[" ".join(a[:1] + a[2:]) for a, _, _ in SIZES])
def test_absurd_values_are_refused_up_front(model, tmp_path, args, option, fragment):
    args = [a.format(model=model) for a in args]
    if args[0] == "train":
        args += ["--font-file", FONT, "-o", tmp_path / "o.npz"]
    fails_cleanly(tmp_path, args, 2, option, fragment)


def test_caps_are_stated_in_help():
    text = {c: invoke(c, "--help").stdout.replace("\n", " ") for c in
            ("train", "interpolate", "generate", "denoise")}
    assert f"{MAX_WIDTH:,}" in text["train"] and f"{MAX_PARAMS:,}" in text["train"]
    assert f"{MAX_EPOCHS:,}" in text["train"]
    assert f"{MAX_COUNT:,}" in text["interpolate"] and f"{MAX_COUNT:,}" in text["generate"]
    assert "at most" in text["denoise"]


# ------------------------------------------------------------------- outputs that are inputs


@pytest.fixture
def inputs(tmp_path, model):
    rng = np.random.default_rng(0)
    np.savetxt(tmp_path / "d.csv", rng.random((4, 9)), delimiter=",")
    np.savez(tmp_path / "fl.npz", X=(rng.random((6, 16)) * 2 - 1).astype("float32"))
    np.save(tmp_path / "x.npy", rng.random((2, 35)))
    np.savetxt(tmp_path / "z.csv", rng.random((2, 2)), delimiter=",")
    (tmp_path / "m.npz").write_bytes(model.read_bytes())
    (tmp_path / "link.csv").symlink_to(tmp_path / "d.csv")
    os.link(tmp_path / "x.npy", tmp_path / "hard.npy")
    (tmp_path / "sub").mkdir()
    return tmp_path


OVERWRITES = [
    ["train", "--data", "{t}/d.csv", "--layers", "9,2", "-o", "{t}/o.npz", "--history",
     "{t}/d.csv"],
    ["train", "--data", "{t}/d.csv", "--layers", "9,2", "-o", "{t}/o.npz", "--history",
     "{t}/link.csv"],
    ["train", "--data", "{t}/link.csv", "--layers", "9,2", "-o", "{t}/o.npz", "--history",
     "{t}/d.csv"],
    ["train", "--data", "{t}/d.csv", "--layers", "9,2", "-o", "{t}/o.npz", "--history",
     "{t}/sub/../d.csv"],
    ["train", "--data", "{t}/fl.npz", "--layers", "16,2", "-o", "{t}/fl.npz"],
    ["train", "--data", "{t}/fl.npz", "--layers", "16,2", "-o", "{t}/sub/../fl.npz"],
    ["encode", "{t}/m.npz", "{t}/x.npy", "-o", "{t}/x.npy"],
    ["encode", "{t}/m.npz", "{t}/x.npy", "-o", "{t}/hard.npy"],
    ["encode", "{t}/m.npz", "k", "{t}/d.csv", "-o", "{t}/link.csv"],
    ["decode", "{t}/m.npz", "{t}/z.csv", "-o", "{t}/z.csv"],
    ["interpolate", "{t}/m.npz", "{t}/x.npy", "k", "-o", "{t}/x.npy"],
    ["denoise", "{t}/m.npz", "{t}/x.npy", "-o", "{t}/hard.npy"],
]


@pytest.mark.parametrize("args", OVERWRITES, ids=[" ".join(a) for a in OVERWRITES])
def test_no_output_may_overwrite_an_input(inputs, args):
    args = [a.format(t=inputs) for a in args]
    if args[0] == "train":
        args += ["--epochs", "2", "-q"]
    fails_cleanly(inputs, args, 2, "is an input of this command", "refusing to overwrite")


def test_explore_refuses_to_overwrite_its_data(inputs):
    from nbae.cli.explore import explore

    before = snapshot(inputs)
    page = inputs / "page.html"
    page.write_text("x")
    (inputs / "data.html").symlink_to(page)
    res = CliRunner().invoke(explore, [str(inputs / "m.npz"), "--data", str(page), "-o",
                                       str(inputs / "data.html")])
    one_line_error(res, 2, "refusing to overwrite")
    assert page.read_text() == "x"
    page.unlink()
    (inputs / "data.html").unlink()
    assert snapshot(inputs) == before


# ------------------------------------------------------------------- model + history together


@pytest.fixture
def trained(tmp_path):
    """An existing good model and history, and their bytes."""
    out, hist = tmp_path / "m.npz", tmp_path / "m.history.csv"
    res = invoke("train", *TINY, "--seed", "1", "-o", out, "-q")
    assert res.exit_code == 0, res.output
    return out, hist, snapshot(tmp_path)


def _fail_rename_of(target, exc):
    real = os.replace

    def replace(src, dst):
        if Path(dst) == target:
            raise exc
        return real(src, dst)

    return replace


@pytest.mark.parametrize("exc, code", [
    (PermissionError(13, "Permission denied"), 1),
    (OSError(28, "No space left on device"), 1),
    (KeyboardInterrupt(), 130),
])
def test_failed_history_rename_keeps_the_old_model_and_history(trained, monkeypatch, exc,
                                                                code):
    out, hist, before = trained
    monkeypatch.setattr(os, "replace", _fail_rename_of(hist, exc))
    res = invoke("train", *TINY, "--seed", "2", "-o", out, "-q")
    monkeypatch.undo()
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output and res.stdout == ""
    line = res.stderr.strip().splitlines()[-1]
    if code == 1:
        one_line_error(res, 1, str(hist), "previous model and history are unchanged")
    else:
        assert line.startswith("interrupted while saving") and "unchanged" in line
    assert snapshot(out.parent) == before  # the old files, byte for byte; no temporaries


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failed_model_rename_keeps_both_old_files(trained, monkeypatch, exc):
    out, hist, before = trained
    monkeypatch.setattr(os, "replace", _fail_rename_of(out, exc))
    res = invoke("train", *TINY, "--seed", "2", "-o", out, "-q")
    monkeypatch.undo()
    assert res.exit_code in (1, 130) and "Traceback" not in res.output
    assert snapshot(out.parent) == before


def test_failed_write_keeps_both_old_files(trained, monkeypatch):
    import pandas as pd

    out, hist, before = trained

    def full_disk(self, path, *args, **kwargs):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)
    res = invoke("train", *TINY, "--seed", "2", "-o", out, "-q")
    monkeypatch.undo()
    one_line_error(res, 1, f"{hist}: cannot write (No space left on device)")
    assert snapshot(out.parent) == before


def test_success_replaces_both_files(trained):
    from nbae import Autoencoder

    out, hist, before = trained
    res = invoke("train", *TINY, "--seed", "2", "-o", out, "-q")
    assert res.exit_code == 0, res.output
    after = snapshot(out.parent)
    assert sorted(after) == sorted(before)  # no backup or temporary left behind
    assert after[out.name] != before[out.name] and after[hist.name] != before[hist.name]
    assert Autoencoder.load(out).seed == 2


def test_interrupted_training_with_failed_save_keeps_old_files(trained, monkeypatch):
    out, hist, before = trained

    def interrupt(epoch, total, loss):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_train, "_log_line", interrupt)
    monkeypatch.setattr(os, "replace", _fail_rename_of(hist, PermissionError(13, "denied")))
    res = invoke("train", "--layers", "35,4,2", "--epochs", "40", "--font-file", FONT, "-o", out)
    monkeypatch.undo()
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert res.stderr.splitlines()[-1].startswith(f"Error: {hist}: cannot write")
    assert snapshot(out.parent) == before


# ------------------------------------------------------------------- messages name the file


@pytest.fixture
def bad_data(tmp_path):
    np.save(tmp_path / "empty.npy", np.zeros((0, 35)))
    np.save(tmp_path / "empty1.npy", np.zeros((0,)))
    np.save(tmp_path / "text.npy", np.array([["a"] * 35]))
    np.save(tmp_path / "complex.npy", np.ones((2, 35), dtype=complex))
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "blank.csv").write_text("\n \n")
    (tmp_path / "header.csv").write_text("a,b\n")
    (tmp_path / "latin1.csv").write_bytes("0.5,caf\xe9\n".encode("latin-1"))
    (tmp_path / "utf16.csv").write_bytes("1,2\n".encode("utf-16"))
    (tmp_path / "nan.csv").write_text("nan," * 34 + "1\n")
    return tmp_path


BAD_FILES = ["empty.npy", "empty1.npy", "text.npy", "complex.npy", "empty.csv", "blank.csv",
             "header.csv", "latin1.csv", "utf16.csv", "nan.csv"]


@pytest.mark.parametrize("name", BAD_FILES)
@pytest.mark.parametrize("command", ["train", "encode", "decode"])
def test_bad_data_files_are_named(model, bad_data, command, name):
    path = bad_data / name
    if command == "train":
        args = ["train", "--data", path, "--layers", "35,2", "-o", bad_data / "o.npz"]
    else:
        args = [command, model, path]
    fails_cleanly(bad_data, args, 2, str(path))


@pytest.mark.parametrize("content", [
    b"\xff\xfelayers: [35, 2]\n", b"layers: [35, 2\n", b"- 1\n- 2\n", b"",
    b"layers: [35, 2]\nlayers: [35, 3]\n",  # a key given twice
])
def test_bad_params_files_are_named(tmp_path, content):
    params = tmp_path / "p.yaml"
    params.write_bytes(content)
    args = ["train", "--params", params, "--font-file", FONT, "-o", tmp_path / "o.npz"]
    fails_cleanly(tmp_path, args, 2, str(params))


def test_non_utf8_stdin_is_named(model, tmp_path):
    fails_cleanly(tmp_path, ["decode", model, "-"], 2, "<stdin>", "UTF-8",
                  input=b"\xff\xfe0,1\n")


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("args", [
    ["encode", "{model}", "k", "-o", "/proc/z.npy"],
    ["decode", "{model}", "0,0", "-o", "/proc/x.png"],
    ["interpolate", "{model}", "k", "h", "-o", "/proc/i.csv"],
    ["generate", "{model}", "-o", "/proc/g.npy"],
    ["denoise", "{model}", "k", "-o", "/proc/d.npy"],
    ["explore", "{model}", "-o", "/proc/e.html"],
    ["train", "--layers", "35,2", "--font-file", str(FONT), "-o", "/proc/m.npz"],
    ["train", "--layers", "35,2", "--font-file", str(FONT), "-o", "{tmp}/m.npz", "--history",
     "/proc/h.csv"],
])
def test_unwritable_outputs_name_the_users_path(model, tmp_path, args):
    args = [a.format(model=model, tmp=tmp_path) for a in args]
    target = next(a for a in args if a.startswith("/proc/"))
    line = fails_cleanly(tmp_path, args, 2, f"{target}: cannot write in /proc")
    assert "/." not in line  # no hidden temporary file named


@pytest.mark.parametrize("payload, fragment", [
    ({"training": {"lr": None}}, "lr=None"),
    ({"training": {"lr": "fast", "seconds": "x"}}, "lr='fast'"),
])
def test_info_shows_odd_training_records(model, tmp_path, payload, fragment):
    from nbae import Autoencoder

    ae = Autoencoder.load(model)
    ae.training.update(payload["training"])
    ae.save(tmp_path / "odd.npz")
    res = invoke("info", tmp_path / "odd.npz")
    if res.exit_code == 0:  # shown as recorded ...
        assert fragment in res.stdout, res.output
    else:  # ... or refused by a loader that validates the training record
        one_line_error(res, 1, f"{tmp_path / 'odd.npz'}: ", "lr")


# ------------------------------------------------------------------- the last line of defence


def test_unexpected_exceptions_are_one_line(model, tmp_path, monkeypatch):
    from nbae.engine import latent

    def broken(*args, **kwargs):
        raise TypeError("something nobody expected")

    monkeypatch.setattr(latent, "sample_codes", broken)
    monkeypatch.setattr(latent, "nearest", broken)
    res = invoke("decode", model, "0,0")  # untouched command still works
    assert res.exit_code == 0
    monkeypatch.setattr("nbae.cli.inputs.parse_codes", broken)
    fails_cleanly(tmp_path, ["decode", model, "0,0"], 1, "unexpected TypeError",
                         "something nobody expected", "NBAE_DEBUG")
    monkeypatch.setenv("NBAE_DEBUG", "1")
    res = invoke("decode", model, "0,0")
    assert isinstance(res.exception, TypeError)  # the traceback, on request


def test_usage_errors_are_one_line(model, tmp_path):
    fails_cleanly(tmp_path, ["encode", model, "k", "--bogus"], 2, "--bogus", "-h")
    fails_cleanly(tmp_path, ["interpolate", model, "k"], 2, "B", "-h")
    fails_cleanly(tmp_path, ["decode", model, "0,0", "--format", "gif"], 2, "--format")
    fails_cleanly(tmp_path, ["trian", "--layers", "35,2"], 2, "No such command 'trian'")
    fails_cleanly(tmp_path, ["--bogus"], 2, "--bogus")
    assert invoke().output.startswith("Usage:")  # no command: click's help, as before


HOSTILE_SUBPROCESS = [
    (["train", "--params", "{t}/p.yaml", "--font-file", str(FONT), "-o", "{t}/o.npz"],
     "activation"),
    (["train", "--layers", "35,100000000,2", "--font-file", str(FONT), "-o", "{t}/o.npz"],
     "--layers"),
    (["generate", "{model}", "-n", "100000000000"], "--count"),
    (["generate", "{model}", "--scale", "1e308"], "--scale"),
    (["encode", "{model}", "{t}/x.csv", "-o", "{t}/x.csv"], "refusing to overwrite"),
]


def test_no_traceback_in_a_real_process(model, tmp_path):
    """The same checks without click's runner: what a user's shell would show."""
    (tmp_path / "p.yaml").write_text("layers: [35, 4, 2]\nactivation: 3\nbetas: 0.9\n")
    np.savetxt(tmp_path / "x.csv", np.zeros((1, 35)), delimiter=",")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("NBAE_DEBUG", None)
    for args, fragment in HOSTILE_SUBPROCESS:
        args = [a.format(t=tmp_path, model=model) for a in args]
        before = snapshot(tmp_path)
        res = subprocess.run([sys.executable, "-m", "nbae.cli", *args], capture_output=True,
                             text=True, env=env, timeout=120)
        assert res.returncode == 2, (args, res.stderr)
        assert res.stdout == "" and "Traceback" not in res.stderr
        lines = res.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and fragment in lines[0], (
            args, res.stderr)
        assert snapshot(tmp_path) == before


# ------------------------------------------------------------------- odd model metadata

ODD_METADATA = [
    {"pixel_range": "ab"}, {"pixel_range": [0, 1, 2]}, {"pixel_range": [None, 1]},
    {"image_shape": ["x", 5]}, {"image_shape": 7}, {"labels": 5},
    {"train_inputs": "abc"}, {"train_inputs": [[1, "a"]]},
]


@pytest.mark.parametrize("meta", ODD_METADATA, ids=[str(m) for m in ODD_METADATA])
@pytest.mark.parametrize("command", [["info"], ["encode", "{model}", "k"],
                                     ["decode", "{model}", "0,0"], ["generate", "{model}"]])
def test_odd_model_metadata_is_named(model, tmp_path, meta, command):
    from nbae import Autoencoder

    ae = Autoencoder.load(model)
    ae.metadata.update(meta)
    odd = tmp_path / "odd.npz"
    ae.save(odd)
    args = [command[0], odd, *command[2:]]
    # the loader or the CLI's check after loading: either way one line naming the file
    fails_cleanly(tmp_path, args, 1, f"{odd}: ")


@pytest.mark.parametrize("stats", [{"mean": [0, 0], "cov": 5}, {"mean": "a", "cov": 1}, 3,
                                   {"mean": [0, 0], "cov": [[1e308, 0], [0, 1e308]]}])
def test_odd_latent_stats_are_named(model, tmp_path, stats):
    from nbae import Autoencoder

    ae = Autoencoder.load(model)
    ae.metadata["latent_stats"] = stats
    odd = tmp_path / "odd.npz"
    ae.save(odd)
    res = invoke("generate", odd, "-n", "2", "--scale", "1000")
    if res.exit_code != 0:  # huge but finite spreads may still decode
        one_line_error(res, 1, str(odd), "latent_stats")
