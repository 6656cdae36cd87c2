"""HTML and CSS of the latent explorer page; its JavaScript is in :mod:`nbae.explorer_script`.

Kept as a Python string so that no package-data configuration is needed. ``__NBAE_TITLE__``
is replaced by the HTML-escaped title and ``__NBAE_DATA__`` by the page data as JSON (see
``nbae.explorer.page_data``). The Content-Security-Policy allows inline code only: the page
cannot fetch anything, even by mistake.

The script (:mod:`nbae.explorer_script`) decodes as ``nbae.kernels.forward``/``activate``:
per layer ``out = a W + b`` with ``W`` of shape (fan_in, fan_out) row-major, stored in the
model's dtype, then the activation in place (sigmoid via ``e = exp(-min(|x|, 745))``,
softmax shifted by the row max and scaled by ``1 / sum``, leaky_relu with the model's slope).

Test hooks: ``window.nbae`` (decode, setLatent, latent, currentImage, shownPixels, view,
codes, nearest, transition, setTransitionMs, sample, benchmark, busy).
"""

from nbae.explorer.script import SCRIPT

_HEAD = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__NBAE_TITLE__</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 16px 24px; color: #222;
         background: #fafafa; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  #sub, footer, .hint { color: #666; font-size: 12.5px; }
  main { display: flex; flex-wrap: wrap; gap: 24px; margin-top: 12px; align-items: flex-start; }
  #left { max-width: 560px; }
  #right { width: 340px; }
  .panel { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 12px; }
  #plane { width: 520px; height: 520px; cursor: crosshair; touch-action: none; display: block; }
  #out { display: block; margin: 0 auto; image-rendering: pixelated; background: #ccc; }
  #readout { font: 12.5px/1.5 ui-monospace, monospace; margin-top: 8px; max-width: 340px;
             word-break: break-word; white-space: pre-wrap; }
  #sliders { margin-top: 8px; max-height: 360px; overflow-y: auto; }
  .slider { display: grid; grid-template-columns: 34px 1fr 64px; gap: 6px; align-items: center;
            font: 12.5px ui-monospace, monospace; }
  .slider input { width: 100%; }
  #thumbs { display: flex; flex-wrap: wrap; gap: 6px; max-width: 560px; max-height: 520px;
            overflow-y: auto; }
  .thumb { text-align: center; font-size: 11px; color: #555; cursor: pointer; }
  .thumb canvas { width: 56px; height: auto; image-rendering: pixelated; display: block;
                  border: 2px solid transparent; background: #ccc; }
  .thumb.sel canvas { border-color: #d33; }
  #strip { display: flex; gap: 4px; margin-top: 8px; flex-wrap: wrap; }
  #strip canvas { width: 30px; image-rendering: pixelated; }
  button { margin: 8px 6px 0 0; padding: 4px 10px; }
  select { margin: 0 8px 0 4px; }
  .hidden { display: none !important; }
</style>
</head>
<body>
<h1>__NBAE_TITLE__</h1>
<div id="sub"></div>
<main>
  <section class="panel" id="left">
    <div id="plane-box">
      <canvas id="plane"></canvas>
      <div class="hint">plane: x <select id="dimx"></select> y <select id="dimy"></select>
        hover or drag to decode; near a glyph the point snaps to its code; click two glyphs to
        walk the straight line between their codes</div>
    </div>
    <div id="thumbs-box">
      <div class="hint" id="thumbs-hint">training inputs: click one to jump to its code</div>
      <div id="thumbs"></div>
    </div>
  </section>
  <section class="panel" id="right">
    <canvas id="out"></canvas>
    <div id="readout"></div>
    <div id="sliders"></div>
    <button id="sample">random sample</button>
    <span class="hint">from the Gaussian of the training codes</span>
    <div id="strip"></div>
  </section>
</main>
<footer id="foot"></footer>
<script type="application/json" id="nbae-data">__NBAE_DATA__</script>
<script>
"""

_TAIL = r"""
</script>
</body>
</html>
"""

TEMPLATE = _HEAD + SCRIPT + _TAIL
