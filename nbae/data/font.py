r"""Parser for the course bitmap font file (``font.h``).

The file holds up to three C arrays, ``int const FontN[32][7] = {...};``: 32 glyphs of 7 rows,
each row a byte whose low 5 bits are the pixels (0x10 is the leftmost column). ``Font1``
covers characters 0x20..0x3f, ``Font2`` 0x40..0x5f and ``Font3`` 0x60..0x7f (0x7f is DEL).

Character codes come from the array name and the glyph's index, never from the comments:
the hand-out's comments are not reliable (Font2's ``G`` row says ``0x37``), and later
hand-outs may carry other comment text. Comments are therefore skipped entirely.

One deliberate departure from C: a ``//`` comment ending in a backslash is not spliced with the
next line. The hand-out's ``// 0x5c, \\`` comment ends that way, so a C compiler would swallow
the ``]`` glyph on the following line; the file's evident intent is 32 glyphs, so we keep it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "FONT_BASE_CODES",
    "FontFormatError",
    "FontSet",
    "char_label",
    "font_matrix",
    "parse_font",
    "read_font",
    "render_ascii",
]

N_GLYPHS = 32
N_ROWS = 7
N_COLS = 5
MAX_ROW_VALUE = (1 << N_COLS) - 1

# First character code of each array the course hands out.
FONT_BASE_CODES = {"Font1": 0x20, "Font2": 0x40, "Font3": 0x60}


class FontFormatError(ValueError):
    """A font file that cannot be read or does not have the expected layout.

    The message is ``"PATH:LINE: problem"`` on one line. ``line`` is 1-based; 0 means the
    problem concerns the file as a whole (e.g. it cannot be opened).
    """

    def __init__(self, path: str, line: int, problem: str):
        self.path = str(path)
        self.line = int(line)
        self.problem = " ".join(str(problem).split())  # keep the message on one line
        super().__init__(f"{self.path}:{self.line}: {self.problem}")


def char_label(code: int) -> str:
    """Label of a character code: the character itself, or ``"DEL"`` for 0x7f."""
    return "DEL" if code == 0x7F else chr(code)


@dataclass(frozen=True, eq=False)
class FontSet:
    """One parsed font array.

    ``bitmaps`` is a read-only (32, 7, 5) uint8 array of 0/1 pixels; ``labels[i]`` and
    ``codes[i]`` name glyph ``i``.
    """

    name: str
    bitmaps: np.ndarray
    labels: list[str]
    codes: list[int]

    def __len__(self) -> int:
        return len(self.codes)

    def index(self, char: str | int) -> int:
        """Glyph index of a character given as its label (``"a"``, ``"DEL"``) or its code."""
        if isinstance(char, (int, np.integer)) and not isinstance(char, bool):
            if int(char) in self.codes:
                return self.codes.index(int(char))
        elif isinstance(char, str):
            if char in self.labels:
                return self.labels.index(char)
            if char == "\x7f" and 0x7F in self.codes:
                return self.codes.index(0x7F)
        raise KeyError(
            f"{self.name} has no glyph {char!r}; it covers codes "
            f"0x{self.codes[0]:02x}..0x{self.codes[-1]:02x} ({''.join(self.labels[:-1])}...)"
        )

    def glyph(self, char: str | int) -> np.ndarray:
        """The (7, 5) bitmap of a character given as its label or code."""
        return self.bitmaps[self.index(char)]

    def matrix(self, encoding: str = "binary") -> np.ndarray:
        """All glyphs as a (32, 35) float64 matrix, see :func:`font_matrix`."""
        return font_matrix(self.bitmaps, encoding=encoding)


# --------------------------------------------------------------------------------------
# Tokenizer

_TOKEN_RE = re.compile(
    r"""
    (?P<newline>\n)
  | (?P<space>[ \t\r\f\v]+)
  | (?P<line_comment>//[^\n]*)
  | (?P<block_comment>/\*.*?\*/)
  | (?P<open_comment>/\*)
  | (?P<preproc>\#[^\n]*)
  | (?P<number>(?:0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+)[uUlL]*(?![0-9A-Za-z_]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[\[\]{}=,;])
  | (?P<bad>\S[^\s\[\]{}=,;]*)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class _Tok:
    kind: str  # "number" | "ident" | "punct" | "eof"
    text: str
    line: int
    value: int | None = None


def _number_value(text: str) -> int:
    digits = text.rstrip("uUlL")
    if digits[:2] in ("0x", "0X"):
        return int(digits[2:], 16)
    if digits[:2] in ("0b", "0B"):
        return int(digits[2:], 2)
    if len(digits) > 1 and digits[0] == "0":
        return int(digits, 8)  # C: a leading zero means octal
    return int(digits, 10)


def _tokenize(text: str, source: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    line = 1
    for m in _TOKEN_RE.finditer(text):
        kind, tok = m.lastgroup, m.group()
        if kind == "newline":
            line += 1
        elif kind in ("space", "line_comment", "preproc"):
            pass
        elif kind == "block_comment":
            line += tok.count("\n")
        elif kind == "open_comment":
            raise FontFormatError(source, line, "'/*' comment is never closed")
        elif kind == "number":
            try:
                value = _number_value(tok)
            except ValueError:  # e.g. 09: not a valid octal literal
                raise FontFormatError(source, line, f"invalid number {tok!r}") from None
            tokens.append(_Tok("number", tok, line, value))
        elif kind in ("ident", "punct"):
            tokens.append(_Tok(kind, tok, line))
        else:
            raise FontFormatError(source, line, f"unexpected text {tok[:40]!r}")
    tokens.append(_Tok("eof", "end of file", line))
    return tokens


# --------------------------------------------------------------------------------------
# Parser


class _Parser:
    def __init__(self, text: str, source: str):
        self.source = source
        self.toks = _tokenize(text, source)
        self.pos = 0

    def peek(self) -> _Tok:
        return self.toks[self.pos]

    def next(self) -> _Tok:
        tok = self.toks[self.pos]
        if tok.kind != "eof":
            self.pos += 1
        return tok

    def error(self, tok: _Tok, problem: str) -> FontFormatError:
        return FontFormatError(self.source, tok.line, problem)

    def expect(self, text: str, context: str) -> _Tok:
        tok = self.next()
        if tok.text != text or tok.kind not in ("punct",):
            raise self.error(tok, f"expected {text!r} {context}, found {_describe(tok)}")
        return tok

    def parse(self) -> dict[str, FontSet]:
        fonts: dict[str, FontSet] = {}
        while self.peek().kind != "eof":
            font_set = self.declaration()
            if font_set.name in fonts:
                raise self.error(self.toks[self.pos - 1], f"array {font_set.name} defined twice")
            fonts[font_set.name] = font_set
        if not fonts:
            raise self.error(self.peek(), "no font arrays found (expected 'int const Font3[32][7]"
                             " = {...};')")
        return fonts

    def declaration(self) -> FontSet:
        # Type words (int, const, unsigned char, static, uint8_t...) then the array name.
        words: list[_Tok] = []
        while self.peek().kind == "ident":
            words.append(self.next())
        if len(words) < 2:
            tok = self.peek() if not words else words[-1]
            raise self.error(tok, f"expected a font array declaration like 'int const Font3[32][7]"
                             f" = {{...}};', found {_describe(tok)}")
        name_tok = words[-1]
        name = name_tok.text
        if name not in FONT_BASE_CODES:
            raise self.error(name_tok, f"unknown font array {name!r}: cannot tell which characters"
                             f" it holds (expected one of {', '.join(FONT_BASE_CODES)})")
        for expected, what in ((N_GLYPHS, "glyphs"), (N_ROWS, "rows per glyph")):
            self.expect("[", f"after {name}")
            tok = self.next()
            if tok.kind == "number":
                if tok.value != expected:
                    raise self.error(tok, f"{name} declares {tok.value} {what}, "
                                     f"expected {expected}")
                self.expect("]", f"after the size of {name}")
            elif tok.text != "]":  # an empty [] lets the initializer decide; checked below
                raise self.error(tok, f"expected a size or ']' in {name}'s declaration, found "
                                 f"{_describe(tok)}")
        self.expect("=", f"after {name}[{N_GLYPHS}][{N_ROWS}]")
        rows = self.brace_list(name, "glyph", self.glyph_row)
        if len(rows) != N_GLYPHS:
            raise self.error(rows.close_tok, f"{name} has {len(rows)} glyphs, expected {N_GLYPHS}")
        self.expect(";", f"after {name}'s closing '}}'")

        base = FONT_BASE_CODES[name]
        codes = [base + i for i in range(N_GLYPHS)]
        values = np.array([list(r) for r in rows], dtype=np.uint8)  # (32, 7)
        shifts = np.arange(N_COLS - 1, -1, -1, dtype=np.uint8)  # 0x10 is the leftmost column
        bitmaps = ((values[:, :, None] >> shifts) & 1).astype(np.uint8)
        bitmaps.setflags(write=False)  # shared by callers: keep the parsed font immutable
        return FontSet(name=name, bitmaps=bitmaps, labels=[char_label(c) for c in codes],
                       codes=codes)

    def glyph_row(self, name: str, index: int) -> list[int]:
        code = FONT_BASE_CODES[name] + index
        what = f"{name} glyph {index} (0x{code:02x} {char_label(code)!r})"
        open_tok = self.peek()
        values = self.brace_list(what, "value", self.pixel_row)
        if len(values) != N_ROWS:
            raise self.error(open_tok, f"{what} has {len(values)} rows, expected {N_ROWS}")
        return list(values)

    def pixel_row(self, what: str, index: int) -> int:
        tok = self.next()
        if tok.kind != "number":
            raise self.error(tok, f"expected a number in {what}, found {_describe(tok)}")
        if tok.value > MAX_ROW_VALUE:
            raise self.error(tok, f"row value {tok.text} ({tok.value}) in {what} does not fit in "
                             f"{N_COLS} pixels (max 0x{MAX_ROW_VALUE:02x})")
        return tok.value

    def brace_list(self, what: str, item: str, parse_item) -> _BraceList:
        """``{ item, item, ... [,] }`` with an optional trailing comma."""
        open_tok = self.expect("{", f"to start {what}")
        items = _BraceList()
        while True:
            tok = self.peek()
            if tok.kind == "eof":
                raise self.error(open_tok, f"'{{' of {what} is never closed")
            if tok.text == "}" and tok.kind == "punct":
                items.close_tok = self.next()
                return items
            items.append(parse_item(what, len(items)))
            tok = self.peek()
            if tok.kind == "eof":
                raise self.error(open_tok, f"'{{' of {what} is never closed")
            if tok.text == ",":
                self.next()
            elif tok.text != "}":
                raise self.error(tok, f"expected ',' or '}}' after {item} {len(items)} of {what}, "
                                 f"found {_describe(tok)}")


class _BraceList(list):
    close_tok: _Tok


def _describe(tok: _Tok) -> str:
    return "end of file" if tok.kind == "eof" else repr(tok.text)


# --------------------------------------------------------------------------------------
# Public API


def parse_font(text: str, source: str = "<string>") -> dict[str, FontSet]:
    """Parse the text of a ``font.h`` file into ``{array name: FontSet}``.

    Accepts ``//`` and ``/* */`` comments, any whitespace, preprocessor lines, hex, binary,
    octal and decimal literals and trailing commas. Raises :class:`FontFormatError`
    (``"SOURCE:LINE: problem"``) on anything else.
    """
    return _Parser(text, str(source)).parse()


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise FontFormatError(str(path), 0, f"cannot read font file: {reason}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Hand-outs written on Windows carry Latin-1 accents in the (ignored) comments.
        return data.decode("latin-1")


def read_font(path, name: str = "Font3") -> FontSet:
    """Read one font array (``"Font1"``, ``"Font2"`` or ``"Font3"``) from a ``font.h`` file."""
    path = Path(path)
    text = _read_text(path)
    fonts = parse_font(text, source=str(path))
    if name not in fonts:
        last_line = text.count("\n") + (0 if text.endswith("\n") else 1)
        raise FontFormatError(str(path), max(last_line, 1),
                              f"no font array named {name!r}; available: {', '.join(fonts)}")
    return fonts[name]


def font_matrix(bitmaps, encoding: str = "binary") -> np.ndarray:
    """Flatten (n, rows, cols) 0/1 bitmaps (or a FontSet) to an (n, rows*cols) float64 matrix.

    ``encoding="binary"`` gives {0, 1} pixels, ``"bipolar"`` gives {-1, 1} (for tanh outputs).
    """
    if isinstance(bitmaps, FontSet):
        bitmaps = bitmaps.bitmaps
    arr = np.asarray(bitmaps)
    if arr.ndim != 3:
        raise ValueError(f"bitmaps must have shape (n, rows, cols), got {arr.shape}")
    if not np.isin(arr, (0, 1)).all():
        raise ValueError("bitmaps must contain only 0 and 1")
    flat = arr.reshape(arr.shape[0], -1).astype(np.float64)
    if encoding == "binary":
        return flat
    if encoding == "bipolar":
        return 2.0 * flat - 1.0
    raise ValueError(f"unknown encoding {encoding!r}; use 'binary' or 'bipolar'")


def render_ascii(row_vector, shape=(7, 5), pixel_range=(0, 1)) -> str:
    """Draw one image as text, ``'#'`` for pixels above the range midpoint, ``'.'`` otherwise.

    Uses the same threshold as :func:`nbae.data.metrics.pixel_errors`, so what is drawn is what is
    scored. Rows are joined with newlines, without a trailing one.
    """
    arr = np.asarray(row_vector, dtype=np.float64)
    rows, cols = (int(s) for s in shape)
    if arr.size != rows * cols:
        raise ValueError(f"cannot draw {arr.size} values as a {rows}x{cols} image")
    low, high = (float(v) for v in pixel_range)
    if not low < high:
        raise ValueError(f"pixel_range must be (low, high) with low < high, got {pixel_range}")
    on = arr.reshape(rows, cols) > (low + high) / 2.0
    return "\n".join("".join("#" if p else "." for p in r) for r in on)
