"""Verified downloads: stream a URL to a temporary file, check it, then rename it into place.

A file already at the destination with the right checksum is kept (users may copy the files in
by hand, e.g. on a machine without network), a wrong one is downloaded again, and a failed
download never leaves a partial file behind. Every failure raises :class:`DownloadError` with a
one-line message saying what went wrong and how to provide the file manually.
"""

from __future__ import annotations

import hashlib
import http.client
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from nbae import __version__
from nbae.fileio import atomic_path

CHUNK = 1 << 16


class DownloadError(OSError):
    """A file could not be downloaded or did not verify; the message is one line."""


def md5sum(path, chunk: int = 1 << 20) -> str:
    """Hex MD5 digest of a file, read in chunks."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_file(path, md5: str | None = None, size: int | None = None) -> str | None:
    """None when ``path`` is a file matching ``size`` and ``md5`` (those given), else why not."""
    path = Path(path)
    if not path.is_file():
        return "missing"
    actual = path.stat().st_size
    if size is not None and actual != int(size):
        return f"size {actual} bytes, expected {int(size)}"
    if md5 is not None:
        digest = md5sum(path)
        if digest != md5.lower():
            return f"md5 {digest}, expected {md5.lower()}"
    return None


class _Progress:
    """A single self-overwriting stderr line, drawn only on a terminal and at most 10 times/s."""

    def __init__(self, label: str, total: int | None, enabled: bool):
        self.label, self.total = label, total
        self.enabled = enabled and sys.stderr.isatty()
        self.last = 0.0

    def update(self, done: int, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self.last < 0.1:
            return
        self.last = now
        mib = done / 2**20
        if self.total:
            text = f"{mib:8.1f} / {self.total / 2**20:.1f} MiB {100 * done / self.total:5.1f}%"
        else:
            text = f"{mib:8.1f} MiB"
        sys.stderr.write(f"\r{self.label}: {text}")
        if final:
            self.close()
        sys.stderr.flush()

    def close(self) -> None:
        """End the progress line (once), so that later messages start on a fresh line."""
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.enabled = False


def _manual_hint(dest: Path, md5: str | None, hint: str | None) -> str:
    """The "how to provide the file yourself" half of an error message."""
    what = f"{dest.name} (md5 {md5})" if md5 else dest.name
    text = f"place {what} in {dest.parent}/"
    return f"{text} or {hint}" if hint else f"{text} by hand"


def fetch(
    url: str,
    dest,
    md5: str | None = None,
    size: int | None = None,
    progress: bool = True,
    timeout: float = 60,
    hint: str | None = None,
) -> Path:
    """Download ``url`` to ``dest`` unless ``dest`` already matches ``md5``/``size``.

    The body is streamed in chunks to a temporary file in ``dest``'s folder and renamed onto
    ``dest`` only after the byte count (Content-Length and ``size``) and the MD5 verify. A
    progress line is drawn on stderr when ``progress`` and stderr is a terminal. ``timeout``
    (seconds) applies to connecting and to each read. ``hint`` is appended to error messages
    as an alternative to placing the file by hand (e.g. "set flowers.base_url to a mirror").

    Raises :class:`DownloadError` (one line) on connection failures, HTTP errors, truncated
    transfers and checksum mismatches; no partial file is left behind.
    """
    dest = Path(dest)
    md5 = md5.lower() if md5 else None
    size = None if size is None else int(size)
    if dest.is_file() and verify_file(dest, md5, size) is None:
        return dest

    def fail(what: str) -> DownloadError:
        return DownloadError(f"cannot download {url}: {what}; {_manual_hint(dest, md5, hint)}")

    request = urllib.request.Request(url, headers={"User-Agent": f"nbae/{__version__}"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise fail(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise fail(f"cannot connect ({_reason(exc.reason)})") from None
    except TimeoutError:
        raise fail(f"no answer within {timeout:g} s") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise fail(f"cannot connect ({_reason(exc)})") from None

    with response:
        length = response.headers.get("Content-Length")
        expected = int(length) if length is not None and length.strip().isdigit() else None
        bar = _Progress(dest.name, expected if expected is not None else size, progress)
        try:
            with atomic_path(dest, suffix=".part") as tmp:
                received, digest = _stream(response, tmp, bar, fail, expected, timeout)
                if expected is not None and received != expected:
                    raise fail(_truncated(received, expected))
                if size is not None and received != size:
                    raise fail(f"got {received} bytes, expected {size} (truncated or wrong file)")
                if md5 is not None and digest != md5:
                    raise fail(f"checksum mismatch (md5 {digest}, expected {md5})")
        except DownloadError:
            bar.close()
            raise
    return dest


def _stream(response, path: Path, bar: _Progress, fail, expected, timeout) -> tuple[int, str]:
    """Copy the response body to ``path`` in chunks; return (bytes received, hex md5)."""
    digest = hashlib.md5()
    received = 0
    with open(path, "wb") as out:
        try:
            while block := response.read(CHUNK):
                out.write(block)
                digest.update(block)
                received += len(block)
                bar.update(received)
        except TimeoutError:
            raise fail(f"transfer stalled for {timeout:g} s after {received} bytes") from None
        except http.client.IncompleteRead as exc:
            raise fail(_truncated(received + len(exc.partial), expected)) from None
        except (OSError, http.client.HTTPException) as exc:
            raise fail(f"connection lost after {received} bytes ({_reason(exc)})") from None
    bar.update(received, final=True)
    return received, digest.hexdigest()


def _truncated(received: int, expected: int | None) -> str:
    if expected is None:
        return f"transfer truncated after {received} bytes"
    return f"transfer truncated: got {received} of {expected} bytes"


def _reason(reason) -> str:
    """Short text for an exception or URLError reason (strerror without the errno prefix)."""
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    text = str(reason) or type(reason).__name__
    return " ".join(text.split())  # keep the message on one line


def fetch_all(
    base_url: str,
    files: dict,
    raw_dir,
    progress: bool = True,
    timeout: float = 60,
    hint: str | None = None,
) -> dict[str, Path]:
    """Fetch every ``{name: {"md5": ..., "size": ...}}`` from ``base_url`` into ``raw_dir``.

    Files are fetched in the order given; the first failure raises :class:`DownloadError`.
    Returns ``{name: path}``. Unknown keys in a file's entry raise ValueError.
    """
    raw_dir = Path(raw_dir)
    base = base_url if base_url.endswith("/") else base_url + "/"
    paths = {}
    for name, spec in files.items():
        spec = dict(spec or {})
        unknown = set(spec) - {"md5", "size"}
        if unknown:
            raise ValueError(f"files.{name}: unknown key(s) {sorted(unknown)} (allowed: md5, size)")
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"files: {name!r} is not a plain file name")
        url = urllib.parse.urljoin(base, urllib.parse.quote(name))
        paths[name] = fetch(
            url, raw_dir / name, md5=spec.get("md5"), size=spec.get("size"),
            progress=progress, timeout=timeout, hint=hint,
        )
    return paths


__all__ = ["DownloadError", "fetch", "fetch_all", "md5sum", "verify_file"]
