"""nbae.data.download against a real HTTP server on 127.0.0.1 (no outside network needed).

Hostile servers, signals and the real-subset download are in test_download_hostile.py.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from http_fixtures import Server
from PIL import Image

from nbae.data.download import (
    DownloadError,
    DownloadSpecError,
    check_files,
    fetch,
    fetch_all,
    md5sum,
    run_downloads,
    verify_file,
)

ROOT = Path(__file__).resolve().parents[1]


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _mat_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    scipy.io.savemat(buf, arrays)
    return buf.getvalue()


def build_files() -> dict[str, bytes]:
    """A tiny stand-in for the official files: 4 JPEGs in a .tgz plus the two .mat files."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i in range(1, 5):
            img = Image.new("RGB", (40 + 4 * i, 30), (60 * i, 255 - 50 * i, 17 * i))
            jpg = io.BytesIO()
            img.save(jpg, format="JPEG", quality=90)
            info = tarfile.TarInfo(f"jpg/image_{i:05d}.jpg")
            info.size = len(jpg.getvalue())
            tar.addfile(info, io.BytesIO(jpg.getvalue()))
    return {
        "102flowers.tgz": buf.getvalue(),
        "imagelabels.mat": _mat_bytes(labels=np.array([[1, 1, 2, 2]], dtype=np.uint8)),
        "setid.mat": _mat_bytes(
            trnid=np.array([[1]], np.uint16), valid=np.array([[2]], np.uint16),
            tstid=np.array([[3, 4]], np.uint16),
        ),
    }


def spec_of(files: dict[str, bytes]) -> dict:
    return {name: {"md5": _md5(b), "size": len(b)} for name, b in files.items()}


@pytest.fixture(scope="module")
def files():
    return build_files()


@pytest.fixture
def server(files):
    s = Server(files)
    yield s
    s.close()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def get(server, files, dest, name="102flowers.tgz", **kw):
    data = files[name]
    kw.setdefault("retries", 0)
    return fetch(server.url + name, dest, _md5(data), len(data), **kw)


def assert_one_line(exc, *parts: str) -> None:
    text = str(exc)
    assert "\n" not in text and len(text) < 400, text
    assert "copy the file to " in text and "/ by hand (102flowers.tgz, md5 " in text, text
    for part in parts:
        assert part in text, text


def test_fetch_success_and_verifies(server, files, tmp_path, capsys):
    data = files["102flowers.tgz"]
    dest = tmp_path / "raw" / "102flowers.tgz"
    assert get(server, files, dest) == dest
    assert dest.read_bytes() == data
    assert md5sum(dest) == _md5(data)
    assert verify_file(dest, _md5(data), len(data)) is None
    assert listing(dest.parent) == ["102flowers.tgz"]
    assert server.requests == ["/flowers/102flowers.tgz"]
    # stderr is not a terminal under pytest: no progress output, and pooch's log is silenced
    assert capsys.readouterr().err == ""


def test_progress_bar_on_a_terminal(server, files, tmp_path, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    fake = Tty()
    monkeypatch.setattr("sys.stderr", fake)
    get(server, files, tmp_path / "102flowers.tgz")
    text = fake.getvalue()
    assert "102flowers.tgz:" in text and "100%" in text, text


def test_present_file_is_not_requested(server, files, tmp_path):
    data = files["imagelabels.mat"]
    dest = tmp_path / "imagelabels.mat"
    dest.write_bytes(data)
    before = dest.stat().st_mtime_ns
    get(server, files, dest, "imagelabels.mat")
    assert server.requests == []
    assert dest.stat().st_mtime_ns == before


def test_wrong_present_file_is_downloaded_again(server, files, tmp_path):
    data = files["imagelabels.mat"]
    dest = tmp_path / "imagelabels.mat"
    dest.write_bytes(b"x" * len(data))  # right size, wrong bytes
    assert verify_file(dest, _md5(data)).startswith("md5 ")
    get(server, files, dest, "imagelabels.mat")
    assert dest.read_bytes() == data
    assert len(server.requests) == 1
    assert listing(tmp_path) == ["imagelabels.mat"]


@pytest.mark.parametrize("status", [404, 403, 500])
def test_http_error(server, tmp_path, files, status):
    server.behaviour["102flowers.tgz"] = status
    with pytest.raises(DownloadError) as err:
        get(server, files, tmp_path / "102flowers.tgz", hint="set flowers.base_url to a mirror")
    assert_one_line(err.value, f"HTTP {status}", "or set flowers.base_url to a mirror",
                    server.url + "102flowers.tgz")
    assert listing(tmp_path) == []


def test_http_404_is_not_retried_but_503_is(server, files, tmp_path):
    server.behaviour["102flowers.tgz"] = 404
    with pytest.raises(DownloadError):
        get(server, files, tmp_path / "102flowers.tgz", retries=1)
    assert len(server.requests) == 1
    server.behaviour["102flowers.tgz"] = "flaky"  # 503 once, then the file (pooch waits 1 s)
    get(server, files, tmp_path / "102flowers.tgz", retries=1)
    assert len(server.requests) == 3
    assert (tmp_path / "102flowers.tgz").read_bytes() == files["102flowers.tgz"]


def test_failed_redownload_keeps_the_old_file(server, files, tmp_path):
    # A wrong file put there by hand stays untouched when the new download fails.
    dest = tmp_path / "102flowers.tgz"
    dest.write_bytes(b"old")
    server.behaviour["102flowers.tgz"] = "truncate"
    with pytest.raises(DownloadError):
        get(server, files, dest)
    assert listing(tmp_path) == ["102flowers.tgz"]
    assert dest.read_bytes() == b"old"


def test_destination_is_a_folder(server, files, tmp_path):
    (tmp_path / "102flowers.tgz").mkdir()
    with pytest.raises(DownloadError, match="is a folder"):
        get(server, files, tmp_path / "102flowers.tgz")


def test_read_only_folder_names_the_users_path(server, files, tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    raw = tmp_path / "raw"
    raw.mkdir()
    raw.chmod(0o555)
    try:
        with pytest.raises(DownloadError) as err:
            get(server, files, raw / "102flowers.tgz")
    finally:
        raw.chmod(0o755)
    assert_one_line(err.value, f"cannot write {raw / '102flowers.tgz'}")
    assert listing(raw) == []


def test_unwritable_folder_names_the_users_path(server, files, tmp_path):
    (tmp_path / "raw").write_text("a file where the folder should be")
    with pytest.raises(DownloadError) as err:
        get(server, files, tmp_path / "raw" / "102flowers.tgz")
    assert_one_line(err.value, f"cannot write {tmp_path / 'raw' / '102flowers.tgz'}")
    assert listing(tmp_path) == ["raw"]


def test_fetch_all_and_mirror(server, files, tmp_path):
    spec = spec_of(files)
    seen = []
    paths = fetch_all(server.url.rstrip("/"), spec, tmp_path / "raw", progress=False,
                      report=seen.append)
    assert sorted(paths) == sorted(files) and seen == []
    for name, data in files.items():
        assert (tmp_path / "raw" / name).read_bytes() == data
    n = len(server.requests)
    fetch_all(server.url, spec, tmp_path / "raw", report=seen.append)  # all present
    assert len(server.requests) == n
    assert seen == [f"{tmp_path / 'raw' / name}: present, checksum ok" for name in spec]


BAD_ENTRIES = [
    ({"md5": "0" * 31, "size": 3}, "files.a.md5: expected 32 hexadecimal digits"),
    ({"md5": "g" * 32, "size": 3}, "files.a.md5"),
    ({"md5": 12345, "size": 3}, "files.a.md5"),
    ({"md5": "0" * 32, "size": "3"}, "files.a.size: expected a positive integer"),
    ({"md5": "0" * 32, "size": 3.0}, "files.a.size"),
    ({"md5": "0" * 32, "size": 0}, "files.a.size"),
    ({"md5": "0" * 32, "size": True}, "files.a.size"),
    ({"md5": "0" * 32}, "files.a.size"),
    ({"size": 3}, "files.a.md5"),
    ({"md5": "0" * 32, "size": 3, "sha1": "x"}, "files.a: unknown key(s) ['sha1']"),
    (None, "files.a: expected a mapping"),
    ([1, 2], "files.a: expected a mapping"),
]


@pytest.mark.parametrize("entry,message", BAD_ENTRIES)
def test_bad_entries_fail_before_any_fetch(server, files, tmp_path, entry, message):
    spec = spec_of(files)
    spec["a"] = entry  # last in order: the good files before it must not be fetched
    with pytest.raises(DownloadSpecError) as err:
        fetch_all(server.url, spec, tmp_path / "raw")
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert server.requests == [] and not (tmp_path / "raw").exists()


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\\b", 3])
def test_bad_file_names(name):
    with pytest.raises(DownloadSpecError, match="is not a plain file name"):
        check_files({name: {"md5": "0" * 32, "size": 1}})


@pytest.mark.parametrize("url", ["ftp://host/x/", "host/x", "http://", "http://[::1/",
                                 "http://h:port/", "http://a b/", 42, None])
def test_bad_base_url_is_a_usage_error(tmp_path, files, url):
    with pytest.raises(DownloadSpecError, match="^base_url: .* is not an http"):
        fetch_all(url, spec_of(files), tmp_path)


@pytest.mark.parametrize("kw", [{"timeout": 0}, {"deadline": -1}, {"deadline": float("nan")},
                                {"retries": -1}, {"retries": 1.5}, {"timeout": "5"}])
def test_bad_options_are_usage_errors(tmp_path, files, kw):
    with pytest.raises(DownloadSpecError):
        fetch_all("http://127.0.0.1/", spec_of(files), tmp_path, **kw)


def test_run_downloads_exit_codes(server, files, tmp_path, capsys):
    raw = tmp_path / "raw"
    assert run_downloads(server.url, spec_of(files), raw, retries=0) == 0
    assert capsys.readouterr().out.strip() == f"{raw}/: 3 files verified"
    bad = {**spec_of(files), "setid.mat": {"md5": "0" * 32, "size": 1.5}}
    assert run_downloads(server.url, bad, raw, label="params flowers.files") == 2
    err = capsys.readouterr().err
    assert err == ("error: params flowers.files.setid.mat.size: expected a positive integer "
                   "number of bytes, got 1.5\n")
    (raw / "setid.mat").unlink()
    server.behaviour["setid.mat"] = 404
    assert run_downloads(server.url, spec_of(files), raw, retries=0) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "HTTP 404" in captured.err
    assert captured.out.count("present, checksum ok") == 2
    server.behaviour["setid.mat"] = None
    (raw / "imagelabels.mat").write_bytes(b"damaged")
    assert run_downloads(server.url, spec_of(files), raw, retries=0) == 0
    out = capsys.readouterr().out
    size = len(files["imagelabels.mat"])
    assert f"{raw / 'imagelabels.mat'}: size 7 bytes, expected {size}; downloading it again" in out
    assert (raw / "imagelabels.mat").read_bytes() == files["imagelabels.mat"]
