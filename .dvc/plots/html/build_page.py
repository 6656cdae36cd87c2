"""Build (or check) page.html, the offline DVC plots page template, from page.in.html.

page.in.html holds one line ``<!-- VENDOR name -->`` per package of vendor.json; each is
replaced by that package's minified build from its npm tarball, inlined in a <script>. Inline,
not ``<script src=...>``: DVC copies the template to wherever ``dvc plots show -o DIR`` writes,
so a relative src would break for any other DIR, and a CDN src breaks offline.

    python .dvc/plots/html/build_page.py            # npm pack the pinned versions, rebuild
    python .dvc/plots/html/build_page.py --from DIR # use tarballs already in DIR
    python .dvc/plots/html/build_page.py --check    # offline: page.html == page.in.html + pins

Every tarball is checked against the npm ``integrity`` pinned in vendor.json before use, and
each inlined build against its pinned sha256, so a rebuild cannot silently change versions.
"""

import argparse
import base64
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKELETON = HERE / "page.in.html"
PAGE = HERE / "page.html"
MANIFEST = HERE / "vendor.json"
# DVC fills these by plain string replacement over the whole page, so the inlined code must
# not contain them; "</script" would end the inline block early.
FORBIDDEN = ("{scripts}", "{plot_divs}", "{refresh_tag}", "</script")


def _marker(name):
    return f"<!-- VENDOR {name} -->"


def _block(entry, code):
    # The header names the package so a reader of page.html can tell the blocks apart.
    header = (
        f"/* {entry['name']}@{entry['version']} ({entry['file']} of {entry['tarball']}); "
        f"{entry['license']}, see LICENSE.{entry['name']} */"
    )
    return f"<script>{header}\n{code}\n</script>"


def _sha256(text):
    return hashlib.sha256(text.encode("utf8")).hexdigest()


def _read_build(tarball, entry):
    """The package's build file from `tarball`, after checking the tarball's npm integrity."""
    data = Path(tarball).read_bytes()
    algo, _, expected = entry["integrity"].partition("-")
    got = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if got != expected:
        raise SystemExit(f"build_page: {tarball}: integrity {algo}-{got} is not the pinned one")
    with tarfile.open(tarball) as tar:
        code = tar.extractfile(entry["file"]).read().decode("utf8")
    bad = [s for s in FORBIDDEN if s in code]
    if bad:
        raise SystemExit(f"build_page: {entry['file']} contains {bad}; cannot inline it")
    return code


def render(skeleton, manifest, codes):
    """page.html text: `skeleton` with each VENDOR marker replaced by its inlined code."""
    page = skeleton
    for entry in manifest:
        marker = _marker(entry["name"])
        if page.count(marker) != 1:
            raise SystemExit(f"build_page: {SKELETON.name} must hold '{marker}' exactly once")
        page = page.replace(marker, _block(entry, codes[entry["name"]]))
    return page


def check(page_text, skeleton, manifest):
    """Problems (a list of strings; empty when fine) of `page_text` against the pins."""
    problems = []
    codes = {}
    for entry in manifest:
        header = re.escape(f"<script>/* {entry['name']}@{entry['version']} (")
        match = re.search(header + r"[^\n]*\*/\n(.*?)\n</script>", page_text, re.S)
        if not match:
            problems.append(f"{entry['name']}@{entry['version']}: no inlined block")
            continue
        codes[entry["name"]] = match.group(1)
        if _sha256(match.group(1)) != entry["sha256"]:
            problems.append(f"{entry['name']}: inlined code differs from the pinned sha256")
    if not problems and render(skeleton, manifest, codes) != page_text:
        problems.append("page.html is out of date with page.in.html (rerun build_page.py)")
    return problems


def _npm_pack(manifest, folder):
    specs = [f"{e['name']}@{e['version']}" for e in manifest]
    subprocess.run(["npm", "pack", "--silent", *specs], cwd=folder, check=True,
                   stdout=subprocess.DEVNULL)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path,
                        help="folder holding the npm tarballs (default: npm pack them)")
    parser.add_argument("--check", action="store_true",
                        help="verify page.html offline instead of rebuilding it")
    args = parser.parse_args(argv)
    manifest = json.loads(MANIFEST.read_text(encoding="utf8"))
    skeleton = SKELETON.read_text(encoding="utf8")
    if args.check:
        problems = check(PAGE.read_text(encoding="utf8"), skeleton, manifest)
        for problem in problems:
            print(f"build_page: {problem}", file=sys.stderr)
        return 1 if problems else 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.source or Path(tmp)
        if args.source is None:
            _npm_pack(manifest, folder)
        codes = {}
        for entry in manifest:
            tarball = Path(folder) / f"{entry['name']}-{entry['version']}.tgz"
            if not tarball.is_file():
                raise SystemExit(f"build_page: {tarball}: no such file")
            code = _read_build(tarball, entry)
            if entry["sha256"] and _sha256(code) != entry["sha256"]:
                raise SystemExit(f"build_page: {entry['name']}: build differs from pinned sha256")
            entry["sha256"] = _sha256(code)
            codes[entry["name"]] = code
    page = render(skeleton, manifest, codes)
    # Written whole, then renamed, so an interrupted build never leaves half a template.
    tmp_page = PAGE.with_suffix(".html.tmp")
    tmp_page.write_text(page, encoding="utf8")
    tmp_page.replace(PAGE)
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf8")
    print(f"build_page: wrote {PAGE} ({len(page) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
