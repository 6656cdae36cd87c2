"""Tests of the latent explorer that need no browser: page data, escaping, CLI, DVC stage.

The page's behaviour in a real browser is tested in test_explorer_browser.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import explorer_models as em
import numpy as np
import pytest
from click.testing import CliRunner

from nbae.cli.explore import explore
from nbae.explorer import MAX_INPUTS, build_page, page_data

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------ models


@pytest.fixture(scope="module")
def font_data():
    return em.font_data()


@pytest.fixture(scope="module")
def font_model(font_data):
    return em.font_model(font_data, epochs=0)  # page building needs no trained model


@pytest.fixture(scope="module")
def flower_files(tmp_path_factory):
    return em.flower_files(tmp_path_factory.mktemp("flowers"))


@pytest.fixture(scope="module")
def font_page(font_model, tmp_path_factory):
    return em.explorer_page(font_model, tmp_path_factory.mktemp("font") / "explorer.html")


# ------------------------------------------------------------------------------ no browser


def test_page_has_no_external_references(font_page):
    text = font_page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=|@import|url\(|https?://""", text)
    assert "default-src 'none'" in text


def test_labels_cannot_break_out_of_the_script(font_model):
    X = np.zeros((2, 35))
    page = build_page(font_model, X, ["</script><b>x", "a&b"], title="<t>")
    assert "</script><b>" not in page and "<title>&lt;t&gt;</title>" in page
    blob = re.search(r'id="nbae-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(blob)["labels"] == ["</script><b>x", "a&b"]


def test_sampler_matches_the_training_codes(font_model, font_data):
    d = page_data(font_model, font_data.X, font_data.labels)
    Z = font_model.encode(font_data.X)
    L = np.array(d["sampler"])
    np.testing.assert_allclose(L @ L.T, np.cov(Z, rowvar=False), atol=1e-12)
    np.testing.assert_allclose(d["mean"], Z.mean(0), atol=1e-12)


def test_large_sets_are_subsampled(font_model):
    X = np.random.default_rng(0).uniform(0, 1, (MAX_INPUTS * 2 + 3, 35))
    d = page_data(font_model, X, [str(i) for i in range(len(X))])
    assert len(d["labels"]) == MAX_INPUTS and d["n_inputs"] == len(X)
    assert d["labels"][0] == "0" and d["labels"][-1] == str(len(X) - 1)


# ------------------------------------------------------------------------------ command line


def _run(*args, code=0):
    res = CliRunner().invoke(explore, [str(a) for a in args])
    assert res.exit_code == code, (res.exit_code, res.output, res.exception)
    return res


def _one_line_error(res, *fragments):
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def test_cli_writes_the_page(font_model, tmp_path):
    model, out = tmp_path / "m.npz", tmp_path / "sub" / "e.html"
    font_model.save(model)
    res = _run(model, "-o", out, "--title", "My font")
    assert "wrote" in res.stderr and "plane layout" in res.stderr
    assert "<title>My font</title>" in out.read_text(encoding="utf-8")
    assert [p.name for p in out.parent.iterdir()] == ["e.html"]  # no temporary file left


def test_cli_bad_inputs_are_one_line_errors(font_model, flower_files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data/flowers/prepared/flowers.npz to fall back on
    model = tmp_path / "m.npz"
    font_model.save(model)
    np.savez(tmp_path / "arrays.npz", a=np.zeros(3))
    (tmp_path / "text.npz").write_text("hello")
    (tmp_path / "dir.html").mkdir()
    _one_line_error(_run(tmp_path / "arrays.npz", "-o", tmp_path / "o.html", code=1),
                    "arrays.npz: not an nbae model")
    _one_line_error(_run(tmp_path / "text.npz", "-o", tmp_path / "o.html", code=1),
                    "text.npz: not an nbae model")
    _one_line_error(_run(tmp_path / "none.npz", "-o", tmp_path / "o.html", code=2),
                    "none.npz: no such model file")
    _one_line_error(_run(model, "-o", tmp_path / "dir.html", code=2), "dir.html is a directory")
    _one_line_error(_run(tmp_path / "dir.html", code=2), "dir.html: not a regular file")
    _one_line_error(_run(model, "-o", "/proc/nbae/e.html", code=2), "/proc/nbae/e.html")
    _one_line_error(_run(model, "-o", tmp_path / "e.png", code=2), "end in .html")
    flower_model, data = flower_files
    _one_line_error(_run(flower_model, "-o", tmp_path / "f.html", code=2),
                    "stores no training inputs; pass --data")
    _one_line_error(_run(flower_model, "--data", tmp_path / "arrays.npz", "-o",
                         tmp_path / "f.html", code=2), "arrays.npz: no array 'X'")
    assert not (tmp_path / "o.html").exists() and not (tmp_path / "f.html").exists()


def test_cli_failed_write_keeps_the_old_page(font_model, tmp_path, monkeypatch):
    model, out = tmp_path / "m.npz", tmp_path / "e.html"
    font_model.save(model)
    out.write_text("old page")
    import nbae.explorer as ex

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ex, "build_page", lambda *a, **k: "x" * 10)
    monkeypatch.setattr(Path, "write_text", full_disk)
    _one_line_error(_run(model, "-o", out, code=1), f"{out}: cannot write (No space left")
    monkeypatch.undo()
    assert out.read_text() == "old page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.html", "m.npz"]


def test_stage_script_writes_the_page(font_model, tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("write_explorer",
                                                  ROOT / "stages" / "write_explorer.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    model, out = tmp_path / "m.npz", tmp_path / "figures" / "explorer.html"
    font_model.save(model)
    assert stage.run_stage(stage.main, [str(model), str(out), "-"]) == 0
    assert "plane explorer, latent size 2, 32 training inputs" in capsys.readouterr().out
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert stage.run_stage(stage.main, [str(tmp_path / "no.npz"), str(tmp_path / "x.html"),
                                        "-"]) == 2  # a missing input is named, exit 2
    assert "no.npz: no such model file" in capsys.readouterr().err


def test_command_settings_match_the_cli():
    from nbae.cli import app as cli
    from nbae.cli import explore as cli_explore

    assert cli_explore.CONTEXT == cli.CONTEXT  # a copy: explore imports nbae.cli.app lazily
