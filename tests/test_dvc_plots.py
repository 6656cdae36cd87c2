"""`dvc plots show` / `dvc plots diff` draw every plot offline, right.

The project ships its own DVC page template (.dvc/plots/html/page.html: Vega, Vega-Lite and
vega-embed inlined at pinned versions, named in .dvc/config `plots.html_template`) and Vega-Lite
templates for its long-format CSVs (.dvc/plots/*.json). The fast tests check the pins and fill
every template in-process with dvc-render; the slow one builds a throwaway git + DVC repository
with CSVs of each shape the pipeline writes, runs the real `dvc plots show` and `dvc plots diff`,
and loads the pages in headless Debian Chromium with every non-file request blocked.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLOTS_DIR = ROOT / ".dvc" / "plots"
HTML_DIR = PLOTS_DIR / "html"
CHROMIUM = Path("/usr/bin/chromium")
# the flags of a quiet offline browser: no update, sync or field-trial traffic of its own
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# The `plots:` section of dvc.yaml, as NOTES-dvcplots.md gives it (paths: the pipeline's CSVs).
PLOTS_YAML = """\
plots:
  - font_loss:
      template: lines_log
      x: epoch
      y: {results/font/curves.csv: loss}
      x_label: epoch
      y_label: loss (mean squared error, log scale)
      title: "Font: training loss per architecture"
  - font_wrong_pixels:
      template: points_lines
      x: epoch
      y: {results/font/wrong_pixels.csv: max_wrong_pixels}
      x_label: epoch
      y_label: wrong pixels of the worst glyph
      title: "Font: worst glyph during training (sampled)"
  - denoise_restored:
      template: points_lines_percent
      x: level
      y: {results/denoise/curves.csv: restored}
      x_label: noise level (share of pixels flipped)
      y_label: share of glyphs restored
      title: "Denoising: glyphs restored"
  - denoise_wrong_pixels:
      template: points_lines_percent
      x: level
      y: {results/denoise/curves.csv: mean_wrong}
      x_label: noise level (share of pixels flipped)
      y_label: wrong pixels per glyph (mean)
      title: "Denoising: wrong pixels after restoring"
  - denoise_training:
      template: lines_log
      x: epoch
      y: {results/denoise/train/curve.csv: loss}
      x_label: epoch
      y_label: loss (log scale)
      title: "Denoiser: training loss"
  - flowers_training:
      template: lines_log
      x: epoch
      y: {results/flowers/train/curve.csv: loss}
      x_label: epoch
      y_label: loss (log scale)
      title: "Flowers: training loss"
  - flowers_search_loss:
      template: lines_log
      x: epoch
      y: {results/flowers/search/curves.csv: loss}
      x_label: epoch
      y_label: loss (log scale)
      title: "Flowers: training loss per latent size"
  - flowers_latent_search:
      template: points_lines_log
      x: latent_dim
      y: {results/flowers/search/latent_search.csv: best_loss}
      x_label: latent size
      y_label: best loss (log scale)
      title: "Flowers: best loss per latent size"
"""
ARCHS = [f"arch {k}" for k in range(1, 9)]
DENOISERS = ["denoiser", "plain autoencoder", "noisy input (no model)"]
LATENTS = [1, 2, 3, 4, 5, 6, 8]
# plot id: (template, series the legend must list, log y?)
EXPECTED = {
    "font_loss": ("lines_log", ARCHS, True),
    "font_wrong_pixels": ("points_lines", ARCHS, False),
    "denoise_restored": ("points_lines_percent", DENOISERS, False),
    "denoise_wrong_pixels": ("points_lines_percent", DENOISERS, False),
    "denoise_training": ("lines_log", [], True),
    "flowers_training": ("lines_log", [], True),
    "flowers_search_loss": ("lines_log", [f"latent {k}" for k in LATENTS], True),
    "flowers_latent_search": ("points_lines_log", [], True),
}


def _load_build_page():
    spec = importlib.util.spec_from_file_location("build_page", HTML_DIR / "build_page.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_csvs(root: Path, scale: float = 1.0) -> dict:
    """Synthetic CSVs of every shape the pipeline writes, under ``root``; ``scale`` changes the
    values (a second revision). Returns, per plot id, the rows a point template must draw."""
    def write(rel, header, rows):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
        path.write_text("\n".join(lines) + "\n")

    write("results/font/curves.csv", ["epoch", "series", "loss"],
          [(e, s, scale * 0.3 * math.exp(-e / (400 * k)) + 1e-4)
           for k, s in enumerate(ARCHS, 1) for e in range(0, 3001, 100)])
    # sampled every 1000 epochs; one blank cell (a sample that was not taken) must be a gap
    wrong = [(e, s, max(0, round(scale * (40 - e // (50 * k)))))
             for k, s in enumerate(ARCHS, 1) for e in range(0, 6001, 1000)]
    wrong[3] = (wrong[3][0], wrong[3][1], "")
    write("results/font/wrong_pixels.csv", ["epoch", "series", "max_wrong_pixels"], wrong)
    write("results/denoise/curves.csv", ["level", "series", "restored", "mean_wrong"],
          [(f"{i * 0.05:.2f}", s, max(0.0, scale * (1 - i * 0.05 * (1 + j))), i * (j + 1))
           for j, s in enumerate(DENOISERS) for i in range(11)])
    write("results/denoise/train/curve.csv", ["epoch", "loss", "seconds"],
          [(e, scale / (e + 1), 0.01 * e) for e in range(1, 501)])
    write("results/flowers/train/curve.csv", ["epoch", "loss"],
          [(e, scale * 0.05 / math.sqrt(e)) for e in range(10, 1001, 10)])
    write("results/flowers/search/curves.csv", ["epoch", "series", "loss"],
          [(e, f"latent {k}", scale * 0.05 / (k * math.sqrt(e)))
           for k in LATENTS for e in range(10, 301, 10)])
    write("results/flowers/search/latent_search.csv",
          ["latent_dim", "seed", "n_params", "best_loss", "diverged"],
          [(k, 0, 100 * k, scale * 0.02 / k**2, False) for k in LATENTS])
    return {"font_wrong_pixels": len(wrong) - 1, "denoise_restored": 33,
            "denoise_wrong_pixels": 33, "flowers_latent_search": len(LATENTS)}


# ----------------------------------------------------------------------------- fast tests


def test_page_template_is_the_pinned_offline_build():
    """page.html is page.in.html with the pinned builds inlined; DVC gets no CDN tags."""
    build_page = _load_build_page()
    manifest = json.loads((HTML_DIR / "vendor.json").read_text())
    page = (HTML_DIR / "page.html").read_text()
    assert build_page.check(page, (HTML_DIR / "page.in.html").read_text(), manifest) == []
    assert {e["name"] for e in manifest} == {"vega", "vega-lite", "vega-embed"}
    for entry in manifest:
        assert (HTML_DIR / f"LICENSE.{entry['name']}").is_file()
    assert page.count("{plot_divs}") == 1
    # without the scripts placeholder DVC cannot add its cdn.jsdelivr.net script tags
    assert "{scripts}" not in page
    assert not re.search(r"<script[^>]*\bsrc=|<link[^>]*\bhref=", page)


def test_dvc_config_names_the_page_template():
    """.dvc/config `plots.html_template` resolves (relative to .dvc, as DVC reads it)."""
    from configobj import ConfigObj

    value = ConfigObj(str(ROOT / ".dvc" / "config"))["plots"]["html_template"]
    assert not os.path.isabs(value)
    assert (ROOT / ".dvc" / value).resolve() == (HTML_DIR / "page.html").resolve()


def _renderer(root: Path, plot_id: str):
    """(dvc-render VegaRenderer of ``plot_id`` over the CSV under ``root``, its rows, its
    definition), the rows as DVC passes them: strings, plus rev, filename and field."""
    import yaml
    from dvc_render import VegaRenderer

    (definition,) = [d[plot_id] for d in yaml.safe_load(PLOTS_YAML)["plots"] if plot_id in d]
    ((csv_path, y),) = definition["y"].items()
    text = (root / csv_path).read_text().splitlines()
    header = text[0].split(",")
    rows = [dict(zip(header, line.split(","), strict=True), rev="workspace",
                 filename=csv_path, field=y) for line in text[1:]]
    props = {k: v for k, v in definition.items() if k != "y"}
    renderer = VegaRenderer(rows, plot_id, template_dir=str(PLOTS_DIR), y=y, **props)
    return renderer, rows, definition


@pytest.mark.parametrize("plot_id", sorted(EXPECTED))
def test_templates_fill_completely(tmp_path, plot_id):
    """dvc-render fills each template with every anchor and the rows; log where promised."""
    write_csvs(tmp_path)
    renderer, rows, definition = _renderer(tmp_path, plot_id)
    y = renderer.properties["y"]
    spec = renderer.get_filled_template()
    assert "<DVC_METRIC_" not in json.dumps(spec)
    assert spec["data"]["values"] == rows
    assert spec["title"]["text"] == definition["title"]
    enc = spec["encoding"]
    assert (enc["x"]["field"], enc["x"]["title"]) == (definition["x"], definition["x_label"])
    assert (enc["y"]["field"], enc["y"]["title"]) == (y, definition["y_label"])
    assert (enc["y"]["scale"].get("type") == "log") == EXPECTED[plot_id][2]


def test_page_template_takes_every_plot_without_cdn(tmp_path):
    """dvc-render's page writer with the project's template: every spec in, nothing to fetch;
    with DVC's default page the same plots would need cdn.jsdelivr.net."""
    from dvc_render import render_html

    write_csvs(tmp_path)
    renderers = [_renderer(tmp_path, plot_id)[0] for plot_id in EXPECTED]
    ours = render_html(renderers, tmp_path / "ours.html", str(HTML_DIR / "page.html"))
    _check_static(Path(ours).read_text(), EXPECTED)
    default = render_html(renderers, tmp_path / "default.html")
    with pytest.raises(AssertionError):
        _check_static(Path(default).read_text(), EXPECTED)


# ----------------------------------------------------------------------------- slow test


def _run(args, cwd, env):
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{args} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _specs(html: str) -> dict:
    """{plot id: spec} of the plot divs DVC wrote into the page."""
    found = re.findall(r"var spec = (\{.*?\});\s*vegaEmbed\('#([^']+)'", html, re.S)
    return {plot_id: json.loads(spec) for spec, plot_id in found}


def _check_static(html: str, plot_ids) -> dict:
    """No network references a browser would follow; every plot has a spec with data."""
    assert not re.search(r"<script[^>]*\bsrc=|<link[^>]*\bhref=|url\(\s*['\"]?https?:", html)
    assert "cdn.jsdelivr" not in html
    specs = _specs(html)
    assert set(specs) == set(plot_ids)
    for plot_id in plot_ids:
        assert specs[plot_id].get("data", {}).get("values"), f"{plot_id}: empty spec"
    return specs


# Runs in the page: waits for every vegaEmbed call, then describes what each plot drew.
DESCRIBE_JS = """async () => {
  const results = await Promise.all(window.nbaePlots);
  return results.map(r => {
    const el = document.getElementById(r.id);
    const all = s => Array.from(el.querySelectorAll(s));
    return {
      id: r.id, ok: r.ok, error: r.error || null,
      svg: all("svg.marks").length,
      lines: all("g.role-mark.mark-line path").length,
      symbols: all("g.role-mark.mark-symbol path").length,
      axes: all("g.role-axis").map(a => a.getAttribute("aria-label")).filter(a => a),
      legend: all("g.role-legend-label text").map(t => t.textContent),
      note: el.querySelector(".nbae-note") ? el.querySelector(".nbae-note").textContent : null,
    };
  });
}"""


# true once exactly one font_loss line (per revision) is opaque and the rest faded
PICKED_JS = """() => {
  const paths = Array.from(document.querySelectorAll("#font_loss g.role-mark.mark-line path"));
  const opaque = paths.filter(p => (p.getAttribute("opacity") || "1") === "1").length;
  return paths.length > 0 && opaque * 8 === paths.length;
}"""


def _browse(browser, page_file: Path, screenshot: Path | None = None) -> dict:
    """Load ``page_file`` with every non-file request blocked; {plot id: description}."""
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    outside, errors = [], []

    def route(r):
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_file.as_uri())
    described = {d["id"]: d for d in page.evaluate(DESCRIBE_JS)}
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    if "font_loss" in described:
        # clicking a legend entry brings that series forward (8 architectures, few hues)
        page.locator("#font_loss g.role-legend-label text", has_text="arch 3").first.click()
        page.wait_for_function(PICKED_JS, timeout=5000)
    page.close()
    assert outside == [], f"the page asked the network for {outside}"
    assert errors == [], errors
    return described


def _check_drawn(described: dict, revs: list, point_rows: dict) -> None:
    for plot_id, (template, series, log_y) in EXPECTED.items():
        d = described[plot_id]
        assert d["ok"], f"{plot_id}: {d['error']}"
        assert d["svg"] == 1
        # one line per series and revision: colour and dash split them, nothing is merged
        assert d["lines"] == max(len(series), 1) * len(revs), (plot_id, d["lines"])
        if template.startswith("points"):
            # every valid sample is a point (the blank cell is a gap, not a 0)
            assert d["symbols"] == point_rows[plot_id] * len(revs), (plot_id, d["symbols"])
        y_axis = [a for a in d["axes"] if a.startswith("Y-axis")]
        assert len(y_axis) == 1 and ("log scale" in y_axis[0]) == log_y, y_axis
        assert all(a.count("'") >= 2 and "titled 'undefined'" not in a for a in d["axes"])
        for name in [*series, *revs]:
            assert name in d["legend"], (plot_id, name, d["legend"])


@pytest.mark.slow
def test_dvc_plots_show_and_diff_draw_offline(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium (/usr/bin/chromium) is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    # the dvc installed next to this Python (CI's venv), else the one on PATH
    dvc = Path(sys.executable).with_name("dvc")
    dvc = str(dvc) if dvc.exists() else shutil.which("dvc") or pytest.skip("dvc not installed")
    env = dict(os.environ, DVC_NO_ANALYTICS="1", GIT_TERMINAL_PROMPT="0")
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["git", "init", "-q"], ["git", "config", "user.name", "nbae test"],
                 ["git", "config", "user.email", "test@nbae.invalid"], [dvc, "init", "-q"]):
        _run(args, repo, env)
    shutil.copytree(PLOTS_DIR, repo / ".dvc" / "plots")
    shutil.copy2(ROOT / ".dvc" / "config", repo / ".dvc" / "config")
    (repo / "dvc.yaml").write_text(PLOTS_YAML)
    point_rows = write_csvs(repo)
    _run(["git", "add", "-A"], repo, env)
    _run(["git", "commit", "-qm", "first"], repo, env)
    write_csvs(repo, scale=0.6)
    _run(["git", "commit", "-qam", "second"], repo, env)

    _run([dvc, "plots", "show", "-o", str(tmp_path / "show")], repo, env)
    _run([dvc, "plots", "diff", "HEAD~1", "HEAD", "-o", str(tmp_path / "diff")], repo, env)
    pages = {name: tmp_path / name / "index.html" for name in ("show", "diff")}
    for page_file in pages.values():
        _check_static(page_file.read_text(), EXPECTED)

    # before the flower study ran: its plots say so instead of drawing an empty box
    shutil.rmtree(repo / "results" / "flowers")
    _run([dvc, "plots", "show", "-o", str(tmp_path / "noflowers")], repo, env)

    shot = os.environ.get("NBAE_DVC_PLOTS_PNG")  # e.g. docs/figures/dvc_plots.png
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            shown = _browse(browser, pages["show"], Path(shot) if shot else None)
            diffed = _browse(browser, pages["diff"])
            partial = _browse(browser, tmp_path / "noflowers" / "index.html")
        finally:
            browser.close()
    _check_drawn(shown, ["workspace"], point_rows)
    _check_drawn(diffed, ["HEAD~1", "HEAD"], point_rows)
    for plot_id, d in partial.items():
        if plot_id.startswith("flowers"):
            assert not d["ok"] and "no data" in d["note"], d
        else:
            assert d["ok"] and d["lines"] > 0, d
