"""CSV read by pyarrow, held to the csv module's reading of the same bytes (no server).

Where pyarrow is installed it parses a source's CSV file; the cells it gives must be the ones the
csv module gives, and a file it cannot read must come out of the csv module's reading (its rows,
or its error naming the row).
"""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_thulium.sources.file_formats import arrow_csv_chunks, csv_chunks, python_csv_chunks
from tests.unit.checks.test_normal_form import FUZZ

arrow_csv = pytest.importorskip("pyarrow.csv")

NAME = "file leads.csv"
TRIED: Counter[str] = Counter()


def _read(chunks: Any) -> tuple[str, Any]:
    """The header and every row a reading gives, or its error (type and message)."""
    headers, rows = [], []
    try:
        for header, columns in chunks:
            headers.append(header)
            rows.extend(zip(*columns, strict=True))
    except Exception as exc:
        return "error", (type(exc).__name__, str(exc))
    return "rows", (headers[:1], rows)


def _both(data: bytes) -> tuple[tuple[str, Any], tuple[str, Any]]:
    return _read(csv_chunks(lambda: io.BytesIO(data), NAME)), _read(python_csv_chunks(io.BytesIO(data), NAME))


CELL = st.text(alphabet=["a", "1", "+", ",", '"', "\n", "\r", " ", "\ufeff", "é", "\x00"], max_size=6)
# Mostly well-formed files (a header and rows of its width, quoted where a cell needs it), with
# raw text spliced in: stray quotes, short rows, blank lines, a byte-order mark, bad UTF-8.
ROWS = st.lists(st.lists(CELL, min_size=2, max_size=2), min_size=0, max_size=5)


def _quoted(cell: str, always: bool) -> str:
    if always or any(char in cell for char in ',"\n\r') or cell != cell.strip():
        return '"' + cell.replace('"', '""') + '"'
    return cell


@FUZZ
@given(
    rows=ROWS,
    always=st.booleans(),
    line_end=st.sampled_from(["\n", "\r\n", "\r"]),
    splice=st.one_of(st.none(), st.tuples(st.integers(0, 200), CELL)),
    prefix=st.sampled_from(["", "\ufeff", "\n", "\n\n"]),
    tail=st.sampled_from([b"", b"\n", b"\xff", b"\n\n"]),
)
def test_pyarrow_gives_the_rows_the_csv_module_gives(rows, always, line_end, splice, prefix, tail):
    lines = ["phone_number,status"] + [",".join(_quoted(cell, always) for cell in row) for row in rows]
    text = prefix + line_end.join(lines) + line_end
    if splice is not None:
        at = splice[0] % (len(text) + 1)
        text = text[:at] + splice[1] + text[at:]
    data = text.encode("utf-8") + tail
    arrow, python = _both(data)
    assert arrow == python
    TRIED["files"] += 1
    whole = _read(arrow_csv_chunks(arrow_csv, io.BytesIO(data)))[0] == "rows"
    TRIED["files pyarrow read whole"] += whole
    # A file whose cells hold no quote and no line break reads the same with any parser: pyarrow
    # reads those itself (lines ending in \n or \r\n); the others go to the csv module, which reads strictly.
    plain = (
        splice is None
        and tail != b"\xff"
        and line_end != "\r"
        and not any(char in cell for row in rows for cell in row for char in '"\n\r')
    )
    if plain:
        TRIED["plain files"] += 1
        assert whole, data


def test_a_bad_row_deep_in_a_file_is_named_by_its_number():
    lines = ["phone_number,status"] + [f"48500{index:06d},Nowy" for index in range(30_000)]
    lines[25_001] = "48500999999"
    data = ("\n".join(lines) + "\n").encode()
    arrow, python = _both(data)
    assert arrow == python == ("error", ("ThuliumValidationError", f"{NAME}, row 25001: 1 cells, but the header has 2"))


def test_a_long_file_comes_whole_and_in_order():
    lines = ["phone_number,status"] + [f"48500{index:06d},Nowy" for index in range(50_000)]
    arrow, python = _both(("\n".join(lines) + "\n").encode())
    assert arrow == python
    assert arrow[1][1][-1] == ("48500049999", "Nowy") and len(arrow[1][1]) == 50_000


def test_zz_pyarrow_read_most_files_itself(capsys):
    with capsys.disabled():
        print(f"\nCSV files tried: {dict(TRIED)}")
    assert TRIED["plain files"] >= TRIED["files"] // 20, dict(TRIED)
    assert TRIED["files pyarrow read whole"] >= TRIED["plain files"], dict(TRIED)


# ----------------------------------------------------------------------------- torn and odd files


def _torn(rows: int, at: int, line: str) -> bytes:
    lines = ["phone_number,status,note"] + [f"48500{index:06d},New,n{index}" for index in range(rows)]
    lines[at] = line
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('48500999999,New,"torn', "row 28001: a quoted cell opened on this row is never closed"),
        ('48500999999,"New,x', "row 28001: a quoted cell opened on this row is never closed"),
        ('48500999999,"New"x,y', "row 28001: a character follows the quote that closes a cell"),
    ],
    ids=["last column", "middle column", "after the closing quote"],
)
def test_1_a_torn_csv_is_refused_naming_the_row_by_both_readings(line, says):
    # The finding: an unterminated quote at row 28,001 of 30,000 folded the last 1,999 rows into one
    # cell, with no error, whichever parser read the file.
    arrow, python = _both(_torn(30_000, 28_001, line))
    assert arrow == python
    assert arrow[0] == "error" and arrow[1][0] == "ThuliumValidationError" and says in arrow[1][1], arrow


def test_1_a_torn_last_line_without_a_line_end_is_refused():
    data = _torn(3, 3, '48500999999,New,"torn')[:-1]
    arrow, python = _both(data)
    assert arrow == python and "row 3: a quoted cell opened on this row is never closed" in arrow[1][1]


def test_quoted_cells_with_commas_quotes_and_line_breaks_are_still_read():
    data = b'phone_number,note\n48500000001,"a, b"\n48500000002,"say ""hi"""\n48500000003,"two\nlines"\n'
    arrow, python = _both(data)
    assert (
        arrow
        == python
        == (
            "rows",
            (
                [["phone_number", "note"]],
                [("48500000001", "a, b"), ("48500000002", 'say "hi"'), ("48500000003", "two\nlines")],
            ),
        )
    )


def test_a_file_quoting_every_cell_is_read_by_pyarrow():
    lines = ["phone_number,note"] + [f'"48500{index:06d}","n {index}"' for index in range(20_000)]
    data = ("\n".join(lines) + "\n").encode()
    assert _read(arrow_csv_chunks(arrow_csv, io.BytesIO(data)))[0] == "rows"
    arrow, python = _both(data)
    assert arrow == python and len(arrow[1][1]) == 20_000


def test_10_latin1_text_names_the_row_and_the_column():
    data = "phone_number,city\n48500000001,Gdansk\n48500000002,Gda\u00f1sk\n".encode("latin-1")
    arrow, python = _both(data)
    assert arrow == python
    assert arrow[1] == (
        "ThuliumValidationError",
        f"{NAME}, row 2, column 'city': the text is not UTF-8 (byte 0xf1); save the file as UTF-8",
    )


def test_10_a_cell_over_the_limit_names_the_row():
    data = _torn(100, 42, "48500000041,New," + "x" * 200_000)
    arrow, python = _both(data)
    assert arrow[0] == python[0] == "error"
    for reading in (arrow, python):
        assert reading[1][0] == "ThuliumValidationError", reading
        assert f"{NAME}, row 42, column 'note': a cell longer than 128 KiB" in reading[1][1], reading


def test_10_a_parquet_file_cut_short_or_not_parquet_is_a_validation_error():
    parquet = pytest.importorskip("pyarrow.parquet")
    import pyarrow as arrow

    from airflow_provider_thulium.sources.file_formats import parquet_chunks

    buffer = io.BytesIO()
    parquet.write_table(arrow.table({"phone_number": [f"4860{n:07d}" for n in range(3000)]}), buffer)
    for data in (buffer.getvalue()[: len(buffer.getvalue()) // 2], b"phone_number\n1\n", b""):
        with pytest.raises(Exception) as caught:  # its class is checked by name below
            list(parquet_chunks(io.BytesIO(data), NAME))
        assert type(caught.value).__name__ == "ThuliumValidationError", repr(caught.value)
        assert f"{NAME} is not a readable Parquet file" in str(caught.value)


def test_10_json_lines_not_utf8_names_the_line():
    from airflow_provider_thulium.sources.file_formats import jsonl_chunks

    data = '{"phone_number": "48500000001"}\n{"phone_number": "48500000002", "city": "Gda\u00f1sk"}\n'
    with pytest.raises(Exception) as caught:
        list(jsonl_chunks(io.BytesIO(data.encode("latin-1")), NAME))
    assert type(caught.value).__name__ == "ThuliumValidationError"
    assert str(caught.value) == f"{NAME}, row 2: the text is not UTF-8 (byte 0xf1); save the file as UTF-8"
