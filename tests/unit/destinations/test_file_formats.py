"""The export's file formats read back as written: CSV by the csv module (any text), JSON Lines, Parquet."""

from __future__ import annotations

import csv
import io
import json
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_thulium.destinations.file_formats import write_csv, write_jsonl, write_parquet
from airflow_provider_thulium.destinations.record_columns import ExportColumns

WARSAW = ZoneInfo("Europe/Warsaw")
TEXT_KEYS = ["last_note", "status", "agent_name", "identifier"]
#: Text as a note may hold it: separators, quotes, line breaks of every kind, spaces, any letters.
#: No NUL (the csv module reading the files back refuses one before Python 3.11), no lone surrogate.
TEXTS = st.one_of(
    st.none(),
    st.text(alphabet=st.sampled_from([*',";\n\r\t ab\u00f3\u0142', "\u2028", "x"]), max_size=8),
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=6),
)


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


def written(writer, records, columns) -> bytes:
    file = io.BytesIO()
    assert writer(file, [records[:3], records[3:]], columns) == len(records)
    return file.getvalue()


@settings(max_examples=300, deadline=None)
@given(
    notes=st.lists(st.tuples(TEXTS, TEXTS, st.one_of(st.none(), st.integers(0, 10**12), st.just(""))), max_size=7),
    keys=st.sampled_from([TEXT_KEYS[:1], TEXT_KEYS[:2], ["order"], ["last_note", "order", "status"]]),
)
def test_csv_cells_read_back_by_the_csv_module_whatever_the_text(notes, keys):
    records = [
        {
            "record_id": index,
            "last_note": note,
            "status": status,
            "agent_name": note,
            "identifier": status,
            "order": order,
        }
        for index, (note, status, order) in enumerate(notes)
    ]
    columns = ExportColumns.from_argument(keys, WARSAW)
    rows = read_csv(written(write_csv, records, columns))
    expected = [[("" if record[key] is None else str(record[key])) for key in keys] for record in records]
    assert rows == [keys, *expected]


def test_csv_header_and_a_single_empty_column_keep_their_rows():
    columns = ExportColumns.from_argument({"last_note": "the, note"}, WARSAW)
    data = written(write_csv, [{"last_note": ""}, {"last_note": None}, {"last_note": "ok"}, {}], columns)
    assert data == b'"the, note"\n""\n""\nok\n""\n'  # an empty cell alone on a line is written ""
    assert read_csv(data) == [["the, note"], [""], [""], ["ok"], [""]]


def test_json_lines_hold_typed_values_and_null_for_no_value():
    columns = ExportColumns.from_argument(["record_id", "call_date", "order", "last_note"], WARSAW)
    records = [{"record_id": 7, "call_date": "2025-03-08 09:30", "order": "", "last_note": 'a "b"\nc'}] * 4
    lines = [json.loads(line) for line in written(write_jsonl, records, columns).decode().splitlines()]
    assert (
        lines
        == [{"record_id": 7, "call_date": "2025-03-08T09:30:00+01:00", "order": None, "last_note": 'a "b"\nc'}] * 4
    )


def test_parquet_holds_typed_columns_in_the_accounts_time_zone():
    parquet = pytest.importorskip("pyarrow.parquet")
    columns = ExportColumns.from_argument(["record_id", "call_date", "status"], WARSAW)
    records = [
        {"record_id": 1, "call_date": "2025-03-30 01:30", "status": "New"},
        {"record_id": 2, "call_date": "2025-03-30 03:30", "status": ""},
        {"record_id": 3, "call_date": "", "status": "Not interested"},
        {"record_id": 4, "call_date": "2025-07-01 00:05", "status": "New"},
    ]
    table = parquet.read_table(io.BytesIO(written(write_parquet, records, columns)))
    assert [str(kind) for kind in table.schema.types] == ["int64", "timestamp[ms, tz=Europe/Warsaw]", "string"]
    assert [value and value.isoformat() for value in table.column("call_date").to_pylist()] == [
        "2025-03-30T01:30:00+01:00",
        "2025-03-30T03:30:00+02:00",  # after the clock went forward
        None,
        "2025-07-01T00:05:00+02:00",
    ]
    assert table.column("status").to_pylist() == ["New", None, "Not interested", "New"]
    assert parquet.ParquetFile(io.BytesIO(written(write_parquet, records, columns))).metadata.num_row_groups == 2


def test_a_parquet_row_group_gathers_batches_up_to_its_rows():
    parquet = pytest.importorskip("pyarrow.parquet")
    columns = ExportColumns.from_argument(["record_id", "call_date", "status"], WARSAW)
    records = [{"record_id": n, "call_date": "2025-03-08 10:15", "status": "New" if n % 2 else ""} for n in range(7)]
    file = io.BytesIO()
    assert write_parquet(file, [records[:3], records[3:5], records[5:6], records[6:]], columns, row_group_rows=4) == 7
    written_file = parquet.ParquetFile(io.BytesIO(file.getvalue()))
    metadata = written_file.metadata
    assert [metadata.row_group(index).num_rows for index in range(metadata.num_row_groups)] == [5, 2]
    table = written_file.read()
    assert table.column("record_id").to_pylist() == list(range(7))
    assert table.column("status").to_pylist() == [None, "New"] * 3 + [None]


def test_parquet_holds_each_batch_as_the_columns_type_it_whichever_types_its_values_mix():
    parquet = pytest.importorskip("pyarrow.parquet")
    columns = ExportColumns.from_argument(
        ["record_id", "order", "identifier", "record_fields.crm_id", "status"], WARSAW
    )
    batches = [
        [  # ids of no value, written ""; text with and without values
            {"record_id": 1, "order": "", "identifier": "a", "record_fields": {"crm_id": "C-1"}, "status": ""},
            {"record_id": 2, "order": "", "identifier": "", "status": "New"},
        ],
        [  # ids and "" mixed; numbers and objects in text columns
            {"record_id": 3, "order": 4, "identifier": 12, "record_fields": {"crm_id": {"a": 1}}, "status": None},
            {"record_id": 4, "order": "", "identifier": None, "status": "x"},
        ],
        [{"record_id": 5, "order": "17", "identifier": None, "status": None}],  # an id as digits; no text at all
    ]
    file = io.BytesIO()
    assert write_parquet(file, batches, columns, row_group_rows=2) == 5
    typed = [columns.convert(batch) for batch in batches]
    expected = {name: [value for batch in typed for value in batch[index]] for index, name in enumerate(columns.names)}
    assert parquet.read_table(io.BytesIO(file.getvalue())).to_pydict() == expected
    assert expected["order"] == [None, None, 4, None, 17]
    assert expected["identifier"] == ["a", None, "12", None, None]


def test_a_text_column_writes_whatever_thulium_sent_as_text_in_every_format():
    columns = ExportColumns.from_argument(["identifier", "record_fields.tags"], WARSAW)
    records = [
        {"identifier": 1234567, "record_fields": {"tags": {"vip": True}}},
        {"identifier": "", "record_fields": {}},
    ]
    assert read_csv(written(write_csv, records, columns)) == [
        ["identifier", "record_fields.tags"],
        ["1234567", '{"vip": true}'],
        ["", ""],
    ]
    lines = [json.loads(line) for line in written(write_jsonl, records, columns).decode().splitlines()]
    assert lines == [
        {"identifier": "1234567", "record_fields.tags": '{"vip": true}'},
        {"identifier": None, "record_fields.tags": None},
    ]


#: Values a record's key may hold: what Thulium writes, and what a server should not.
ANY_VALUE = st.one_of(
    st.just(""),
    st.none(),
    TEXTS,
    st.integers(-5, 10**12),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["17", "2025-03-08 10:15", "2025-10-26 02:30:00", " 2025-03-08 10:15 "]),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 3), max_size=2),
)
ANY_COLUMNS = ["record_id", "phone_number", "order", "call_date", "last_note", "record_fields.crm_id"]


@settings(max_examples=400, deadline=None)
@given(
    batches=st.lists(
        st.lists(
            st.tuples(
                st.fixed_dictionaries({}, optional={key: ANY_VALUE for key in ANY_COLUMNS[:-1]}),
                st.one_of(st.none(), ANY_VALUE),
            ),
            min_size=1,
            max_size=5,
        ),
        min_size=1,
        max_size=3,
    ),
    empty_columns=st.sets(st.sampled_from(ANY_COLUMNS[:-1])),
)
def test_every_format_writes_the_values_convert_types_whatever_the_values(batches, empty_columns):
    # The writers skip the typing value by value for a column of strings or of no value; whatever
    # the values, each file holds what convert gives, or the export fails as convert does.
    parquet = pytest.importorskip("pyarrow.parquet")
    records_of = [
        [
            {**{key: "" for key in empty_columns}, **fields, "record_fields": {"crm_id": crm_id}}
            for fields, crm_id in batch
        ]
        for batch in batches
    ]
    columns = ExportColumns.from_argument(ANY_COLUMNS, WARSAW)
    try:
        typed = [columns.convert(batch, timestamps="epoch_ms") for batch in records_of]
        as_text = [columns.convert(batch) for batch in records_of]
    except Exception as exc:
        for writer in (write_parquet, write_csv):
            with pytest.raises(type(exc)) as raised:
                writer(io.BytesIO(), records_of, columns)
            assert str(raised.value) == str(exc)
        return
    rows = sum(map(len, records_of))
    file = io.BytesIO()
    assert write_parquet(file, records_of, columns) == rows
    table = parquet.read_table(io.BytesIO(file.getvalue()))
    for position, name in enumerate(columns.names):
        expected = [value for batch in typed for value in batch[position]]
        got = table.column(name)
        if name == "call_date":
            got = got.cast("int64")
        assert got.to_pylist() == expected, name
    file = io.BytesIO()
    assert write_csv(file, records_of, columns) == rows
    rows_as_text = [row for batch in as_text for row in zip(*batch, strict=True)]
    cells = [["" if value is None else str(value) for value in row] for row in rows_as_text]
    assert read_csv(file.getvalue()) == [list(columns.names), *cells]
