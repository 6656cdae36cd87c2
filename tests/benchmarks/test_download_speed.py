"""Download throughput from a local server: nbae's guarded downloader vs pooch's own.

Run with ``pytest tests/benchmarks/test_download_speed.py --benchmark-only``. Both download the
same 64 MiB file from a ThreadingHTTPServer on 127.0.0.1 through pooch.retrieve with the same
md5; the ratio of the medians is the cost of the worker thread, the read1 loop, the size cap
and the deadline polling (pooch.HTTPDownloader has none of them: an endless body fills the
disk, a trickling server never times out).
"""

from __future__ import annotations

import hashlib
import time

import pooch
import pytest
from http_fixtures import Server

from nbae.data.download import _Transfer

SIZE = 64 << 20


@pytest.fixture(scope="module")
def served():
    data = bytes(range(256)) * (SIZE // 256)
    server = Server({"blob.bin": data})
    yield server.url + "blob.bin", hashlib.md5(data).hexdigest()
    server.close()


def _pooch_http(url, md5, folder):
    return pooch.HTTPDownloader(progressbar=False, chunk_size=1 << 20, timeout=30)


def _guarded(url, md5, folder):
    return _Transfer(SIZE, md5, 30.0, time.monotonic() + 600, 600.0, False, folder / "blob.bin")


@pytest.mark.parametrize("downloader", [_pooch_http, _guarded], ids=["pooch", "nbae"])
def test_download_64mib(benchmark, served, tmp_path, downloader):
    url, md5 = served
    benchmark.group = "download 64 MiB"
    counter = iter(range(10**6))

    def run():
        folder = tmp_path / str(next(counter))
        pooch.retrieve(url, f"md5:{md5}", fname="blob.bin", path=folder,
                       downloader=downloader(url, md5, folder))

    benchmark.pedantic(run, rounds=5, warmup_rounds=1)
