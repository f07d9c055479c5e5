"""The column-by-column check of a source's chunk, held to the record-by-record check (no server).

A chunk that passes ``columns_in_normal_form`` is spooled as columns and its records are sent as
``records_from_columns`` builds them, so it must pass only chunks whose records the record-by-record
check returns unchanged, value and type alike; and the common chunk must pass.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_thulium.checks.columns import ColumnRows, Columns, ids_from_digits, records_from_columns
from airflow_provider_thulium.checks.normal_form import columns_in_normal_form
from airflow_provider_thulium.checks.phones import phone_sender
from airflow_provider_thulium.checks.records import check_records_one_by_one
from airflow_provider_thulium.checks.spec import ADD_RECORDS, UPDATE_RECORDS
from airflow_provider_thulium.sources.spool import Spool
from tests.unit.checks.test_normal_form import FUZZ, NEAR_RECORD_LISTS, WARSAW, Text

TRIED: Counter[str] = Counter()
STATUS_NAMES = st.one_of(st.none(), st.sampled_from(["Nowy", " Nowy", "Nowy\n", "", Text("Nowy"), "\ud800", 3]))
#: A campaign storing numbers with a leading ``+`` (``phone_format="plus"``).
SEND_AS = phone_sender("plus")
IDENTIFIERS = st.one_of(st.none(), st.sampled_from(["C-1", " C-2", "", 7, Text("C-3")]))


def _as_columns(records: list[Any]) -> Columns | None:
    """The records as a source's chunk gives them: a column per key, ``None`` where a row has no value."""
    if not all(isinstance(record, dict) for record in records):
        return None
    if not all(isinstance(record.get("record_fields", {}), dict) for record in records):
        return None
    keys = list(dict.fromkeys(key for record in records for key in record if key != "record_fields"))
    names = list(dict.fromkeys(name for record in records for name in record.get("record_fields", {})))
    if not all(isinstance(name, str) for name in names):
        return None
    columns = [[record.get(key) for record in records] for key in keys]
    fields = [[record.get("record_fields", {}).get(name) for record in records] for name in names]
    return keys, columns, names, fields


def _typed(value: Any) -> Any:
    """``value`` with every part's exact type beside it: ``"4" == Text("4")``, but not typed (keys in any order)."""
    if isinstance(value, dict):
        return type(value), sorted(((_typed(key), _typed(item)) for key, item in value.items()), key=repr)
    if isinstance(value, list):
        return type(value), [_typed(item) for item in value]
    return type(value), value


@FUZZ
@given(
    case=NEAR_RECORD_LISTS,
    # Mostly no such column, so that the records' own flaws decide about half the chunks.
    statuses=st.one_of(st.just([]), st.just([]), st.lists(STATUS_NAMES, max_size=6)),
    identifiers=st.one_of(st.just([]), st.just([]), st.lists(IDENTIFIERS, max_size=6)),
)
def test_a_chunk_passes_whole_only_when_each_record_would_be_sent_as_it_is(case, statuses, identifiers):
    records, _ = case
    chunk = _as_columns(records)
    if chunk is None:
        return
    keys, columns, _, _ = chunk
    for key, extra in (("status", statuses), ("identifier", identifiers)):
        if extra and key not in keys and not (key == "status" and "status_id" in keys):
            keys.append(key)
            columns.append([extra[index % len(extra)] for index in range(len(columns[0]))])
    for spec in (UPDATE_RECORDS, ADD_RECORDS):
        TRIED["chunks checked whole"] += 1
        if not columns_in_normal_form(chunk, spec):
            continue
        TRIED["chunks passed whole"] += 1
        built = records_from_columns(chunk)
        assert _typed(check_records_one_by_one(built, WARSAW, "records", spec)) == _typed(built), chunk


@FUZZ
@given(case=NEAR_RECORD_LISTS)
def test_a_chunk_in_normal_form_passes_whole(case):
    records, normal = case
    chunk = _as_columns(records)
    if not normal or chunk is None:
        return
    TRIED["normal chunks"] += 1
    # Every row of an update changes something, but a sparse column may leave a row with nothing
    # in it: such a chunk may take the record-by-record path, which is only slower.
    if any(None not in column for key, column in zip(chunk[0], chunk[1], strict=True) if key != "phone_number"):
        assert columns_in_normal_form(chunk, UPDATE_RECORDS), chunk
        TRIED["normal chunks passed"] += 1
    assert columns_in_normal_form(chunk, ADD_RECORDS), chunk


@FUZZ
@given(case=NEAR_RECORD_LISTS, size=st.integers(min_value=1, max_value=7))
def test_a_batch_of_columns_is_written_as_its_records_would_be(case, size):
    records, normal = case
    chunk = _as_columns(records)
    if not normal or chunk is None:
        return
    # The columns with a value in every row: what a CRM export mostly is.
    keys, columns, names, fields = chunk
    full = [(key, column) for key, column in zip(keys, columns, strict=True) if None not in column]
    full_fields = [(name, column) for name, column in zip(names, fields, strict=True) if None not in column]
    chunk = (
        [key for key, _ in full],
        [column for _, column in full],
        [name for name, _ in full_fields],
        [column for _, column in full_fields],
    )
    if not ColumnRows.fits(chunk):
        return
    TRIED["chunks written from columns"] += 1
    rows = ColumnRows(chunk, 0, len(chunk[1][0]))
    assert list(rows) == records_from_columns(chunk)
    for start in range(0, len(rows), size):
        batch = rows[start : start + size]
        assert msgspec.json.encode(batch.encodable()) == msgspec.json.encode(list(batch))
        if "phone_number" in chunk[0]:  # sent in another spelling: as a record with its phone rewritten is
            sent = [{**record, "phone_number": SEND_AS(record["phone_number"])} for record in batch]
            assert msgspec.json.encode(batch.encodable(SEND_AS)) == msgspec.json.encode(sent)
        assert batch.phones() == [record["phone_number"] for record in batch]
        assert (
            [batch[index] for index in range(len(batch))]
            == list(batch)
            == records_from_columns(chunk)[start : start + size]
        )


@settings(FUZZ, max_examples=100)
@given(
    chunks=st.lists(st.tuples(NEAR_RECORD_LISTS, st.booleans()), min_size=1, max_size=4),
    size=st.integers(min_value=1, max_value=7),
)
def test_a_spool_of_chunks_comes_in_runs_of_the_batch_size_in_input_order(chunks, size):
    spool, expected = Spool(), []
    for (records, normal), as_columns in chunks:
        chunk = _as_columns(records) if normal else None  # a spool holds checked items only
        if chunk is not None and as_columns:
            spool.append(chunk, full=not any(None in column for column in (*chunk[1], *chunk[3])))
            expected += records_from_columns(chunk)
        elif chunk is not None:
            spool.append(records)
            expected += records
    runs = list(spool.slices(size))
    assert [len(run) for run in runs[:-1]] == [size] * (len(runs) - 1)
    assert [record for run in runs for record in run] == expected == list(spool)
    spool.close()


def test_a_key_twice_or_record_fields_as_one_value_takes_the_record_path():
    twice: Columns = (["phone_number", "phone_number", "status_id"], [["481"], ["482"], [1]], [], [])
    as_text: Columns = (["phone_number", "record_fields"], [["481"], ["hello"]], [], [])
    for chunk in (twice, as_text):
        assert not columns_in_normal_form(chunk, UPDATE_RECORDS)
        assert not columns_in_normal_form(chunk, ADD_RECORDS)


def test_ids_are_read_from_digits_only():
    assert ids_from_digits(["2", "007", "123456789012345678"]) == [2, 7, 123456789012345678]
    for flawed in (["2", "1234567890123456789"], ["2", " 3"], ["2", "\uff13"], ["2", "3\n4"], ["2", ""], [2, "3"]):
        assert ids_from_digits(flawed) is None, flawed


def test_records_from_columns_leave_out_what_a_row_has_no_value_for():
    chunk: Columns = (
        ["phone_number", "status_id"],
        [["481", "482", "483"], [2, None, 3]],
        ["crm_id", "segment"],
        [["C-1", None, None], ["a", "b", None]],
    )
    assert records_from_columns(chunk) == [
        {"phone_number": "481", "status_id": 2, "record_fields": {"crm_id": "C-1", "segment": "a"}},
        {"phone_number": "482", "record_fields": {"segment": "b"}},
        {"phone_number": "483", "status_id": 3},
    ]


def test_zz_both_answers_came_up_often_enough(capsys):
    with capsys.disabled():
        print(f"\ncolumn checks tried: {dict(TRIED)}")
    assert 60 <= TRIED["chunks passed whole"] <= TRIED["chunks checked whole"] - 60, dict(TRIED)
    assert TRIED["normal chunks passed"] >= 20, dict(TRIED)
    assert TRIED["chunks written from columns"] >= 20, dict(TRIED)
