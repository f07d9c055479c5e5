"""Whole-input checks: whether every record is already in the form the one-by-one check returns.

Checking 100,000 records one by one in Python costs more than sending them. These read the input
as columns (a list of dicts a key at a time; a source's chunk comes so) and ask each key's rule
(:data:`~airflow_provider_thulium.checks.rules.FIELD_RULES`) about its whole column, in a few
passes in C; the one-by-one check of :mod:`~airflow_provider_thulium.checks.records` runs only
when the answer is no: it finds the item, and names it in the error.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from itertools import repeat
from typing import Any

from airflow_provider_thulium.checks.columns import Columns
from airflow_provider_thulium.checks.rules import FIELD_RULES, RecordFieldsRule
from airflow_provider_thulium.checks.spec import STATUS_NAME_FIELD, RecordSpec

_PHONE = "phone_number"


def records_in_normal_form(records: Sequence[Any], spec: RecordSpec) -> bool:
    """Whether the records are dicts that :func:`~airflow_provider_thulium.checks.records.parse_records`
    would return unchanged, field for field.

    Stricter where that is simpler: records giving a status by its name beside others giving a
    ``status_id`` take the one-by-one path, which is only slower.

    :param records: the input, a list or tuple.
    :param spec: what the call's records may hold.
    """
    if not records or set(map(type, records)) != {dict}:
        return False
    keys = set().union(*records)
    # Each column is checked to hold its key's type, so no value is None: with the phone number,
    # a second key means a record has something to change.
    if not _keys_fit(keys, spec) or (spec.needs_change and min(map(len, records)) < 2):
        return False

    def column(key: str) -> list[Any]:
        return list(map(dict.get, records, repeat(key), repeat(FIELD_RULES[key].stand_in)))

    return _columns_normal(keys, column)


def columns_in_normal_form(chunk: Columns, spec: RecordSpec) -> bool:
    """Whether ``parse_records`` would return the chunk's records unchanged, field for field.

    A ``None`` is no value. Stricter than the record-by-record check where that is simpler (a
    column read as both a status name and a status id, an edit in which no column has a value in
    every row): the chunk then takes the record-by-record path, which is only slower.

    :param chunk: the columns, as :func:`~airflow_provider_thulium.checks.columns.records_from_columns` builds them.
    :param spec: what the call's records may hold.
    """
    keys, columns, names, fields = chunk
    # A key twice (the last one is the record's), or record_fields as one value (an object to check).
    if not _keys_fit(keys, spec) or len(set(keys)) != len(keys) or "record_fields" in keys:
        return False
    by_key = dict(zip(keys, columns, strict=True))
    if spec.needs_change:
        # A column with a value in every row (a record field's too) gives every record something to change.
        changing = [column for key, column in by_key.items() if key != _PHONE] + fields
        if not any(None not in column for column in changing):
            return False

    def column(key: str) -> list[Any]:
        values, stand_in = by_key[key], FIELD_RULES[key].stand_in
        if stand_in is None or None not in values:
            return values
        return [stand_in if value is None else value for value in values]

    # A field's None is no value, and passes as a null would.
    return (
        _columns_normal(keys, column)
        and RecordFieldsRule.names_normal(names)
        and all(map(RecordFieldsRule.values_normal, fields))
    )


def _keys_fit(keys: Collection[str], spec: RecordSpec) -> bool:
    """Whether the keys are the call's, and a status is not given both by its name and by its id."""
    return spec.accepted.issuperset(keys) and not (STATUS_NAME_FIELD in keys and "status_id" in keys)


def _columns_normal(keys: Collection[str], column: Callable[[str], list[Any]]) -> bool:
    """Whether each key's column, read by ``column`` (a missing value as its rule's stand-in), passes the key's rule.

    The phone's first: every record needs one. A column is read only when its turn comes, so a
    large input holds one at a time.
    """
    if _PHONE not in keys:
        return False
    return all(FIELD_RULES[key].all_normal(column(key)) for key in (_PHONE, *(key for key in keys if key != _PHONE)))
