"""Verified downloads on pooch: known md5 and size, retries, a size cap and an overall deadline.

:func:`fetch_all` first checks every ``{name: {md5, size}}`` entry and the base URL (a mistake
is a :class:`DownloadSpecError`, a usage error, raised before any byte is fetched), keeps each
file already present with the right size and md5 (users may copy the files in by hand) and
downloads the others with :mod:`pooch` (known hashes, ``base_url`` as a user mirror, retries, a
temporary file beside the target renamed into place only once verified).

Pooch's own HTTP downloader stops neither an endless body nor a server trickling a byte a
second (``requests``' timeout bounds each socket read, and every read succeeds), so pooch gets
:class:`_Transfer` as its downloader: a worker thread reads the body with ``read1`` (one socket
read at a time, undecoded: the bytes hashed are the server's file whatever its
Content-Encoding), never past the expected size, while the calling thread draws the tqdm bar
and enforces the deadline. Ctrl-C and SIGTERM during :func:`fetch_all` raise
:class:`DownloadInterrupted` once pooch has removed its temporary file. Every failure is one
line naming the URL and how to provide the file by hand.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pooch
import requests
import urllib3
from tqdm import tqdm

from nbae import __version__
from nbae.errors import InputError

CHUNK = 1 << 20  # largest single read; read1 returns whatever one socket read brought
MIN_RATE = 50_000  # bytes/s: the default deadline allows this slow a line, plus DEADLINE_SLACK
DEADLINE_SLACK = 120.0
POLL = 0.1  # seconds between progress/deadline checks in the calling thread
_MD5 = re.compile(r"[0-9a-fA-F]{32}")


class DownloadError(OSError):
    """A file could not be downloaded or did not verify; the message is one line."""


class DownloadSpecError(InputError):
    """A bad file list or URL given to the downloader: a usage error (exit 2), one line."""


class DownloadInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a download; nothing partial was kept. ``signum`` says which."""

    def __init__(self, message: str, signum: int = signal.SIGINT):
        super().__init__(message)
        self.signum = signum


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


def default_deadline(size: int) -> float:
    """Seconds allowed for one file: DEADLINE_SLACK plus the time at MIN_RATE bytes/s."""
    return DEADLINE_SLACK + size / MIN_RATE


# ------------------------------------------------------------------------- validation


def check_entry(name, spec, label: str = "files") -> tuple[str, int]:
    """``(md5, size)`` of one ``{md5, size}`` entry, or DownloadSpecError naming the field."""
    where = f"{label}.{name}"
    if not isinstance(name, str) or name in ("", ".", "..") or any(c in name for c in "/\\\0"):
        raise DownloadSpecError(f"{label}: {name!r} is not a plain file name")
    if not isinstance(spec, dict):
        raise DownloadSpecError(f"{where}: expected a mapping {{md5: ..., size: ...}}, "
                                f"got {spec!r:.60}")
    unknown = sorted(map(str, set(spec) - {"md5", "size"}))
    if unknown:
        raise DownloadSpecError(f"{where}: unknown key(s) {unknown} (allowed: md5, size)")
    md5, size = spec.get("md5"), spec.get("size")
    if not isinstance(md5, str) or not _MD5.fullmatch(md5):
        raise DownloadSpecError(f"{where}.md5: expected 32 hexadecimal digits, got {md5!r:.60}")
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise DownloadSpecError(f"{where}.size: expected a positive integer number of bytes, "
                                f"got {size!r:.60}")
    return md5.lower(), size


def check_files(files, label: str = "files") -> dict[str, tuple[str, int]]:
    """Check every entry of ``{name: {md5, size}}``; return ``{name: (md5, size)}``."""
    if not isinstance(files, dict) or not files:
        raise DownloadSpecError(f"{label}: expected a mapping {{file name: {{md5, size}}}}")
    return {name: check_entry(name, spec, label) for name, spec in files.items()}


def check_url(url, label: str = "base_url") -> str:
    """``url`` if it is an http(s) URL with a host, else DownloadSpecError naming ``label``."""
    try:
        parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        ok = parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname)
        if ok:
            parts.port  # noqa: B018 -- raises ValueError on a port that is not a number
    except ValueError:
        ok = False
    if not ok or any(c.isspace() for c in url):
        raise DownloadSpecError(f"{label}: {url!r:.80} is not an http(s):// URL")
    return url


# ------------------------------------------------------------------------- transfer


class _Failure(Exception):
    """A failed attempt: ``reason`` is one line; pooch does not retry these (see _Retry)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _Retry(requests.exceptions.RequestException):
    """A transient failure (connection, stall, truncation, HTTP 5xx): pooch retries these."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _oneline(text) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= 200 else text[:197] + "..."


def _os_reason(exc) -> str:
    """The innermost ``[Errno n] text`` of a requests/urllib3 error, else its one-line text."""
    seen = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    match = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    return match.group(1).strip() if match else _oneline(exc) or type(exc).__name__


class _Transfer:
    """A pooch downloader: one HTTP GET per call, capped at ``size`` bytes, hashed on the fly.

    ``deadline_at`` (time.monotonic) bounds all attempts together; ``timeout`` bounds
    connecting and each socket read. ``received`` is the byte count of the last attempt.
    """

    def __init__(self, size: int, md5: str, timeout: float, deadline_at: float, deadline: float,
                 progress: bool, dest: Path):
        self.size, self.md5, self.timeout = size, md5, timeout
        self.deadline_at, self.deadline = deadline_at, deadline
        self.progress, self.dest = progress, Path(dest)
        self.received = 0
        self.attempts = 0

    def __call__(self, url, output_file, pooch, check_only=False):
        if check_only:
            raise NotImplementedError("availability checks are not supported")
        self.attempts += 1
        self.received = 0
        if time.monotonic() >= self.deadline_at:
            raise _Failure(self._late())
        state = {"error": None, "response": None, "abort": False, "digest": hashlib.md5()}
        lock = threading.Lock()
        out = open(output_file, "wb")  # noqa: SIM115 -- closed in the finally below
        worker = threading.Thread(target=self._work, args=(url, out, state, lock), daemon=True)
        bar = tqdm(total=self.size, desc=self.dest.name, unit="B", unit_scale=True,
                   unit_divisor=1024, disable=not (self.progress and sys.stderr.isatty()))
        try:
            worker.start()
            while worker.is_alive():
                worker.join(POLL)
                bar.update(self.received - bar.n)
                if time.monotonic() >= self.deadline_at and worker.is_alive():
                    raise _Failure(self._late())
        finally:
            with lock:  # the worker writes under this lock: nothing lands after the close
                state["abort"] = True
                out.close()
            _shutdown(state["response"])
            bar.close()
        if state["error"] is not None:
            raise state["error"]
        digest = state["digest"].hexdigest()
        if digest != self.md5:
            raise _Failure(f"checksum mismatch (md5 {digest}, expected {self.md5})")

    def _late(self) -> str:
        return (f"not finished within the deadline of {self.deadline:g} s ({self.received} of "
                f"{self.size} bytes received)")

    def _work(self, url, out, state, lock) -> None:
        """Runs in the worker thread; any failure goes to ``state["error"]``."""
        t = self.timeout
        try:
            with requests.get(url, stream=True, timeout=(t, t), allow_redirects=True,
                              headers={"User-Agent": f"nbae/{__version__}",
                                       "Accept-Encoding": "identity"}) as response:
                state["response"] = response
                if response.status_code >= 400:
                    reason = f"HTTP {response.status_code} {_oneline(response.reason)}".strip()
                    transient = response.status_code >= 500 or response.status_code == 429
                    raise (_Retry if transient else _Failure)(reason)
                length = response.headers.get("Content-Length", "").strip()
                if length.isdigit() and int(length) != self.size:
                    raise _Failure(f"the server announces {int(length)} bytes, expected "
                                   f"{self.size} (a different file?)")
                while block := response.raw.read1(CHUNK, decode_content=False):
                    if self.received + len(block) > self.size:
                        raise _Failure(f"the server sent more than the expected {self.size} "
                                       f"bytes (stopped at {self.received + len(block)})")
                    with lock:
                        if state["abort"]:
                            return
                        out.write(block)
                    state["digest"].update(block)
                    self.received += len(block)
            if self.received != self.size:
                raise _Retry(f"transfer truncated: got {self.received} of {self.size} bytes")
        except (_Failure, _Retry) as exc:
            state["error"] = exc
        except urllib3.exceptions.ReadTimeoutError:
            state["error"] = _Retry(f"transfer stalled for {t:g} s after {self.received} "
                                        f"bytes")
        except urllib3.exceptions.ProtocolError as exc:
            if isinstance(exc, urllib3.exceptions.IncompleteRead) or "IncompleteRead" in str(exc):
                what = f"transfer truncated: got {self.received} of {self.size} bytes"
            else:
                what = f"connection lost after {self.received} bytes ({_os_reason(exc)})"
            state["error"] = _Retry(what)
        except requests.exceptions.ConnectTimeout:
            state["error"] = _Retry(f"no connection within {t:g} s")
        except requests.exceptions.ReadTimeout:
            state["error"] = _Retry(f"no answer within {t:g} s")
        except requests.exceptions.ConnectionError as exc:
            state["error"] = _Retry(f"cannot connect ({_os_reason(exc)})")
        except requests.exceptions.RequestException as exc:
            state["error"] = _Failure(f"{type(exc).__name__}: {_oneline(exc)}")
        except (OSError, ValueError) as exc:  # a write failed, or the file was closed on abort
            if not state["abort"]:
                state["error"] = _Failure(f"cannot write {self.dest} ({_os_reason(exc)})")
        except Exception as exc:  # noqa: BLE001 -- anything else from a hostile server
            state["error"] = _Failure(f"{type(exc).__name__}: {_oneline(exc)}")


def _shutdown(response) -> None:
    """Wake a worker blocked in a socket read (best effort; the thread is a daemon)."""
    with contextlib.suppress(Exception):
        response.raw.connection.sock.shutdown(socket.SHUT_RDWR)


# ------------------------------------------------------------------------- public API


def _check_options(timeout, deadline, retries) -> None:
    for name, value in (("timeout", timeout), ("deadline", deadline)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 \
                or value == float("inf"):
            raise DownloadSpecError(f"{name}: expected a positive number of seconds, "
                                    f"got {value!r:.40}")
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        raise DownloadSpecError(f"retries: expected an integer from 0 to 10, got {retries!r:.40}")


def _manual_hint(dest: Path, md5: str, hint: str | None) -> str:
    """The "how to provide the file yourself" half of an error message."""
    text = f"copy the file to {dest.parent}/ by hand ({dest.name}, md5 {md5})"
    return f"{text} or {hint}" if hint else text


def fetch(url: str, dest, md5: str, size: int, *, progress: bool = True, timeout: float = 60,
          deadline: float | None = None, retries: int = 2, hint: str | None = None) -> Path:
    """Download ``url`` to ``dest`` unless ``dest`` already has this ``md5`` and ``size``.

    ``timeout`` (s) bounds connecting and each socket read; ``deadline`` (s, default
    :func:`default_deadline`) bounds the whole download, retries included; ``retries`` more
    attempts follow a transient failure (pooch waits 1 s, 2 s... in between). A tqdm bar is
    drawn on stderr when ``progress`` and stderr is a terminal. ``hint`` is appended to error
    messages (e.g. "set flowers.base_url to a mirror").

    Raises DownloadSpecError for bad arguments and DownloadError (one line) for every failed
    download; the target is then as it was (a wrong file stays until a good one replaces it).
    """
    dest = Path(dest)
    md5, size = check_entry(dest.name, {"md5": md5, "size": size}, label="fetch")
    check_url(url, "url")
    deadline = default_deadline(size) if deadline is None else deadline
    _check_options(timeout, deadline, retries)
    if dest.is_dir():
        raise DownloadError(f"cannot download {url}: {dest} is a folder")
    if verify_file(dest, md5, size) is None:
        return dest

    def fail(what: str) -> DownloadError:
        return DownloadError(f"cannot download {url}: {what}; {_manual_hint(dest, md5, hint)}")

    transfer = _Transfer(size, md5, float(timeout), time.monotonic() + deadline, float(deadline),
                         progress, dest)
    store = pooch.create(path=dest.parent, base_url="", registry={dest.name: f"md5:{md5}"},
                         urls={dest.name: url}, retry_if_failed=retries)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # pooch logs every download and retry to stderr at INFO
    try:
        store.fetch(dest.name, downloader=transfer)
    except (_Failure, _Retry) as exc:
        raise fail(exc.reason) from None
    except ValueError as exc:  # pooch's own hash check; _Transfer checks first, so unexpected
        raise fail(f"checksum mismatch ({_oneline(exc)})") from None
    except OSError as exc:
        raise fail(f"cannot write {dest} ({_os_reason(exc)})") from None
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        raise DownloadInterrupted(
            f"interrupted ({signal.Signals(signum).name}) while downloading {url} after "
            f"{transfer.received} bytes; no partial file kept", signum) from None
    finally:
        logger.setLevel(level)
    return dest


@contextlib.contextmanager
def _interruptible():
    """While active (main thread only), SIGINT and SIGTERM raise DownloadInterrupted once;
    further signals are ignored so that the clean-up in ``finally`` blocks is not cut short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = []

    def handler(signum, frame):
        if not fired:
            fired.append(signum)
            raise DownloadInterrupted(f"interrupted ({signal.Signals(signum).name}); no partial "
                                      f"file kept", signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def fetch_all(base_url: str, files: dict, raw_dir, *, progress: bool = True, timeout: float = 60,
              deadline: float | None = None, retries: int = 2, hint: str | None = None,
              label: str = "files", report=None) -> dict[str, Path]:
    """Fetch every ``{name: {"md5": ..., "size": ...}}`` from ``base_url`` into ``raw_dir``.

    All entries and the URL are checked first (DownloadSpecError, naming ``label``.name.field);
    then files are fetched in the order given and the first failure raises DownloadError.
    ``report(line)``, if given, hears about files kept or replaced. ``deadline`` applies to each
    file. SIGINT/SIGTERM raise DownloadInterrupted (a KeyboardInterrupt). Returns ``{name: path}``.
    """
    specs = check_files(files, label)
    base = check_url(base_url, "base_url")
    _check_options(timeout, default_deadline(1) if deadline is None else deadline, retries)
    base = base if base.endswith("/") else base + "/"
    raw_dir = Path(raw_dir)
    report = report or (lambda line: None)
    paths = {}
    with _interruptible():
        for name, (md5, size) in specs.items():
            dest = paths[name] = raw_dir / name
            problem = "a folder" if dest.is_dir() else verify_file(dest, md5, size)
            if problem is None:
                report(f"{dest}: present, checksum ok")
                continue
            if problem not in ("missing", "a folder"):
                report(f"{dest}: {problem}; downloading it again")
            url = urllib.parse.urljoin(base, urllib.parse.quote(name))
            fetch(url, dest, md5, size, progress=progress, timeout=timeout, deadline=deadline,
                  retries=retries, hint=hint)
    return paths


def run_downloads(base_url: str, files: dict, raw_dir, *, label: str = "files",
                  hint: str | None = None, **options) -> int:
    """The download stage's body: fetch all, print one line per outcome, return the exit code.

    0: all files verified; 2: bad ``files``/``base_url`` (a usage error, nothing fetched);
    1: a download failed; 130/143: interrupted by SIGINT/SIGTERM. Errors are one stderr line.
    """
    try:
        fetch_all(base_url, files, raw_dir, label=label, hint=hint, report=print, **options)
    except DownloadSpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DownloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(f"error: {exc}" if isinstance(exc, DownloadInterrupted) else "error: interrupted",
              file=sys.stderr)
        return 128 + int(getattr(exc, "signum", signal.SIGINT))
    print(f"{raw_dir}/: {len(files)} files verified")
    return 0


__all__ = ["DownloadError", "DownloadInterrupted", "DownloadSpecError", "check_entry",
           "check_files", "check_url", "default_deadline", "fetch", "fetch_all", "md5sum",
           "run_downloads", "verify_file"]
