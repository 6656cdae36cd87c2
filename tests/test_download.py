"""nbae.data.download against a real HTTP server on 127.0.0.1 (no outside network needed)."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import socket
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from nbae.data.download import DownloadError, fetch, fetch_all, md5sum, verify_file

ROOT = Path(__file__).resolve().parents[1]


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _mat_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    scipy.io.savemat(buf, arrays)
    return buf.getvalue()


def _build_files() -> dict[str, bytes]:
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


class _Server:
    """Serves ``files`` by name; ``behaviour[name]`` can force an error status, a truncated
    body (Content-Length larger than what is sent, then the connection closes) or a stall."""

    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.behaviour: dict[str, object] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_GET(self):
                name = self.path.lstrip("/").split("/")[-1]
                server.requests.append(self.path)
                what = server.behaviour.get(name)
                body = server.files.get(name)
                if isinstance(what, int):
                    self.send_error(what)
                    return
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                extra = 1000 if what == "truncate" else 0
                self.send_header("Content-Length", str(len(body) + extra))
                self.end_headers()
                if what == "stall":
                    self.wfile.write(body[:10])
                    self.wfile.flush()
                    time.sleep(1.0)
                    return
                self.wfile.write(body)
                if what == "truncate":
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/flowers/"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def files():
    return _build_files()


@pytest.fixture
def server(files):
    s = _Server(files)
    yield s
    s.close()


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_fetch_success_and_verifies(server, files, tmp_path, capsys):
    data = files["102flowers.tgz"]
    dest = tmp_path / "raw" / "102flowers.tgz"
    out = fetch(server.url + "102flowers.tgz", dest, md5=_md5(data), size=len(data))
    assert out == dest
    assert dest.read_bytes() == data
    assert md5sum(dest) == _md5(data)
    assert verify_file(dest, _md5(data), len(data)) is None
    assert _listing(dest.parent) == ["102flowers.tgz"]
    assert server.requests == ["/flowers/102flowers.tgz"]
    # stderr is not a terminal under pytest: no progress output at all
    assert capsys.readouterr().err == ""


def test_fetch_without_checksum(server, files, tmp_path):
    dest = tmp_path / "setid.mat"
    fetch(server.url + "setid.mat", dest, progress=False)
    assert dest.read_bytes() == files["setid.mat"]


def test_progress_line_on_a_terminal(server, files, tmp_path, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    fake = Tty()
    monkeypatch.setattr("sys.stderr", fake)
    fetch(server.url + "102flowers.tgz", tmp_path / "102flowers.tgz")
    text = fake.getvalue()
    assert text.startswith("\r102flowers.tgz:") and text.endswith("%\n")


def test_present_file_is_not_requested(server, files, tmp_path):
    data = files["imagelabels.mat"]
    dest = tmp_path / "imagelabels.mat"
    dest.write_bytes(data)
    before = dest.stat().st_mtime_ns
    fetch(server.url + "imagelabels.mat", dest, md5=_md5(data), size=len(data))
    assert server.requests == []
    assert dest.stat().st_mtime_ns == before


def test_wrong_present_file_is_downloaded_again(server, files, tmp_path):
    data = files["imagelabels.mat"]
    dest = tmp_path / "imagelabels.mat"
    dest.write_bytes(b"not the labels")
    assert verify_file(dest, _md5(data)).startswith("md5 ")
    fetch(server.url + "imagelabels.mat", dest, md5=_md5(data))
    assert dest.read_bytes() == data
    assert len(server.requests) == 1
    assert _listing(tmp_path) == ["imagelabels.mat"]


def _assert_one_line(exc: DownloadError, *parts: str) -> None:
    text = str(exc)
    assert "\n" not in text
    assert "place 102flowers.tgz (md5 " in text
    for part in parts:
        assert part in text, text


def test_checksum_mismatch(server, files, tmp_path):
    raw = tmp_path / "raw"
    with pytest.raises(DownloadError) as err:
        fetch(server.url + "102flowers.tgz", raw / "102flowers.tgz", md5="0" * 32)
    _assert_one_line(err.value, "checksum mismatch", "0" * 32)
    assert _listing(raw) == []


def test_size_mismatch(server, files, tmp_path):
    data = files["102flowers.tgz"]
    with pytest.raises(DownloadError) as err:
        fetch(server.url + "102flowers.tgz", tmp_path / "102flowers.tgz", md5=_md5(data),
              size=len(data) + 5)
    _assert_one_line(err.value, f"got {len(data)} bytes, expected {len(data) + 5}")
    assert _listing(tmp_path) == []


def test_truncated_transfer(server, files, tmp_path):
    data = files["102flowers.tgz"]
    server.behaviour["102flowers.tgz"] = "truncate"
    with pytest.raises(DownloadError) as err:
        fetch(server.url + "102flowers.tgz", tmp_path / "102flowers.tgz", md5=_md5(data))
    _assert_one_line(err.value, "truncated", f"{len(data) + 1000} bytes")
    assert _listing(tmp_path) == []


def test_stalled_transfer_times_out(server, files, tmp_path):
    server.behaviour["102flowers.tgz"] = "stall"
    with pytest.raises(DownloadError) as err:
        fetch(server.url + "102flowers.tgz", tmp_path / "102flowers.tgz", md5="0" * 32,
              timeout=0.3)
    _assert_one_line(err.value, "stalled")
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("status", [404, 500])
def test_http_error(server, tmp_path, status):
    server.behaviour["102flowers.tgz"] = status
    with pytest.raises(DownloadError) as err:
        fetch(server.url + "102flowers.tgz", tmp_path / "102flowers.tgz", md5="1" * 32,
              hint="set flowers.base_url to a mirror")
    _assert_one_line(err.value, f"HTTP {status}", "or set flowers.base_url to a mirror")
    assert _listing(tmp_path) == []


def test_failed_redownload_keeps_nothing_partial(server, files, tmp_path):
    # A wrong file put there by hand stays untouched when the new download fails.
    dest = tmp_path / "102flowers.tgz"
    dest.write_bytes(b"old")
    server.behaviour["102flowers.tgz"] = "truncate"
    with pytest.raises(DownloadError):
        fetch(server.url + "102flowers.tgz", dest, md5=_md5(files["102flowers.tgz"]))
    assert _listing(tmp_path) == ["102flowers.tgz"]
    assert dest.read_bytes() == b"old"


def test_connection_refused(tmp_path):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError) as err:
        fetch(f"http://127.0.0.1:{port}/102flowers.tgz", tmp_path / "102flowers.tgz",
              md5="2" * 32, timeout=5)
    _assert_one_line(err.value, "cannot connect", f"{tmp_path}/")
    assert _listing(tmp_path) == []


def test_fetch_all(server, files, tmp_path):
    spec = {name: {"md5": _md5(b), "size": len(b)} for name, b in files.items()}
    paths = fetch_all(server.url.rstrip("/"), spec, tmp_path / "raw", progress=False)
    assert sorted(paths) == sorted(files)
    for name, data in files.items():
        assert (tmp_path / "raw" / name).read_bytes() == data
    # second run: everything present, no request
    n = len(server.requests)
    fetch_all(server.url, spec, tmp_path / "raw")
    assert len(server.requests) == n
    with pytest.raises(ValueError, match="unknown key"):
        fetch_all(server.url, {"setid.mat": {"sha1": "x"}}, tmp_path / "raw")


def _stage(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _params(path: Path, base_url: str, files: dict[str, bytes]) -> None:
    lines = ["flowers:", f"  base_url: {base_url}", "  raw_dir: data/flowers/raw", "  files:"]
    for name, data in files.items():
        lines += [f"    {name}:", f"      md5: {_md5(data)}", f"      size: {len(data)}"]
    path.write_text("\n".join(lines) + "\n")


def test_download_stage(server, files, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _params(tmp_path / "params.yaml", server.url, files)
    stage = _stage("download_flowers")
    assert stage.main([]) == 0
    raw = tmp_path / "data/flowers/raw"
    assert _listing(raw) == sorted(files)
    assert stage.main([]) == 0  # all present now
    assert len(server.requests) == len(files)
    assert "present, checksum ok" in capsys.readouterr().out


def test_download_stage_error_is_one_line(server, files, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    server.behaviour["102flowers.tgz"] = 404
    _params(tmp_path / "params.yaml", server.url, files)
    assert _stage("download_flowers").main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: cannot download ")
    assert "place 102flowers.tgz (md5" in err and "set flowers.base_url to a mirror" in err
    assert not (tmp_path / "data/flowers/raw/102flowers.tgz").exists()


def test_download_stage_bad_params(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("flowers:\n  base_ulr: http://x/\n")
    assert _stage("download_flowers").main([]) == 2  # a usage error, like the other stages
    err = capsys.readouterr().err
    assert err.startswith("error: flowers: unknown key(s) ['base_ulr']")
