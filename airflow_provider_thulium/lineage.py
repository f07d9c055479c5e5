"""How a campaign is named in lineage: the ``thulium`` asset URI scheme and its OpenLineage dataset.

A campaign is the asset ``thulium://<account host>[:port]/outbounds/<campaign_id>`` and the
OpenLineage dataset of namespace ``thulium://<account host>[:port]`` and name
``outbounds/<campaign_id>``. The account host is the connection's host without scheme or ``/api``,
as :func:`~airflow_provider_thulium.settings.api_base_url` reads it, so an asset a DAG declares and
the dataset a task reports name the same campaign the same way.

Nothing here imports OpenLineage at module level: the provider works without it installed. The
operators' ``get_openlineage_facets_on_complete`` and the hook's lineage calls use these functions.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import SplitResult, urlsplit

from airflow_provider_thulium.checks.records import normalize_campaign_id
from airflow_provider_thulium.exceptions import ThuliumConfigurationError, ThuliumValidationError
from airflow_provider_thulium.settings import api_base_url

#: The asset URI scheme of a Thulium campaign.
SCHEME = "thulium"

_DEFAULT_PORTS = {"https": 443, "http": 80}

log = logging.getLogger(__name__)


def account_namespace(base_url: str) -> str:
    """The OpenLineage namespace of an account: ``thulium://<host>[:port]`` of its API root.

    :param base_url: the account's API root, as :attr:`ThuliumHook.base_url` gives it
        (``https://acme.thulium.com/api/``); a default port (443 for https, 80 for http) is left out.
    """
    parts = urlsplit(base_url)
    netloc = parts.netloc
    if parts.port is not None and parts.port == _DEFAULT_PORTS.get(parts.scheme):
        netloc = netloc.rpartition(":")[0]
    return f"{SCHEME}://{netloc}"


def campaign_name(campaign_id: str | int) -> str:
    """The OpenLineage dataset name of a campaign: ``outbounds/<campaign_id>``, the id zero-padded.

    :param campaign_id: five-character campaign id, or an int that is zero-padded.
    """
    return f"outbounds/{normalize_campaign_id(campaign_id)}"


def campaign_uri(base_url: str, campaign_id: str | int) -> str:
    """The asset URI of a campaign of the account at ``base_url``: ``thulium://<host>[:port]/outbounds/<id>``.

    :param base_url: the account's API root (``https://acme.thulium.com/api/``).
    :param campaign_id: five-character campaign id, or an int that is zero-padded.
    """
    return f"{account_namespace(base_url)}/{campaign_name(campaign_id)}"


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Normalise a ``thulium://`` asset URI, or raise ``ValueError`` saying what is wrong with it.

    Airflow calls this for every ``Asset("thulium://…")`` (registered in the provider's metadata).
    The host is read as a connection's host is (lower case, IDNA, a default port dropped) and the
    path must be ``/outbounds/<campaign id>``: ``thulium://ACME.thulium.com/outbounds/1`` becomes
    ``thulium://acme.thulium.com/outbounds/00001``.

    :param uri: the URI split by Airflow, already without a password, fragment or trailing slash.
    """
    example = "e.g. thulium://acme.thulium.com/outbounds/00001"
    if not uri.netloc:
        raise ValueError(f"a thulium:// asset URI names the account's host first, {example}")
    if "@" in uri.netloc:
        raise ValueError(f"a thulium:// asset URI holds no user name, only the account's host, {example}")
    if uri.query:
        raise ValueError(f"a thulium:// asset URI has no query, {example}")
    try:
        namespace = account_namespace(api_base_url(uri.netloc, None, allow_http=True, source="The asset URI"))
    except ThuliumConfigurationError as exc:
        raise ValueError(str(exc)) from None
    root, outbounds, campaign = uri.path.partition("/outbounds/")
    if root or not outbounds or "/" in campaign:
        raise ValueError(f"the path of a thulium:// asset URI is /outbounds/<campaign id>, {example}")
    try:
        name = campaign_name(campaign)
    except ThuliumValidationError as exc:
        raise ValueError(f"the asset URI's {exc}") from None
    return uri._replace(netloc=namespace.removeprefix(f"{SCHEME}://"), path=f"/{name}")


def convert_asset_to_openlineage(asset: Any, lineage_context: Any) -> Any:
    """The OpenLineage dataset of a ``thulium://`` asset: namespace ``thulium://<host>``, name ``outbounds/<id>``.

    Registered in the provider's metadata; the OpenLineage provider calls it for assets of hook
    lineage and of a task's inlets and outlets.

    :param asset: an asset whose URI Airflow has normalised with :func:`sanitize_uri`.
    :param lineage_context: what the OpenLineage provider passes along; not needed here.
    """
    from airflow.providers.common.compat.openlineage.facet import Dataset

    parts = urlsplit(asset.uri)
    return Dataset(namespace=f"{SCHEME}://{parts.netloc}", name=parts.path.lstrip("/"))


def file_dataset(path: Any) -> tuple[str, str]:
    """The OpenLineage namespace and name of a file, as Airflow's file assets and transfers name it.

    A local path (or ``file://`` URL) is namespace ``file`` with the absolute path as name, as
    common-io's ``file`` assets convert; an object-storage URL (``s3://bucket/key``) is namespace
    ``s3://bucket`` with the key as name, as ``ObjectStoragePath`` and the file transfer operator
    name it. Credentials in the URL are left out.

    :param path: a path or URL, or an ``ObjectStoragePath``.
    """
    parts = urlsplit(str(path))
    if parts.scheme in ("", "file"):
        local = parts.path if parts.scheme else str(path)
        return "file", os.path.abspath(local)
    # A user name and password in the URL (s3://key:secret@bucket/...) never reach a lineage event.
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}", parts.path.lstrip("/")


def source_inputs(source: Any) -> list[Any]:
    """The OpenLineage input datasets of an operator's input when it is a source (a file or a query).

    Read by duck typing, so any object with these public attributes works: a source with ``sql``
    and ``conn_id`` reports the tables the query reads, as common-sql's lineage helpers name them
    (nothing when the connection's hook cannot say); one with ``path`` reports that file. Other
    input (a list, an ``XComArg``'s value) reports nothing.

    :param source: the operator's input, unwrapped.
    """
    sql, conn_id, path = (getattr(source, name, None) for name in ("sql", "conn_id", "path"))
    if isinstance(sql, (str, list)) and isinstance(conn_id, str):
        return _sql_inputs(sql, conn_id)
    if path is not None:
        from airflow.providers.common.compat.openlineage.facet import InputDataset

        namespace, name = file_dataset(path)
        return [InputDataset(namespace=namespace, name=name)]
    return []


def table_dataset(conn_id: str, table: str) -> tuple[str, str]:
    """The OpenLineage namespace and name of a table written through a connection.

    As common-sql names the table of an ``INSERT`` when the connection's hook can say (its
    database info: ``postgres://host:5432`` and ``database.schema.table``); otherwise the
    connection's type, host and port as namespace (no credentials) and the table as given.

    :param conn_id: the SQL connection.
    :param table: the table, optionally with its schema.
    """
    from airflow_provider_thulium.version_compat import BaseHook

    connection = BaseHook.get_connection(conn_id)
    try:
        from airflow.providers.common.compat.openlineage.utils.sql import get_openlineage_facets_with_sql

        lineage = get_openlineage_facets_with_sql(
            # Parsed for its table, never run (and the table name was checked when the destination was made).
            hook=connection.get_hook(),
            sql=f"INSERT INTO {table} VALUES (1)",  # noqa: S608
            conn_id=conn_id,
            database=None,
        )
    except Exception:  # lineage is a report: a hook that cannot say must not fail the task
        log.debug("no SQL lineage for connection %s", conn_id, exc_info=True)
        lineage = None
    outputs = list(lineage.outputs) if lineage is not None else []
    if outputs:
        return outputs[0].namespace, outputs[0].name
    port = f":{connection.port}" if connection.port else ""
    return f"{connection.conn_type}://{connection.host or ''}{port}", table


def _sql_inputs(sql: str | list[str], conn_id: str) -> list[Any]:
    from airflow.providers.common.compat.openlineage.utils.sql import get_openlineage_facets_with_sql

    from airflow_provider_thulium.version_compat import BaseHook

    try:
        hook = BaseHook.get_connection(conn_id).get_hook()
        lineage = get_openlineage_facets_with_sql(hook=hook, sql=sql, conn_id=conn_id, database=None)
    except Exception:  # lineage is a report: a hook that cannot parse its SQL must not fail the task
        log.debug("no SQL lineage for connection %s", conn_id, exc_info=True)
        return []
    return list(lineage.inputs) if lineage is not None else []


__all__ = [
    "SCHEME",
    "account_namespace",
    "campaign_name",
    "campaign_uri",
    "convert_asset_to_openlineage",
    "file_dataset",
    "sanitize_uri",
    "source_inputs",
    "table_dataset",
]
