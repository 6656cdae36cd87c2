"""DVC stage: download the Oxford 102 Flowers files into ``flowers.raw_dir``.

Reads the ``flowers:`` section of params.yaml (``base_url``, ``files``, ``raw_dir``). Files
already present with the right md5 are kept, so the archive can be copied in by hand.
Run from the repository root: ``python stages/download_flowers.py [--params params.yaml]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# DVC runs this file as a script; make the package importable without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbae.download import DownloadError, fetch_all, verify_file  # noqa: E402
from nbae.images import load_flowers_params  # noqa: E402
from nbae.params import ParamsError  # noqa: E402


def main(argv=None) -> int:
    """Fetch every file in ``flowers.files``: 0 on success; one error line and 2 for bad params,
    1 for a failed download."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="params file (params.yaml)")
    args = parser.parse_args(argv)
    try:
        cfg = load_flowers_params(args.params)
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        raw_dir = Path(cfg["raw_dir"])
        for name, spec in cfg["files"].items():
            spec = spec or {}
            problem = verify_file(raw_dir / name, spec.get("md5"), spec.get("size"))
            if problem is None:
                print(f"{raw_dir / name}: present, checksum ok")
            elif problem != "missing":
                print(f"{raw_dir / name}: {problem}; downloading it again")
        fetch_all(
            cfg["base_url"], cfg["files"], raw_dir,
            hint="set flowers.base_url to a mirror",
        )
    except (DownloadError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{raw_dir}/: {len(cfg['files'])} files verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
