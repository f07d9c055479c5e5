"""How a campaign and a file are named in lineage: the asset URI, the OpenLineage namespace and name."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import pytest

from airflow_provider_thulium.lineage import (
    account_namespace,
    campaign_name,
    campaign_uri,
    file_dataset,
    sanitize_uri,
    source_inputs,
)


@pytest.mark.parametrize(
    ("base_url", "namespace"),
    [
        ("https://acme.thulium.com/api/", "thulium://acme.thulium.com"),
        ("https://acme.thulium.com:443/api/", "thulium://acme.thulium.com"),  # the default port is left out
        ("https://acme.thulium.com:8443/api/", "thulium://acme.thulium.com:8443"),
        ("http://127.0.0.1:8765/api/", "thulium://127.0.0.1:8765"),
        ("http://localhost:80/api/", "thulium://localhost"),
        ("http://[::1]:8765/api/", "thulium://[::1]:8765"),
        ("https://acme.callcenter.pl/prefix/api/", "thulium://acme.callcenter.pl"),
    ],
)
def test_account_namespace_is_the_api_roots_host_and_port(base_url, namespace):
    assert account_namespace(base_url) == namespace


def test_campaign_name_and_uri_pad_the_campaign_id():
    assert campaign_name(1) == "outbounds/00001"
    assert campaign_name("A1B2C") == "outbounds/A1B2C"
    assert campaign_uri("https://acme.thulium.com/api/", "7") == "thulium://acme.thulium.com/outbounds/00007"


def _sanitize(uri: str) -> str:
    return urlunsplit(sanitize_uri(urlsplit(uri)))


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("thulium://acme.thulium.com/outbounds/00001", "thulium://acme.thulium.com/outbounds/00001"),
        ("thulium://ACME.Thulium.com/outbounds/1", "thulium://acme.thulium.com/outbounds/00001"),
        ("thulium://acme.thulium.com:443/outbounds/00001", "thulium://acme.thulium.com/outbounds/00001"),
        ("thulium://127.0.0.1:8765/outbounds/00002", "thulium://127.0.0.1:8765/outbounds/00002"),
        ("thulium://acme.thulium.pl./outbounds/A1B2C", "thulium://acme.thulium.pl/outbounds/A1B2C"),
    ],
)
def test_sanitize_uri_normalises_what_a_connection_would_accept(given, normalised):
    assert _sanitize(given) == normalised
    assert _sanitize(normalised) == normalised  # Airflow normalises a normalised URI again


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("thulium:///outbounds/00001", "names the account's host first"),
        ("thulium://api_user@acme.thulium.com/outbounds/00001", "holds no user name"),
        ("thulium://acme.thulium.com/outbounds/00001?x=1", "has no query"),
        ("thulium://acme..thulium.com/outbounds/00001", "is not a valid host name"),
        ("thulium://acme.thulium.com:99999/outbounds/00001", "not a number from 1 to 65535"),
        ("thulium://acme.thulium.com", "/outbounds/<campaign id>"),
        ("thulium://acme.thulium.com/campaigns/00001", "/outbounds/<campaign id>"),
        ("thulium://acme.thulium.com/api/outbounds/00001", "/outbounds/<campaign id>"),
        ("thulium://acme.thulium.com/outbounds/00001/records", "/outbounds/<campaign id>"),
        ("thulium://acme.thulium.com/outbounds/123456", "is not a campaign id"),
    ],
)
def test_sanitize_uri_refuses_malformed_uris_saying_why(uri, problem):
    with pytest.raises(ValueError) as caught:
        _sanitize(uri)
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("path", "dataset"),
    [
        ("/data/opt_outs.csv", ("file", "/data/opt_outs.csv")),
        ("file:///data/opt_outs.csv", ("file", "/data/opt_outs.csv")),
        ("s3://crm-exports/2024/leads.parquet", ("s3://crm-exports", "2024/leads.parquet")),
        ("gs://bucket/results/00001.jsonl", ("gs://bucket", "results/00001.jsonl")),
    ],
)
def test_file_dataset_names_files_as_airflows_file_assets_and_transfers_do(path, dataset):
    assert file_dataset(path) == dataset


def test_file_dataset_makes_a_relative_path_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert file_dataset("results.csv") == ("file", str(tmp_path / "results.csv"))


def test_12_credentials_in_an_object_storage_url_never_reach_lineage_or_messages():
    # The finding: s3://key:secret@bucket/... put the key and secret into OpenLineage's namespace.
    from airflow_provider_thulium.sources import FileSource

    url = "s3://AKIAEXAMPLE:s3cr3t%2Fkey@crm-exports/leads/today.csv"
    assert file_dataset(url) == ("s3://crm-exports", "leads/today.csv")
    source = FileSource(url)
    assert "s3cr3t" not in source.describe() and "AKIAEXAMPLE" not in source.describe()
    pytest.importorskip("airflow.providers.openlineage")  # without it, common-compat gives no dataset class
    (dataset,) = source_inputs(source)
    assert (dataset.namespace, dataset.name) == ("s3://crm-exports", "leads/today.csv")
