"""nbae.studies.params: the params.yaml helpers and stage exit codes shared by the studies."""

from __future__ import annotations

import pytest

from nbae.studies import denoising as dn
from nbae.studies import flowers as fls
from nbae.studies import font as fst
from nbae.studies.params import ParamsError, integer, load_params, model_config, run_stage, section


def test_run_stage_exit_codes(capsys):
    def bad_params(argv):
        raise ParamsError("params x is wrong")

    def broken(argv):
        raise ValueError("file.npz: not found")

    def diverged(argv):
        from nbae.engine.model import TrainingDiverged

        raise TrainingDiverged("loss became NaN")

    assert run_stage(bad_params) == 2
    assert run_stage(broken) == 1
    assert run_stage(diverged) == 1
    assert run_stage(lambda argv: 0) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: params x is wrong", "error: file.npz: not found",
                   "error: training diverged: loss became NaN"]


def test_runtime_errors_print_one_line(capsys):
    def broken(argv):
        raise ValueError("first line\n  second line")

    assert run_stage(broken) == 1
    assert capsys.readouterr().err == "error: first line second line\n"


@pytest.mark.parametrize("check", [
    lambda: fst.train_params({"train_font": {"metric_every": 0}}),
    lambda: fls.train_params({"flowers_train": {"epochs": 0}}),
    lambda: dn.train_params({"denoise": {"copies": 0}}),
])
def test_every_study_raises_the_shared_params_error(check):
    with pytest.raises(ParamsError) as info:
        check()
    assert type(info.value) is ParamsError


def test_section_defaults_and_unknown_settings():
    assert section({}, "s", {"a": 1, "b": 2}) == {"a": 1, "b": 2}
    assert section({"s": {"b": 3}}, "s", {"a": 1, "b": 2}) == {"a": 1, "b": 3}
    with pytest.raises(ParamsError, match=r"unknown setting\(s\) \['c'\]"):
        section({"s": {"c": 3}}, "s", {"a": 1})
    with pytest.raises(ParamsError, match="must be a mapping"):
        section({"s": [1]}, "s", {"a": 1})


def test_integer_rejects_bools_and_small_values():
    assert integer(3, "x.y", 1) == 3
    for bad in (True, 0, 1.5, "2"):
        with pytest.raises(ParamsError, match=r"params x\.y must be an integer >= 1"):
            integer(bad, "x.y", 1)


def test_load_params_errors(tmp_path):
    with pytest.raises(ParamsError, match="file not found"):
        load_params(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1,\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(bad)
    bad.write_text("- 1\n")
    with pytest.raises(ParamsError, match="mapping of sections"):
        load_params(bad)


def test_model_config_checks_what_would_break_a_stage():
    cfg = {"layers": [35, 2], "epochs": 3, "batch_size": 5, "activation": ["tanh"],
           "betas": [0.9, 0.99]}
    assert model_config(cfg, "a.1") == cfg and model_config(cfg, "a.1") is not cfg
    assert model_config({"layers": [35, 2]}, "a.1") == {"layers": [35, 2]}  # defaults: fit's
    for bad, message in [
        ({"epochs": 0}, r"^params a\.1\.epochs must be an integer >= 1, got 0$"),
        ({"epochs": None}, r"^params a\.1\.epochs must be an integer >= 1, got None$"),
        ({"batch_size": 0}, r"^params a\.1\.batch_size must be an integer >= 1, got 0$"),
        ({"activation": None}, r"^params a\.1\.activation must be a name"),
        ({"activation": []}, r"^params a\.1\.activation must be a name"),
        ({"activation": [3]}, r"^params a\.1\.activation must be a name"),
        ({"betas": 3}, r"^params a\.1\.betas must be two numbers"),
        ({"betas": [0.9, True]}, r"^params a\.1\.betas must be two numbers"),
    ]:
        with pytest.raises(ParamsError, match=message):
            model_config({"layers": [35, 2], **bad}, "a.1")
    with pytest.raises(ParamsError, match=r"^params a\.1 must be a mapping of settings"):
        model_config([35, 2], "a.1")


def test_run_stage_other_floating_point_errors_are_runtime_failures(capsys):
    def overflow(argv):
        raise FloatingPointError("overflow encountered in exp")

    assert run_stage(overflow) == 1
    assert capsys.readouterr().err == "error: overflow encountered in exp\n"
