"""The provider and its ``thulium`` connection form, as Airflow's own ProvidersManager sees them.

Runs on Airflow 2.11 and 3.x. The two read the form from different places:

* Airflow 3.2+ reads ``conn-fields`` / ``ui-field-behaviour`` from ``get_provider_info()`` without
  importing the hook; its extra widgets are plain dicts (``{"schema": {"title": ...}, ...}``).
* Airflow 2.11 imports the hook and calls ``get_connection_form_widgets()`` /
  ``get_ui_field_behaviour()``; its extra widgets are unbound WTForms fields.

Both end up in ``ProvidersManager().connection_form_widgets`` (keys ``extra__thulium__<name>``) and
``ProvidersManager().field_behaviours["thulium"]`` (extra placeholders prefixed the same way), so the
tests read those and convert each version's widget to (label, description).
"""

from __future__ import annotations

import os
import re
import warnings
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import pytest
from airflow import __version__ as airflow_release
from packaging.version import Version

from airflow_provider_thulium import __version__
from airflow_provider_thulium.get_provider_info import get_provider_info

airflow_version = Version(Version(airflow_release).base_version)
READS_PROVIDER_INFO_FORM = airflow_version >= Version("3.2")  # conn-fields / ui-field-behaviour

PACKAGE = "airflow-provider-thulium"
HOOK_CLASS = "airflow_provider_thulium.hooks.thulium.ThuliumHook"

EXPECTED_HIDDEN = ["schema", "port"]
EXPECTED_RELABELING = {"host": "Account address", "login": "API user", "password": "API password"}
EXPECTED_STANDARD_PLACEHOLDERS = {
    "host": "acme.thulium.com or https://acme.thulium.com/api",
    "login": "API user login (Administration > Users > API users)",
    "password": "API user password",
    "extra": '{"timeout": 30, "max_retries": 5, "verify": true}',
}
# name -> (label, placeholder, JSON-schema type on Airflow 3.2+)
EXPECTED_EXTRAS = {
    "timeout": ("Timeout (seconds)", "30", "number"),
    "verify": ("Verify TLS", "true", "string"),
    "max_retries": ("Max retries", "5", "integer"),
    "max_concurrent_requests": ("Concurrent requests", "1", "integer"),
    "timezone": ("Account time zone", "Europe/Warsaw", "string"),
    "phone_region": ("Phone region", "PL", "string"),
    "phone_format": ("Phone format", "digits", "string"),
    "accept_language": ("Language of error messages", "en", "string"),
}


@pytest.fixture(scope="module")
def providers_manager() -> Any:
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager()


def _quiet(getter):
    """Read a ProvidersManager property; 3.x warns that ``.hooks`` moved to the Task SDK."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getter()


def _widget_label_and_description(field: Any) -> tuple[str, str | None]:
    """(label, description) of one extra widget, whichever form this Airflow version keeps it in."""
    if isinstance(field, dict):  # Airflow 3.2+: from conn-fields, already in Param.dump() format
        return field["schema"]["title"], field.get("description")
    if type(field).__name__ == "UnboundField":  # Airflow 2.11: from the hook's WTForms fields
        label = field.args[0] if field.args else field.kwargs["label"]
        return str(label), field.kwargs.get("description")
    raise AssertionError(f"unexpected widget type {type(field)!r}: {field!r}")


def _thulium_widgets(providers_manager: Any) -> dict[str, Any]:
    widgets = _quiet(lambda: providers_manager.connection_form_widgets)
    return {key: info for key, info in widgets.items() if key.startswith("extra__thulium__")}


# -- the provider and its connection type --


def test_provider_is_listed_with_its_version(providers_manager):
    providers = _quiet(lambda: providers_manager.providers)
    assert PACKAGE in providers
    info = providers[PACKAGE]
    assert info.version == __version__ == dist_version(PACKAGE)
    assert info.data["package-name"] == PACKAGE
    assert info.data["versions"][0] == __version__


def test_the_description_names_everything_the_provider_does(providers_manager):
    listed = _quiet(lambda: providers_manager.providers)[PACKAGE].data["description"]  # `airflow providers list`
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    (summary,) = re.findall(r'^description = "(.*)"$', pyproject, re.MULTILINE)  # a package index's summary
    for description in (listed, summary):
        assert all(
            f"{verb}," in description or f"{verb} " in description for verb in ("add", "update", "remove", "read")
        )


def test_connection_type_maps_to_the_hook(providers_manager):
    hooks = _quiet(lambda: providers_manager.hooks)
    assert "thulium" in hooks
    hook_info = _quiet(lambda: hooks["thulium"])  # imports the hook lazily
    assert hook_info is not None, "ProvidersManager failed to import ThuliumHook (see log warnings)"
    assert hook_info.hook_class_name == HOOK_CLASS
    assert hook_info.hook_name == "Thulium"
    assert hook_info.connection_type == "thulium"
    assert hook_info.connection_id_attribute_name == "thulium_conn_id"
    assert hook_info.package_name == PACKAGE


def test_sensors_and_triggers_are_registered_and_importable(providers_manager):
    import importlib

    info = get_provider_info()
    modules = {
        section: [m for item in info[section] for m in item["python-modules"]] for section in ("sensors", "triggers")
    }
    assert modules == {
        "sensors": ["airflow_provider_thulium.sensors.thulium"],
        "triggers": ["airflow_provider_thulium.triggers.thulium"],
    }
    assert hasattr(importlib.import_module(modules["sensors"][0]), "ThuliumCampaignSensor")
    assert hasattr(importlib.import_module(modules["triggers"][0]), "ThuliumCampaignTrigger")
    triggers = _quiet(lambda: providers_manager.trigger)  # what the triggerer lists as installed triggers
    assert any(
        trigger.package_name == PACKAGE and "airflow_provider_thulium.triggers.thulium" in trigger.trigger_class_name
        for trigger in triggers
    )


def test_provider_info_passes_this_airflows_schema():
    from airflow.providers_manager import (
        _create_customized_form_field_behaviours_schema_validator,
        _create_provider_info_schema_validator,
    )

    from airflow_provider_thulium.hooks.thulium import ThuliumHook

    _create_provider_info_schema_validator().validate(get_provider_info())
    _create_customized_form_field_behaviours_schema_validator().validate(ThuliumHook.get_ui_field_behaviour())


# -- the form: standard fields --


def test_field_behaviour(providers_manager):
    behaviours = _quiet(lambda: providers_manager.field_behaviours)
    assert "thulium" in behaviours
    behaviour = behaviours["thulium"]
    assert sorted(behaviour["hidden_fields"]) == sorted(EXPECTED_HIDDEN)
    assert behaviour["relabeling"] == EXPECTED_RELABELING
    placeholders = behaviour["placeholders"]
    for field, text in EXPECTED_STANDARD_PLACEHOLDERS.items():
        assert placeholders[field] == text, field
    # Placeholders of extra fields are namespaced by Airflow (both versions) like the widgets.
    for name, (_, text, _) in EXPECTED_EXTRAS.items():
        assert placeholders[f"extra__thulium__{name}"] == text, name
    expected_keys = set(EXPECTED_STANDARD_PLACEHOLDERS) | {f"extra__thulium__{n}" for n in EXPECTED_EXTRAS}
    assert set(placeholders) == expected_keys


# -- the form: extra fields --


def test_extra_widgets_and_labels(providers_manager):
    widgets = _thulium_widgets(providers_manager)
    assert set(widgets) == {f"extra__thulium__{name}" for name in EXPECTED_EXTRAS}
    for name, (label, _, _) in EXPECTED_EXTRAS.items():
        info = widgets[f"extra__thulium__{name}"]
        assert info.field_name == name
        assert info.package_name == PACKAGE
        # 3.x records the full dotted path, 2.11 only the class name.
        assert HOOK_CLASS.endswith(info.hook_class_name)
        assert info.is_sensitive is False
        got_label, description = _widget_label_and_description(info.field)
        assert got_label == label, name
        assert description, f"{name} has no description"


def test_widgets_come_from_where_this_version_reads_them(providers_manager):
    """3.2+: plain dicts from conn-fields (typed, no hook import); older: the hook's WTForms fields."""
    widgets = _thulium_widgets(providers_manager)
    for name, (_, _, json_type) in EXPECTED_EXTRAS.items():
        field = widgets[f"extra__thulium__{name}"].field
        if READS_PROVIDER_INFO_FORM:
            assert isinstance(field, dict), name
            assert field["schema"]["type"] == [json_type, "null"], name
            assert field["value"] is None, name  # empty by default: the hook's defaults apply
        else:
            assert type(field).__name__ == "UnboundField", name
            assert field.field_class.__name__ == "StringField", name


@pytest.mark.skipif(not READS_PROVIDER_INFO_FORM, reason="UI metadata iterator exists from Airflow 3.2")
def test_ui_metadata_without_importing_hooks(providers_manager):
    entries = {m.connection_type: m for m in providers_manager.iter_connection_type_hook_ui_metadata()}
    meta = entries["thulium"]
    assert meta.hook_name == "Thulium"
    assert meta.hook_class_name == HOOK_CLASS
    assert meta.field_behaviour["relabeling"] == EXPECTED_RELABELING


def test_hook_field_behaviour_agrees_with_provider_info():
    """The form Airflow 2.11 reads (hook) and the one 3.2+ reads (provider info) are the same form."""
    from airflow_provider_thulium.hooks.thulium import ThuliumHook

    (conn_type,) = get_provider_info()["connection-types"]
    declared = conn_type["ui-field-behaviour"]
    from_hook = ThuliumHook.get_ui_field_behaviour()
    assert from_hook["hidden_fields"] == declared["hidden-fields"]
    assert from_hook["relabeling"] == declared["relabeling"]
    assert from_hook["placeholders"] == declared["placeholders"]


def test_hook_widgets_agree_with_provider_info():
    from airflow_provider_thulium.hooks.thulium import ThuliumHook

    (conn_type,) = get_provider_info()["connection-types"]
    pytest.importorskip("flask_appbuilder", reason="the hook's WTForms widgets need FAB (not installed on 3.x)")
    widgets = ThuliumHook.get_connection_form_widgets()
    assert list(widgets) == list(conn_type["conn-fields"])
    for name, field in widgets.items():
        label, description = _widget_label_and_description(field)
        assert label == conn_type["conn-fields"][name]["label"]
        assert description == conn_type["conn-fields"][name]["description"]


# -- Airflow 3: what the UI is served --


@pytest.mark.skipif(airflow_version < Version("3.0"), reason="the React UI and /ui/connections/hook_meta are Airflow 3")
def test_api_server_hook_meta_serves_the_thulium_form(airflow_db, monkeypatch):
    pytest.importorskip("fastapi.testclient")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    monkeypatch.setenv(
        "AIRFLOW__CORE__AUTH_MANAGER",
        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    )
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", os.urandom(32).hex())
    from airflow.api_fastapi.app import create_app, purge_cached_app
    from fastapi.testclient import TestClient

    try:
        client = TestClient(create_app(apps="core"))
        response = client.get("/ui/connections/hook_meta")
    finally:
        purge_cached_app()
    assert response.status_code == 200, response.text[:500]
    entries = [entry for entry in response.json() if entry["connection_type"] == "thulium"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["hook_name"] == "Thulium"
    assert entry["hook_class_name"] == HOOK_CLASS

    standard = entry["standard_fields"]
    assert standard["url_schema"]["hidden"] is True
    assert standard["port"]["hidden"] is True
    for field, label in EXPECTED_RELABELING.items():
        assert standard[field]["hidden"] is False
        assert standard[field]["title"] == label
        assert standard[field]["placeholder"] == EXPECTED_STANDARD_PLACEHOLDERS[field]

    extras = entry["extra_fields"]
    assert set(extras) == set(EXPECTED_EXTRAS)
    for name, (label, _, json_type) in EXPECTED_EXTRAS.items():
        assert extras[name]["schema"]["title"] == label
        assert extras[name]["schema"]["type"] == [json_type, "null"]
        assert extras[name]["description"]
