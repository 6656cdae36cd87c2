"""nbae.data.download against hostile servers, signals, and the real Oxford-102 subset.

Every failure must be one line naming the URL, must come within the bound the caller set
(size cap, per-read timeout, overall deadline) and must leave the raw folder as it was.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from http_fixtures import Server, wait_for
from test_download import assert_one_line, build_files, get, listing, spec_of

from nbae.data.download import DownloadError, fetch_all, verify_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def files():
    return build_files()


@pytest.fixture
def server(files):
    s = Server(files)
    yield s
    s.close()


def _fails(server, files, tmp_path, behaviour, *parts, **kw):
    """Serve 102flowers.tgz with ``behaviour``; the fetch must fail with ``parts`` in one line,
    leave nothing in the folder, and return the seconds it took."""
    server.behaviour["102flowers.tgz"] = behaviour
    t0 = time.monotonic()
    with pytest.raises(DownloadError) as err:
        get(server, files, tmp_path / "raw" / "102flowers.tgz", **kw)
    seconds = time.monotonic() - t0
    assert_one_line(err.value, server.url + "102flowers.tgz", *parts)
    assert listing(tmp_path / "raw") == []
    return seconds


def test_endless_stream_stops_at_the_expected_size(server, files, tmp_path):
    size = len(files["102flowers.tgz"])
    _fails(server, files, tmp_path, "endless", f"more than the expected {size} bytes")


def test_overlong_body_without_length(server, files, tmp_path):
    _fails(server, files, tmp_path, "overlong", "more than the expected")


def test_announced_length_differs(server, files, tmp_path):
    size = len(files["102flowers.tgz"])
    _fails(server, files, tmp_path, "lie_length", f"announces {size + 1} bytes, expected {size}")


def test_trickle_fails_at_the_deadline(server, files, tmp_path):
    # one byte each 0.05 s: every read succeeds long before the 2 s read timeout
    seconds = _fails(server, files, tmp_path, "trickle", "deadline of 0.6 s", "bytes received",
                     timeout=2, deadline=0.6)
    assert 0.6 <= seconds < 1.5


def test_trickled_headers_fail_at_the_deadline(server, files, tmp_path):
    seconds = _fails(server, files, tmp_path, "slow_headers", "deadline of 0.6 s",
                     timeout=2, deadline=0.6)
    assert 0.6 <= seconds < 1.5


def test_deadline_covers_the_retries(server, files, tmp_path):
    # 10 retries of a stall of 0.3 s each, pooch waiting 1 s, 2 s... between: the deadline wins
    seconds = _fails(server, files, tmp_path, "stall", "deadline of 1.2 s", timeout=0.3,
                     deadline=1.2, retries=10)
    assert seconds < 2.5


def test_stall_times_out_with_the_right_byte_count(server, files, tmp_path):
    _fails(server, files, tmp_path, "stall", "transfer stalled for 0.3 s after 10 bytes",
           timeout=0.3)


def test_truncated_transfer(server, files, tmp_path):
    size = len(files["102flowers.tgz"])
    _fails(server, files, tmp_path, "short", f"transfer truncated: got {size // 2} of {size} bytes")
    _fails(server, files, tmp_path, "truncate", f"announces {size + 1000} bytes")


def test_connection_reset(server, files, tmp_path):
    # the RST may land before or after the client read the first half
    seconds = _fails(server, files, tmp_path, "reset", "connection lost after ",
                     "(Connection reset by peer)")
    assert seconds < 5


def test_wrong_bytes_fail_the_checksum(server, files, tmp_path):
    _fails(server, files, tmp_path, "wrong", "checksum mismatch (md5 ",
           f"expected {hashlib.md5(files['102flowers.tgz']).hexdigest()}")


def test_content_encoding_is_not_undone(server, files, tmp_path):
    # servers label .tgz files "Content-Encoding: gzip"; the file is the bytes as sent
    server.behaviour["102flowers.tgz"] = "gzip"
    dest = tmp_path / "102flowers.tgz"
    get(server, files, dest)
    assert dest.read_bytes() == files["102flowers.tgz"]


def test_connection_refused(tmp_path, files):
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = files["102flowers.tgz"]
    with pytest.raises(DownloadError) as err:
        from nbae.data.download import fetch

        fetch(f"http://127.0.0.1:{port}/102flowers.tgz", tmp_path / "102flowers.tgz",
              hashlib.md5(data).hexdigest(), len(data), timeout=5, retries=0)
    assert_one_line(err.value, "cannot connect (Connection refused)", f"{tmp_path}/")
    assert listing(tmp_path) == []


_CHILD = textwrap.dedent("""
    import json, sys
    from nbae.data.download import run_downloads
    url, spec, raw = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    sys.exit(run_downloads(url, spec, raw, timeout=5, deadline=60, retries=0))
""")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_leaves_no_partial_file_and_one_line(server, files, tmp_path, signum):
    import json

    server.behaviour["102flowers.tgz"] = "trickle"
    raw = tmp_path / "raw"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, server.url, json.dumps(spec_of(files)), str(raw)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        # pooch's temporary file appears once the transfer is running
        assert wait_for(lambda: listing(raw) != [], timeout=20), "the download never started"
        time.sleep(0.2)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum
    name = signal.Signals(signum).name
    assert err.count("\n") == 1, err
    assert err.startswith(f"error: interrupted ({name}) while downloading {server.url}"), err
    assert "no partial file kept" in err and "Traceback" not in err
    assert listing(raw) == []


_FULL_DISK = textwrap.dedent("""
    import json, resource, signal, sys
    from nbae.data.download import run_downloads
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (300, 300))
    url, spec, raw = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    sys.exit(run_downloads(url, spec, raw, retries=0))
""")


def test_write_failure_names_the_users_path(server, files, tmp_path):
    import json

    raw = tmp_path / "raw"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, server.url, json.dumps(spec_of(files)), str(raw)],
        capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert f"cannot write {raw / '102flowers.tgz'} (File too large)" in proc.stderr
    assert listing(raw) == []


SUBSET = os.environ.get("NBAE_FLOWERS_SUBSET")
SUBSET_FILES = ("102flowers.tgz", "imagelabels.mat", "setid.mat")


@pytest.mark.skipif(not SUBSET or not all((Path(SUBSET) / n).is_file() for n in SUBSET_FILES),
                    reason="set NBAE_FLOWERS_SUBSET to a folder with the Oxford-102 files")
def test_real_subset_from_a_local_server(tmp_path):
    real = {name: (Path(SUBSET) / name).read_bytes() for name in SUBSET_FILES}
    spec = spec_of(real)  # the subset's own sizes and checksums
    s = Server(real)
    try:
        paths = fetch_all(s.url, spec, tmp_path / "raw", retries=0)
    finally:
        s.close()
    for name, entry in spec.items():
        assert verify_file(paths[name], entry["md5"], entry["size"]) is None
    assert listing(tmp_path / "raw") == sorted(SUBSET_FILES)
