"""The ``thulium`` asset URI scheme as Airflow uses it: registered by the provider, checked when an asset is made."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.assets import Asset

from airflow_provider_thulium.version_compat import AIRFLOW_V_3_0_PLUS


@pytest.fixture(autouse=True)
def strict_uris(monkeypatch):
    # Airflow 2.11 only warns about a URI its scheme's normaliser refuses, unless told to be strict
    # (Airflow 3 always refuses it).
    monkeypatch.setenv("AIRFLOW__CORE__STRICT_DATASET_URI_VALIDATION", "True")


def test_airflow_finds_the_scheme_in_the_provider_metadata():
    if AIRFLOW_V_3_0_PLUS:
        from airflow.providers_manager import ProvidersManager

        handlers, converters = (
            ProvidersManager().asset_uri_handlers,
            ProvidersManager().asset_to_openlineage_converters,
        )
    else:
        from airflow.providers_manager import ProvidersManager

        handlers, converters = (
            ProvidersManager().dataset_uri_handlers,
            ProvidersManager().dataset_to_openlineage_converters,
        )
    assert handlers["thulium"].__qualname__ == "sanitize_uri"
    assert converters["thulium"].__qualname__ == "convert_asset_to_openlineage"


def test_an_asset_uri_is_normalised_by_the_providers_rule():
    assert Asset("thulium://ACME.thulium.com:443/outbounds/1/").uri == "thulium://acme.thulium.com/outbounds/00001"
    # Airflow 3 names an asset by the text it was given: the same URI, written two ways, is two assets there.
    assert (
        Asset("thulium://acme.thulium.com/outbounds/1").uri == Asset("thulium://acme.thulium.com/outbounds/00001").uri
    )


def test_a_malformed_asset_uri_is_refused_by_airflow():
    # The cases are in tests/unit/test_lineage.py; here, that Airflow applies the provider's rule.
    with pytest.raises(ValueError, match="is /outbounds/<campaign id>"):
        Asset("thulium://acme.thulium.com/campaigns/00001")
