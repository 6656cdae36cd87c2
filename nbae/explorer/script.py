"""JavaScript of the latent explorer page, inlined into the page by :mod:`nbae.explorer_page`.

It reads the page data (``<script id="nbae-data">``, see ``nbae.explorer.page_data``), runs
the decoder (the formulas of ``nbae.kernels.forward``/``activate``, each layer stored in the
model's dtype), and wires the plane, sliders, thumbnails and the random-sample button.
``window.nbae`` exposes test hooks.
"""

SCRIPT = r"""
"use strict";
(() => {
const D = JSON.parse(document.getElementById("nbae-data").textContent);
const $ = (id) => document.getElementById(id);

function fromB64(s, Type) {
  const bin = atob(s), u = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
  return new Type(u.buffer);
}

// ------------------------------------------------------------------ decoder
const FT = D.dtype === "float32" ? Float32Array : Float64Array;
const ACT = { identity: 0, tanh: 1, sigmoid: 2, relu: 3, leaky_relu: 4, softmax: 5 };
const layers = D.layers.map((L) => {
  if (!(L.activation in ACT)) throw new Error("unknown activation " + L.activation);
  return { fi: L.fan_in, fo: L.fan_out, act: ACT[L.activation], W: fromB64(L.W, FT),
           b: fromB64(L.b, FT), out: new FT(L.fan_out) };
});
const K = D.latent_dim, ROWS = D.shape[0], COLS = D.shape[1], P = ROWS * COLS;
const LO = D.pixel_range[0], HI = D.pixel_range[1], MID = (LO + HI) / 2;
const SLOPE = D.leaky_slope;
const zin = new FT(K);
const acc = new Float64Array(Math.max(...layers.map((L) => L.fo)));

function activate(a, n, code) {
  if (code === 1) { for (let i = 0; i < n; i++) a[i] = Math.tanh(a[i]); }
  else if (code === 2) {
    for (let i = 0; i < n; i++) {
      const x = a[i], e = Math.exp(-Math.min(Math.abs(x), 745)), d = 1 / (1 + e);
      a[i] = x >= 0 ? d : e * d;
    }
  } else if (code === 3) { for (let i = 0; i < n; i++) a[i] = a[i] > 0 ? a[i] : 0; }
  else if (code === 4) {
    for (let i = 0; i < n; i++) { const x = a[i]; a[i] = x > 0 ? x : SLOPE * x; }
  }
  else if (code === 5) {
    let mx = a[0], s = 0;
    for (let i = 1; i < n; i++) if (a[i] > mx) mx = a[i];
    for (let i = 0; i < n; i++) { const e = Math.exp(a[i] - mx); a[i] = e; s += e; }
    const inv = 1 / s;
    for (let i = 0; i < n; i++) a[i] *= inv;
  }
}

// The decoded output of code v (a typed array reused by the next call).
function decode(v) {
  for (let k = 0; k < K; k++) zin[k] = v[k];  // rounded to the model's dtype, as nbae does
  let inp = zin;
  for (const L of layers) {
    const fo = L.fo, W = L.W, out = L.out;
    acc.fill(0, 0, fo);
    for (let i = 0; i < L.fi; i++) {
      const a = inp[i];
      if (a === 0) continue;
      const off = i * fo;
      for (let j = 0; j < fo; j++) acc[j] += a * W[off + j];
    }
    for (let j = 0; j < fo; j++) out[j] = acc[j] + L.b[j];
    activate(out, fo, L.act);
    inp = out;
  }
  return inp;
}

// ------------------------------------------------------------------ data and state
const labels = D.labels, N = labels.length;
const codes = fromB64(D.codes, Float64Array), inputs = fromB64(D.inputs, Float32Array);
const PLANE = D.layout === "plane", GLYPH = D.glyph;
const z = Float64Array.from(codes.subarray(0, K));
// the page opens at the first input's code (snapped: the readout says so)
let image = new Float64Array(P), nearestIdx = 0, snapped = 0, selected = -1, animating = false;
let dx = 0, dy = Math.min(1, K - 1), view = null, current = 0, dragged = -1;

function gray(v) {
  let t = (v - LO) / (HI - LO);
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  return Math.round(255 * (GLYPH ? 1 - t : t));  // glyphs: dark ink on paper, as the figures
}
const code = (i) => codes.subarray(i * K, (i + 1) * K);

// ------------------------------------------------------------------ output image
const CELL = 36, GAP = 3, out = $("out");
if (GLYPH) { out.width = COLS * CELL; out.height = ROWS * CELL; }
else {
  out.width = COLS; out.height = ROWS;
  const scale = Math.max(1, Math.floor(320 / Math.max(ROWS, COLS)));
  out.style.width = COLS * scale + "px"; out.style.height = ROWS * scale + "px";
}
const octx = out.getContext("2d", { willReadFrequently: true });

function paint(ctx, px, cell, gap) {
  if (cell === 1) {
    const img = ctx.createImageData(COLS, ROWS);
    for (let p = 0; p < P; p++) {
      const g = gray(px[p]);
      img.data[4 * p] = img.data[4 * p + 1] = img.data[4 * p + 2] = g; img.data[4 * p + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    return;
  }
  ctx.fillStyle = "#bbb"; ctx.fillRect(0, 0, COLS * cell, ROWS * cell);
  for (let p = 0; p < P; p++) {
    const g = gray(px[p]), r = Math.floor(p / COLS), c = p % COLS;
    ctx.fillStyle = `rgb(${g},${g},${g})`;
    ctx.fillRect(c * cell + gap / 2, r * cell + gap / 2, cell - gap, cell - gap);
  }
}

function shownPixels() {
  const d = octx.getImageData(0, 0, out.width, out.height).data, res = [];
  for (let p = 0; p < P; p++) {
    const r = Math.floor(p / COLS), c = p % COLS;
    const x = GLYPH ? c * CELL + CELL / 2 : c, y = GLYPH ? r * CELL + CELL / 2 : r;
    res.push(d[4 * (y * out.width + x)]);
  }
  return res;
}

// ------------------------------------------------------------------ readout
function nearest(v) {
  let best = 0, bd = Infinity;
  for (let i = 0; i < N; i++) {
    let d = 0;
    for (let k = 0; k < K; k++) { const t = codes[i * K + k] - v[k]; d += t * t; }
    if (d < bd) { bd = d; best = i; }
  }
  return [best, Math.sqrt(bd)];
}

function readout() {
  const [i, dist] = nearest(z);
  nearestIdx = i;
  let diff;
  if (GLYPH) {
    let wrong = 0;
    for (let p = 0; p < P; p++) if ((inputs[i * P + p] > MID) !== (image[p] > MID)) wrong++;
    diff = `${wrong} wrong pixel${wrong === 1 ? "" : "s"}`;
  } else {
    let s = 0;
    for (let p = 0; p < P; p++) { const t = image[p] - inputs[i * P + p]; s += t * t; }
    diff = `RMS pixel difference ${Math.sqrt(s / P).toFixed(3)}`;
  }
  $("readout").textContent =
    `z = (${Array.from(z, (v) => v.toFixed(4)).join(", ")})\n` +
    (snapped >= 0 ? `at the code of ${labels[snapped]}; ` : "") +
    `nearest ${D.noun}: ${labels[i]} (latent distance ${dist.toFixed(3)}), ${diff}`;
}

// ------------------------------------------------------------------ sliders
let sliders = [];
function buildSliders() {
  const box = $("sliders");
  box.replaceChildren();
  sliders = [];
  for (let j = 0; j < K; j++) {
    if (PLANE && (j === dx || j === dy)) continue;
    const row = document.createElement("div"), lab = document.createElement("span");
    const inp = document.createElement("input"), val = document.createElement("span");
    row.className = "slider"; lab.textContent = "z" + j;
    Object.assign(inp, { type: "range", min: D.slider_min[j], max: D.slider_max[j], step: "any" });
    inp.dataset.dim = j;
    inp.addEventListener("input", () => {
      z[j] = parseFloat(inp.value); snapped = -1; current = -1;
      dragged = j; update(); dragged = -1;  // the slider being moved keeps its own value
    });
    row.append(lab, inp, val); box.append(row);
    sliders.push({ j, inp, val });
  }
}
function syncSliders() {
  for (const s of sliders) {
    if (s.j !== dragged) s.inp.value = z[s.j];
    s.val.textContent = z[s.j].toFixed(3);
  }
}

// ------------------------------------------------------------------ latent plane
const plane = $("plane"), pctx = plane.getContext("2d"), PW = 520, PH = 520;
const dpr = window.devicePixelRatio || 1;
plane.width = PW * dpr; plane.height = PH * dpr;

function makeView() {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < N; i++) {
    const a = codes[i * K + dx], b = codes[i * K + dy];
    x0 = Math.min(x0, a); x1 = Math.max(x1, a); y0 = Math.min(y0, b); y1 = Math.max(y1, b);
  }
  const px = Math.max(0.12 * (x1 - x0), 1e-3), py = Math.max(0.12 * (y1 - y0), 1e-3);
  view = { dims: [dx, dy], x0: x0 - px, x1: x1 + px, y0: y0 - py, y1: y1 + py,
           width: PW, height: PH };
}
const toPx = (a, b) => [(a - view.x0) / (view.x1 - view.x0) * PW,
                        (view.y1 - b) / (view.y1 - view.y0) * PH];
const fromPx = (x, y) => [view.x0 + x / PW * (view.x1 - view.x0),
                          view.y1 - y / PH * (view.y1 - view.y0)];

function drawPlane(line) {
  if (!PLANE) return;
  const c = pctx;
  c.setTransform(dpr, 0, 0, dpr, 0, 0);
  c.fillStyle = "#fff"; c.fillRect(0, 0, PW, PH);
  c.strokeStyle = "#eee"; c.fillStyle = "#999"; c.font = "11px sans-serif"; c.lineWidth = 1;
  for (let t = 1; t < 4; t++) {  // grid lines at quarters, labelled on the bottom and left
    const u = t / 4 * PW, v = t / 4 * PH, [a, b] = fromPx(u, v);
    c.beginPath(); c.moveTo(u, 0); c.lineTo(u, PH); c.moveTo(0, v); c.lineTo(PW, v); c.stroke();
    c.fillText(a.toFixed(2), u + 2, PH - 4); c.fillText(b.toFixed(2), 2, v - 3);
  }
  c.fillText(`z${dx} \u2192`, PW - 40, PH - 16); c.fillText(`z${dy} \u2191`, 6, 24);
  if (line) {
    c.strokeStyle = "#d33"; c.setLineDash([4, 4]); c.beginPath();
    c.moveTo(...toPx(line[0][dx], line[0][dy])); c.lineTo(...toPx(line[1][dx], line[1][dy]));
    c.stroke(); c.setLineDash([]);
  }
  c.font = "bold 15px ui-monospace, monospace"; c.textAlign = "center";
  for (let i = 0; i < N; i++) {
    const [x, y] = toPx(codes[i * K + dx], codes[i * K + dy]);
    c.fillStyle = i === nearestIdx ? "#d33" : "#36c";
    c.beginPath(); c.arc(x, y, 2.5, 0, 2 * Math.PI); c.fill();
    c.fillText(labels[i], x, y - 5);
    if (i === selected) {
      c.strokeStyle = "#d33"; c.beginPath(); c.arc(x, y, 9, 0, 2 * Math.PI); c.stroke();
    }
  }
  c.textAlign = "start";
  const [mx, my] = toPx(z[dx], z[dy]);
  c.strokeStyle = "#000"; c.lineWidth = 1.5;
  c.beginPath(); c.arc(mx, my, 6, 0, 2 * Math.PI);
  c.moveTo(mx - 10, my); c.lineTo(mx + 10, my); c.moveTo(mx, my - 10); c.lineTo(mx, my + 10);
  c.stroke();
}

const SNAP = 7;  // CSS pixels: a pointer this close to a glyph's marker takes its exact code
function hit(x, y) {
  let best = -1, bd = SNAP * SNAP;
  for (let i = 0; i < N; i++) {
    const [u, v] = toPx(codes[i * K + dx], codes[i * K + dy]), d = (u - x) ** 2 + (v - y) ** 2;
    if (d <= bd) { bd = d; best = i; }
  }
  return best;
}
function local(ev) {
  const r = plane.getBoundingClientRect();
  return [ev.clientX - r.left, ev.clientY - r.top];
}
function moveTo(x, y) {
  const h = hit(x, y);
  if (h >= 0) { z.set(code(h)); snapped = h; }
  else { const [a, b] = fromPx(x, y); z[dx] = a; z[dy] = b; snapped = -1; }
  update();
}
let down = null;
plane.addEventListener("pointermove", (ev) => { if (!animating) moveTo(...local(ev)); });
plane.addEventListener("pointerdown", (ev) => {
  down = local(ev); plane.setPointerCapture(ev.pointerId);
});
plane.addEventListener("pointerup", (ev) => {
  const [x, y] = local(ev);
  if (!down || animating || Math.hypot(x - down[0], y - down[1]) > 4) { down = null; return; }
  down = null;
  const h = hit(x, y);
  if (h < 0 || h === selected) selected = -1;
  else if (selected < 0) selected = h;
  else { const a = selected; selected = -1; transition(a, h); }
  drawPlane();
});

let transitionMs = 1500;  // duration of a two-glyph walk (nbae.setTransitionMs for tests)
function transition(a, b, ms = transitionMs) {
  const za = Float64Array.from(code(a)), zb = Float64Array.from(code(b));
  animating = true; snapped = -1;
  const strip = $("strip"); strip.replaceChildren();
  for (let s = 0; s < 9; s++) {
    const t = s / 8, v = za.map((x, k) => (1 - t) * x + t * zb[k]);
    const cv = document.createElement("canvas"), cell = GLYPH ? 6 : 1;
    cv.width = COLS * cell; cv.height = ROWS * cell;
    cv.title = s === 0 ? labels[a] : s === 8 ? labels[b] : t.toFixed(3);
    paint(cv.getContext("2d"), decode(v), cell, GLYPH ? 1 : 0); strip.append(cv);
  }
  return new Promise((resolve) => {
    const t0 = performance.now();
    const step = (now) => {
      const t = Math.min((now - t0) / ms, 1);
      for (let k = 0; k < K; k++) z[k] = (1 - t) * za[k] + t * zb[k];
      if (t >= 1) { z.set(zb); snapped = b; animating = false; }
      update([za, zb]);
      if (t < 1) requestAnimationFrame(step); else resolve(Array.from(z));
    };
    requestAnimationFrame(step);
  });
}

function setupPlane() {
  for (const [sel, get] of [[$("dimx"), () => dx], [$("dimy"), () => dy]]) {
    for (let j = 0; j < K; j++) sel.append(new Option("z" + j, j, false, j === get()));
    sel.addEventListener("change", () => {
      const nx = +$("dimx").value, ny = +$("dimy").value;
      if (nx === ny) { sel.value = get(); return; }
      dx = nx; dy = ny; makeView(); buildSliders(); update();
    });
  }
  makeView();
}

// ------------------------------------------------------------------ thumbnails
function setupThumbs() {
  const box = $("thumbs");
  $("thumbs-hint").textContent = `training ${D.noun}s` +
    (D.n_inputs > N ? ` (${N} of ${D.n_inputs}, evenly spaced)` : "") +
    ": click one to jump to its code";
  for (let i = 0; i < N; i++) {
    const d = document.createElement("div"), cv = document.createElement("canvas");
    const cap = document.createElement("div");
    d.className = "thumb"; d.title = labels[i]; cap.textContent = labels[i];
    cv.width = GLYPH ? COLS * 8 : COLS; cv.height = GLYPH ? ROWS * 8 : ROWS;
    paint(cv.getContext("2d"), inputs.subarray(i * P, (i + 1) * P), GLYPH ? 8 : 1, GLYPH ? 1 : 0);
    d.append(cv, cap); box.append(d);
    d.addEventListener("click", () => { current = i; snapped = i; z.set(code(i)); update(); });
  }
}
function markThumb() {
  const ts = $("thumbs").children;
  for (let i = 0; i < ts.length; i++) ts[i].classList.toggle("sel", i === current);
}

// ------------------------------------------------------------------ random samples
let seed = 20240611;
function uniform() {  // mulberry32: a small, seeded PRNG (the samples repeat on reload)
  seed = (seed + 0x6D2B79F5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function sample() {
  const n = Array.from({ length: K }, () =>
    Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()));
  for (let k = 0; k < K; k++) {
    let s = D.mean[k];
    for (let m = 0; m < K; m++) s += D.sampler[k][m] * n[m];
    z[k] = s;
  }
  snapped = -1; current = -1; update();
  return Array.from(z);
}
$("sample").addEventListener("click", sample);

// ------------------------------------------------------------------ update loop
function update(line) {
  image.set(decode(z));
  paint(octx, image, GLYPH ? CELL : 1, GLYPH ? GAP : 0);
  readout(); syncSliders(); drawPlane(line); if (!PLANE) markThumb();
}

const acts = D.layers.map((L) => L.activation).join(", ");
$("sub").textContent = `${D.architecture} (${D.dtype}); its decoder ` +
  `${[K, ...layers.map((L) => L.fo)].join("-")} (${acts}) runs in this page`;
$("foot").textContent = `${N} training ${D.noun}${N === 1 ? "" : "s"} from ` +
  `${D.source || "the model"}; ` +
  `images ${ROWS}\u00d7${COLS} in [${LO}, ${HI}]. Self-contained page: no network requests.`;
$(PLANE ? "thumbs-box" : "plane-box").classList.add("hidden");
if (PLANE) setupPlane(); else setupThumbs();
buildSliders();
update();

window.nbae = {
  data: { layout: D.layout, glyph: GLYPH, latent_dim: K, shape: D.shape, labels,
          pixel_range: D.pixel_range, dtype: D.dtype },
  decode: (v) => Array.from(decode(v)),
  setLatent: (v) => { z.set(v); snapped = -1; current = -1; update(); return Array.from(z); },
  latent: () => Array.from(z),
  currentImage: () => Array.from(image),
  shownPixels,
  codes: () => Array.from({ length: N }, (_, i) => Array.from(code(i))),
  view: () => (PLANE ? { ...view } : null),
  nearest: () => nearestIdx,
  transition: (a, b, ms) => transition(a, b, ms),
  setTransitionMs: (ms) => { transitionMs = ms; },
  sample,
  busy: () => animating,
  benchmark(n = 200) {  // mean milliseconds of one decode, measured in this page
    const v = new Float64Array(K);
    for (let w = 0; w < 20; w++) decode(z);
    const t0 = performance.now();
    for (let r = 0; r < n; r++) {
      for (let k = 0; k < K; k++) v[k] = z[k] + 1e-3 * (r % 7);
      decode(v);
    }
    return (performance.now() - t0) / n;
  },
};
})();
"""
