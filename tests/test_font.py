"""Tests for nbae.data.font: the font.h parser, glyph lookup, matrices and ASCII rendering."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from nbae.data.font import FontFormatError, font_matrix, parse_font, read_font, render_ascii

FONT_H = Path(__file__).resolve().parents[1] / "data" / "font.h"

# Hand-drawn from the hand-out's pictures, independent of the parser.
EXPECTED_FONT3 = {
    "a": """
        .....
        .###.
        ....#
        .##.#
        #..##
        #..##
        .##.#
    """,
    "k": """
        #....
        #....
        #..#.
        #.#..
        ##...
        #.#..
        #..#.
    """,
    "{": """
        ..##.
        .#...
        .#...
        #....
        .#...
        .#...
        ..##.
    """,
    "w": """
        .....
        .....
        #...#
        #...#
        #.#.#
        #.#.#
        .#.#.
    """,
    "DEL": """
        #####
        #####
        #####
        #####
        #####
        #####
        #####
    """,
    "`": """
        ..#..
        ..#..
        ...#.
        .....
        .....
        .....
        .....
    """,
    "g": """
        .###.
        #...#
        #..##
        .##.#
        ....#
        ....#
        .###.
    """,
}

EXPECTED_G = """
    .###.
    #...#
    #....
    #....
    #..##
    #...#
    .####
"""


def drawing(picture: str) -> np.ndarray:
    rows = [line.strip() for line in picture.strip().splitlines()]
    assert len(rows) == 7 and all(len(r) == 5 for r in rows)
    return np.array([[1 if ch == "#" else 0 for ch in r] for r in rows], dtype=np.uint8)


@pytest.fixture(scope="module")
def font_text() -> str:
    return FONT_H.read_text()


@pytest.fixture(scope="module")
def fonts(font_text):
    return parse_font(font_text, source=str(FONT_H))


def test_font3_spot_checks_against_drawings():
    font3 = read_font(FONT_H)
    assert font3.name == "Font3"
    assert font3.bitmaps.shape == (32, 7, 5) and font3.bitmaps.dtype == np.uint8
    for label, picture in EXPECTED_FONT3.items():
        np.testing.assert_array_equal(font3.glyph(label), drawing(picture), err_msg=label)
        # render_ascii draws back exactly the same picture
        assert render_ascii(font3.glyph(label).ravel()) == "\n".join(
            line.strip() for line in picture.strip().splitlines()
        )


def test_every_font3_row_decodes_bitwise(font_text):
    # Independent decode of every row value: bit 4 (0x10) is the leftmost column.
    body = font_text[font_text.index("Font3"):]
    rows = re.findall(r"\{(0x[^{}]*)\}", body)
    values = [[int(v, 16) for v in r.split(",")] for r in rows]
    font3 = read_font(FONT_H, "Font3")
    assert len(values) == 32
    for g, glyph_rows in enumerate(values):
        for r, v in enumerate(glyph_rows):
            expected = [int(bit) for bit in format(v, "05b")]
            assert font3.bitmaps[g, r].tolist() == expected


def test_all_sets_labels_and_codes(fonts):
    assert list(fonts) == ["Font1", "Font2", "Font3"]
    for name, base in (("Font1", 0x20), ("Font2", 0x40), ("Font3", 0x60)):
        fs = fonts[name]
        assert fs.codes == list(range(base, base + 32))
        assert len(fs.labels) == 32 and len(fs) == 32
    assert fonts["Font1"].labels[:3] == [" ", "!", '"']
    assert fonts["Font2"].labels[0] == "@" and fonts["Font2"].labels[-1] == "_"
    assert fonts["Font2"].labels[28] == "\\"
    assert fonts["Font3"].labels[1:27] == list("abcdefghijklmnopqrstuvwxyz")
    assert fonts["Font3"].labels[-1] == "DEL"


def test_font2_g_code_comes_from_index_not_comment(fonts):
    font2 = fonts["Font2"]
    assert "0x37, G" in FONT_H.read_text()  # the quirk is still in the file
    i = font2.labels.index("G")
    assert i == 7 and font2.codes[i] == 0x47
    np.testing.assert_array_equal(font2.glyph("G"), drawing(EXPECTED_G))
    np.testing.assert_array_equal(font2.glyph(0x47), drawing(EXPECTED_G))
    # Font1's real 0x37 ('7') is a different glyph
    assert not np.array_equal(fonts["Font1"].glyph("7"), font2.glyph("G"))


def test_backslash_comment_does_not_swallow_next_glyph(fonts):
    # The '\\' comment ends with a backslash; ']' on the next line must still be parsed.
    font2 = fonts["Font2"]
    assert font2.glyph("]")[0].tolist() == [0, 1, 1, 1, 0]


def test_glyph_lookup(fonts):
    font3 = fonts["Font3"]
    assert font3.index("a") == 1 and font3.index(0x61) == 1
    assert font3.index("\x7f") == 31 and font3.index(np.int64(0x7F)) == 31
    with pytest.raises(KeyError, match="Font3 has no glyph 'A'"):
        font3.glyph("A")
    with pytest.raises(KeyError):
        font3.glyph(0x41)
    with pytest.raises(ValueError):
        font3.bitmaps[0, 0, 0] = 1  # parsed fonts are read-only


def test_font_matrix_encodings(fonts):
    font3 = fonts["Font3"]
    X = font_matrix(font3.bitmaps)
    assert X.shape == (32, 35) and X.dtype == np.float64
    assert set(np.unique(X)) == {0.0, 1.0}
    np.testing.assert_array_equal(X[1, :5], [0, 0, 0, 0, 0])  # 'a' row 0, row-major
    np.testing.assert_array_equal(X[1, 5:10], [0, 1, 1, 1, 0])
    B = font_matrix(font3.bitmaps, encoding="bipolar")
    np.testing.assert_array_equal(B, 2 * X - 1)
    np.testing.assert_array_equal(font3.matrix("bipolar"), B)
    assert render_ascii(B[27], pixel_range=(-1, 1)) == render_ascii(X[27])
    with pytest.raises(ValueError, match="unknown encoding"):
        font_matrix(font3.bitmaps, encoding="ternary")
    with pytest.raises(ValueError):
        font_matrix(np.full((2, 7, 5), 2))


def test_render_ascii_threshold_and_shape():
    assert render_ascii([0.5, 0.51, 0, 1], shape=(2, 2)) == ".#\n.#"
    with pytest.raises(ValueError, match="2x2"):
        render_ascii([1, 0, 1], shape=(2, 2))


def test_flexible_syntax_parses_to_same_bitmaps(fonts):
    # Decimal and octal literals, block comments across lines, odd spacing, CRLF, trailing commas.
    font3 = fonts["Font3"]
    values = (font3.bitmaps * (1 << np.arange(4, -1, -1))).sum(axis=2)
    parts = ["#pragma once\r\n/* a block\r\n comment */ static const unsigned char Font3 [ 32 ]"
             "[7]=\r\n{"]
    for g, row in enumerate(values):
        lits = [f"0{v:o}" if (g + i) % 3 == 0 and v else str(v) for i, v in enumerate(row)]
        parts.append("\t{ " + " ,".join(lits) + ", } , /* glyph */ // 0x00, wrong comment\r\n")
    parts.append("};\r\n")
    parsed = parse_font("".join(parts))["Font3"]
    np.testing.assert_array_equal(parsed.bitmaps, font3.bitmaps)
    assert parsed.labels == font3.labels

    hexy = parse_font("int const Font1[][7] = {" + ",".join(["{0X1F,0x1,0,0,0,0,0}"] * 32) + "};")
    assert hexy["Font1"].glyph(" ")[0].tolist() == [1, 1, 1, 1, 1]


# ---------------------------------------------------------------------------------------------
# Malformed input


def swap(text: str, old: str, new: str) -> str:
    """Replace the single occurrence of ``old`` (fails loudly if the fixture text changed)."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _lines_with(text: str, needle: str) -> int:
    """1-based line number of the first line containing ``needle``."""
    for n, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return n
    raise AssertionError(needle)


def _expect_error(text: str, line: int, what: str):
    with pytest.raises(FontFormatError) as info:
        parse_font(text, source="bad.h")
    msg = str(info.value)
    assert msg.startswith(f"bad.h:{line}: "), msg
    assert re.search(what, msg), msg
    assert "\n" not in msg
    assert info.value.line == line
    assert isinstance(info.value, ValueError)


def test_row_with_wrong_value_count(font_text):
    bad = swap(font_text, "0x13, 0x13, 0x0d},   // 0x61", "0x13, 0x13},   // 0x61")
    _expect_error(bad, _lines_with(bad, "// 0x61"), r"Font3 glyph 1 \(0x61 'a'\) has 6 rows")


def test_too_many_values_in_row(font_text):
    bad = swap(font_text, "0x14, 0x12},   // 0x6b", "0x14, 0x12, 0x00},   // 0x6b")
    _expect_error(bad, _lines_with(bad, "// 0x6b"), "has 8 rows, expected 7")


def test_missing_glyph(font_text):
    bad = re.sub(r"\n[^\n]*// 0x7e, ~", "", font_text)
    _expect_error(bad, _lines_with(bad, "// 0x7f") + 1, "Font3 has 31 glyphs, expected 32")


def test_value_too_large(font_text):
    bad = swap(font_text, "{0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}",
                            "{0x0c, 0x04, 0x04, 0x20, 0x04, 0x04, 0x04}")
    _expect_error(bad, _lines_with(bad, "0x20, 0x04, 0x04, 0x04}"), "0x20 .*max 0x1f")


def test_garbage_tokens(font_text):
    bad = swap(font_text, "0x0e, 0x11, 0x13, 0x0d", "0x0e, 0x11, -1, 0x0d")
    _expect_error(bad, _lines_with(bad, "-1"), "unexpected text '-1'")
    bad = swap(font_text, "0x0e, 0x11, 0x13, 0x0d", "0x0e, 0x11, 0x1g, 0x0d")
    _expect_error(bad, _lines_with(bad, "0x1g"), "0x1g")
    bad = swap(font_text, "0x0e, 0x11, 0x13, 0x0d", "0x0e, 0x11, foo, 0x0d")
    _expect_error(bad, _lines_with(bad, "foo"), "expected a number .* found 'foo'")
    bad = swap(font_text, "0x0e, 0x11, 0x13, 0x0d", "0x0e 0x11, 0x13, 0x0d")
    _expect_error(bad, _lines_with(bad, "0x0e 0x11"), "expected ',' or '}'")


def test_unterminated_brace_and_comment(font_text):
    cut = font_text[: font_text.index("// 0x70")]
    _expect_error(cut, _lines_with(font_text, "int const Font3"), "'\\{' of Font3 is never closed")
    bad = swap(font_text, "// 0x65, e", "/* 0x65, e")
    _expect_error(bad, _lines_with(bad, "/* 0x65"), r"'/\*' comment is never closed")


def test_missing_semicolon_and_bad_declaration(font_text):
    bad = swap(font_text, "};\n\nint const Font2", "}\n\nint const Font2")
    _expect_error(bad, _lines_with(bad, "int const Font2"), "expected ';'")
    bad = swap(font_text, "Font3[32][7]", "Font3[32][8]")
    _expect_error(bad, _lines_with(bad, "Font3[32][8]"), "declares 8 rows per glyph")
    bad = swap(font_text, "Font3[32][7]", "Font4[32][7]")
    _expect_error(bad, _lines_with(bad, "Font4"), "unknown font array 'Font4'")
    bad = font_text + "\nint const Font1[32][7] = {};\n"
    _expect_error(bad, bad.count("\n"), "Font1 has 0 glyphs")


def test_duplicate_and_missing_arrays(font_text, tmp_path):
    block = font_text[font_text.index("int const Font3"):]
    _expect_error(block + "\n" + block, 2 * block.count("\n") + 1, "Font3 defined twice")
    _expect_error("// nothing here\n\n", 3, "no font arrays found")

    only_font1 = font_text[: font_text.index("int const Font2")]
    path = tmp_path / "font1.h"
    path.write_text(only_font1)
    with pytest.raises(FontFormatError, match=r"font1\.h:\d+: no font array named 'Font3'; "
                                              r"available: Font1$"):
        read_font(path)
    assert read_font(path, "Font1").codes[0] == 0x20


def test_unknown_font_name_lists_available():
    with pytest.raises(FontFormatError, match="'Font9'; available: Font1, Font2, Font3"):
        read_font(FONT_H, name="Font9")


def test_missing_file(tmp_path):
    path = tmp_path / "nope.h"
    with pytest.raises(FontFormatError, match=rf"^{re.escape(str(path))}:0: cannot read font file"):
        read_font(path)


def test_latin1_comments_are_tolerated(font_text, tmp_path):
    path = tmp_path / "latin1.h"
    path.write_bytes(("// Acá tienen 3 juegos\n" + font_text).encode("latin-1"))
    assert read_font(path).labels[-1] == "DEL"
