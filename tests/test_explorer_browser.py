"""The latent explorer page (nbae.explorer) in a real headless Chromium.

The browser is Debian's /usr/bin/chromium driven by Playwright; the browser tests skip when
either is missing. Pages are compared against the Python decoder: what the page decodes and
draws must be what ``Autoencoder.decode`` says.
"""

from __future__ import annotations

import io
from pathlib import Path

import explorer_models as em
import numpy as np
import pytest

from nbae.engine.model import Autoencoder
from nbae.explorer import write_explorer

pytestmark = pytest.mark.slow  # a real browser: the integration suite

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


# ------------------------------------------------------------------------------ models


@pytest.fixture(scope="module")
def font_data():
    return em.font_data()


@pytest.fixture(scope="module")
def font_model(font_data):
    return em.font_model(font_data)


@pytest.fixture(scope="module")
def flower_files(tmp_path_factory):
    return em.flower_files(tmp_path_factory.mktemp("flowers"))


@pytest.fixture(scope="module")
def font_page(font_model, tmp_path_factory):
    return em.explorer_page(font_model, tmp_path_factory.mktemp("font") / "explorer.html")


@pytest.fixture(scope="module")
def flower_page(flower_files, tmp_path_factory):
    model, data = flower_files
    return em.explorer_page(model, tmp_path_factory.mktemp("flowerpage") / "explorer.html", data)


# ------------------------------------------------------------------------------ browser


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (Debian package chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


class Tab:
    """One browser tab for the whole module (a new tab costs a renderer start, ~1 s).

    Every request other than the page itself is recorded and refused; script errors are
    recorded too. ``open`` navigates to an explorer page.
    """

    def __init__(self, browser):
        self.ctx = browser.new_context(viewport={"width": 1100, "height": 800})
        self.url, self.requests, self.errors = None, [], []
        self.ctx.route("**/*", self._route)
        self.page = self.ctx.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))

    def _route(self, route):
        if route.request.url == self.url:
            route.continue_()
        else:  # anything else would leave the page: record it and refuse
            self.requests.append(route.request.url)
            route.abort()

    def open(self, path):
        self.url = Path(path).resolve().as_uri()
        self.page.goto(self.url)  # waits for "load": the inline script has run
        assert self.js("typeof window.nbae") == "object", self.errors
        return self

    def js(self, expr, arg=None):
        return self.page.evaluate(expr, arg)


@pytest.fixture(scope="module")
def tab(browser):
    t = Tab(browser)
    yield t
    t.ctx.close()


@pytest.fixture()
def open_page(tab):
    tab.requests.clear()
    tab.errors.clear()
    yield tab.open
    assert tab.requests == [], f"network requests: {tab.requests}"
    assert tab.errors == [], f"script errors: {tab.errors}"




def _grays(values, low, high, ink):
    t = np.clip((np.asarray(values) - low) / (high - low), 0, 1)
    return np.round(255 * (1 - t if ink else t))


def _plane_point(pg, z):
    """Page coordinates of latent point z on the plane canvas (from its box and view)."""
    box = pg.page.locator("#plane").bounding_box()
    v = pg.js("nbae.view()")
    i, j = v["dims"]
    return (box["x"] + (z[i] - v["x0"]) / (v["x1"] - v["x0"]) * box["width"],
            box["y"] + (v["y1"] - z[j]) / (v["y1"] - v["y0"]) * box["height"])


def _check_shown(pg, ae, ink):
    """The page's image is Python's decode of the page's code, and is what the canvas shows."""
    z = np.array(pg.js("nbae.latent()"))
    img = np.array(pg.js("nbae.currentImage()"))
    want = ae.decode(z[None, :])[0]
    np.testing.assert_allclose(img, want, rtol=0, atol=1e-5)
    shown = np.array(pg.js("nbae.shownPixels()"))
    assert np.abs(shown - _grays(want, *ae.metadata["pixel_range"], ink)).max() <= 1
    return z, img


def _isolated(codes_px, min_gap=12.0):
    d = np.hypot(*(codes_px[:, None, :] - codes_px[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    return [k for k in range(len(codes_px)) if d[k].min() > min_gap]


# ------------------------------------------------------------------------------ font page


def test_font_page_hover_decodes_glyph_codes(open_page, font_page, font_model, font_data):
    pg = open_page(font_page)
    assert pg.js("nbae.data.layout") == "plane"
    Z = font_model.encode(font_data.X)
    np.testing.assert_array_equal(np.array(pg.js("nbae.codes()")), Z)
    pts = np.array([_plane_point(pg, z) for z in Z])
    chosen = _isolated(pts)[:4]
    assert len(chosen) >= 2
    for k in chosen:
        pg.page.mouse.move(*pts[k])
        z, _ = _check_shown(pg, font_model, ink=True)
        np.testing.assert_array_equal(z, Z[k])  # snapped onto the glyph's exact code
        text = pg.page.locator("#readout").inner_text()
        assert f"at the code of {font_data.labels[k]};" in text
        wrong = int(((font_model.decode(Z[k:k + 1])[0] > 0.5) != (font_data.X[k] > 0.5)).sum())
        assert f"nearest glyph: {font_data.labels[k]} " in text and f"{wrong} wrong pixel" in text
    # off every glyph: the pointer's own point, decoded live
    box = pg.page.locator("#plane").bounding_box()
    grid = [(box["x"] + u, box["y"] + v) for u in range(20, 500, 20) for v in range(20, 500, 20)]
    far = max(grid, key=lambda p: np.hypot(*(pts - p).T).min())
    pg.page.mouse.move(*far)
    z, _ = _check_shown(pg, font_model, ink=True)
    v = pg.js("nbae.view()")
    assert abs(z[0] - (v["x0"] + (far[0] - box["x"]) / 520 * (v["x1"] - v["x0"]))) \
        < 1.01 * (v["x1"] - v["x0"]) / 520
    assert "at the code of" not in pg.page.locator("#readout").inner_text()


def test_font_page_click_two_glyphs_walks_the_line(open_page, font_page, font_model, font_data):
    pg = open_page(font_page)
    Z = font_model.encode(font_data.X)
    pts = np.array([_plane_point(pg, z) for z in Z])
    a, b = _isolated(pts)[:2]
    pg.js("nbae.setTransitionMs(600)")
    pg.page.mouse.click(*pts[a])
    pg.page.mouse.click(*pts[b])
    assert pg.js("nbae.busy()")
    seen = []
    while pg.js("nbae.busy()"):  # intermediate codes lie on the straight line a -> b
        seen.append(pg.js("nbae.latent()"))
        pg.page.wait_for_timeout(50)
    for z in seen:
        t = np.dot(np.subtract(z, Z[a]), Z[b] - Z[a]) / np.dot(Z[b] - Z[a], Z[b] - Z[a])
        np.testing.assert_allclose(z, Z[a] + t * (Z[b] - Z[a]), atol=1e-9)
    z, _ = _check_shown(pg, font_model, ink=True)
    np.testing.assert_array_equal(z, Z[b])
    assert pg.page.locator("#strip canvas").count() == 9


def test_plane_of_a_3d_latent_puts_the_rest_on_sliders(open_page, font_data, tmp_path):
    ae = Autoencoder([35, 12, 3], activation="leaky_relu", leaky_slope=0.3, seed=2,
                     metadata=font_data.model_metadata())
    path = tmp_path / "p.html"
    write_explorer(ae, path)
    pg = open_page(path)
    slider = pg.page.locator("#sliders input")
    assert slider.count() == 1 and slider.get_attribute("data-dim") == "2"
    before = pg.js("nbae.latent()")
    box = slider.bounding_box()
    pg.page.mouse.click(box["x"] + 0.8 * box["width"], box["y"] + box["height"] / 2)
    z, _ = _check_shown(pg, ae, ink=True)
    assert z[2] != before[2] and z[:2].tolist() == before[:2]
    assert z[2] == pytest.approx(float(slider.input_value()))
    pg.page.select_option("#dimy", "2")
    assert pg.js("nbae.view().dims") == [0, 2]
    assert slider.get_attribute("data-dim") == "1"


def test_one_dimensional_glyph_latent_gets_a_slider(open_page, font_data, tmp_path):
    ae = Autoencoder([35, 8, 1], seed=4, metadata=font_data.model_metadata())
    path = tmp_path / "one.html"
    write_explorer(ae, path)
    pg = open_page(path)
    assert pg.js("nbae.data.layout") == "sliders" and pg.js("nbae.view()") is None
    assert pg.page.locator("#thumbs canvas").count() == 32
    pg.page.locator(".thumb").nth(10).click()
    z, _ = _check_shown(pg, ae, ink=True)
    np.testing.assert_array_equal(z, ae.encode(font_data.X)[10])


def test_the_page_cannot_fetch_even_if_asked(open_page, tab, font_page):
    pg = open_page(font_page)
    blocked = pg.js("""async () => {
        try { await fetch("https://example.org/x"); return "fetched"; }
        catch (e) { return "blocked"; } }""")
    assert blocked == "blocked" and tab.requests == []  # stopped by the page's CSP
    tab.errors.clear()  # the browser logs the refused fetch as an error


# ------------------------------------------------------------------------------ flower page


def test_flower_page_thumbnails_sliders_and_samples(open_page, flower_page, flower_files):
    model, data = flower_files
    ae = Autoencoder.load(model)
    X = np.load(data)["X"]
    pg = open_page(flower_page)
    assert pg.js("nbae.data.layout") == "sliders"
    assert pg.page.locator("#thumbs canvas").count() == len(X)
    assert pg.page.locator("#sliders input").count() == 6
    Z = ae.encode(X)
    z, _ = _check_shown(pg, ae, ink=False)  # opens at the first photo's code, marked
    np.testing.assert_array_equal(z, Z[0].astype(np.float64))
    assert "at the code of #6000;" in pg.page.locator("#readout").inner_text()
    assert pg.page.locator(".thumb.sel").count() == 1
    pg.page.locator(".thumb").nth(5).click()
    assert pg.page.locator(".thumb").nth(5).get_attribute("class") == "thumb sel"
    z, _ = _check_shown(pg, ae, ink=False)
    np.testing.assert_array_equal(z, Z[5].astype(np.float64))
    _, img0 = _check_shown(pg, ae, ink=False)
    box = pg.page.locator("#sliders input").nth(3).bounding_box()
    pg.page.mouse.click(box["x"] + 0.15 * box["width"], box["y"] + box["height"] / 2)
    z, img1 = _check_shown(pg, ae, ink=False)
    assert z[3] != Z[5][3] and np.abs(img1 - img0).max() > 1e-3  # the image moved with it
    pg.page.click("#sample")
    z2, _ = _check_shown(pg, ae, ink=False)
    assert not np.allclose(z2, z)


def test_flower_decode_is_fast_in_the_page(open_page, flower_page):
    pg = open_page(flower_page)
    ms = min(pg.js("nbae.benchmark(100)") for _ in range(3))
    print(f"\nflower decode 6-64-256-512-1024 in Chromium: {ms:.3f} ms")
    assert ms < 16


def test_screenshots_are_not_blank(open_page, font_page, flower_page):
    from PIL import Image

    for path in (font_page, flower_page):
        pg = open_page(path)
        png = pg.page.screenshot()
        pix = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64)
        assert pix.std() > 20, path
        out = np.asarray(Image.open(io.BytesIO(pg.page.locator("#out").screenshot())).convert("L"),
                         dtype=np.float64)
        assert out.std() > 5


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 2e-6)])
def test_every_activation_decodes_as_nbae(open_page, tmp_path, dtype, tol):
    """Random decoders using each activation: page decode == Python decode."""
    rng = np.random.default_rng(0)
    nets = [Autoencoder([16, 8, 6, 4], activation=["relu", "leaky_relu"], leaky_slope=0.25,
                        latent_activation="tanh", output_activation="softmax", dtype=dtype),
            Autoencoder([16, 8, 3], activation="sigmoid", output_activation="identity",
                        decoder=[3, 9, 7, 16], dtype=dtype),
            Autoencoder([16, 5, 2], activation="tanh", output_activation="sigmoid", dtype=dtype)]
    X = rng.uniform(0, 1, (10, 16))
    for n, ae in enumerate(nets):
        for W in ae.weights:  # scale up so that every activation sees both signs and saturation
            W *= 3
        path = tmp_path / f"a{n}.html"
        write_explorer(ae, path, data=X)
        pg = open_page(path)
        Z = rng.normal(0, 2, (5, ae.latent_dim))
        got = np.array([pg.js("z => nbae.decode(z)", z.tolist()) for z in Z])
        np.testing.assert_allclose(got, ae.decode(Z), rtol=0, atol=tol)
