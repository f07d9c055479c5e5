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
    TRIED["files pyarrow read whole"] += _read(arrow_csv_chunks(arrow_csv, io.BytesIO(data)))[0] == "rows"


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
    assert TRIED["files pyarrow read whole"] >= TRIED["files"] // 3, dict(TRIED)
