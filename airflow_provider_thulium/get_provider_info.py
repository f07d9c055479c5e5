"""Provider metadata read by Airflow's providers manager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_thulium import __version__

# The connection form, as data. Airflow 3.2+ reads it from here; older versions ask the hook's
# ``get_connection_form_widgets`` / ``get_ui_field_behaviour``, which are built from these same
# dicts so the two forms cannot drift apart.
CONNECTION_EXTRA_FIELDS: dict[str, dict[str, Any]] = {
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "Seconds one attempt may take, from connecting to the last byte of the answer. Default 30.",
        "schema": {"type": ["number", "null"], "default": None},
        "placeholder": "30",
    },
    "verify": {
        "label": "Verify TLS",
        "description": "true (default), false, or the path of a CA bundle for a private certificate.",
        "schema": {"type": ["string", "null"], "default": None},
        "placeholder": "true",
    },
    "max_retries": {
        "label": "Max retries",
        "description": "Retries of one request after a timeout, dropped connection, 429 or 5xx. Default 5.",
        "schema": {"type": ["integer", "null"], "default": None},
        "placeholder": "5",
    },
    "max_concurrent_requests": {
        "label": "Concurrent requests",
        "description": "Batches sent at once. Default 1 (Thulium documents no rate limit).",
        "schema": {"type": ["integer", "null"], "default": None},
        "placeholder": "1",
    },
    "timezone": {
        "label": "Account time zone",
        "description": "Time zone of next_call_date on this account. Default Europe/Warsaw.",
        "schema": {"type": ["string", "null"], "default": None},
        "placeholder": "Europe/Warsaw",
    },
    "phone_region": {
        "label": "Phone region",
        "description": "ISO 3166 code (e.g. PL): +48 500 100 201, 0048500100201 and 500100201 are then one number, "
        "sent as phone_format says. Default: none, numbers are taken as written.",
        "schema": {"type": ["string", "null"], "default": None},
        "placeholder": "PL",
    },
    "phone_format": {
        "label": "Phone format",
        "description": "How the campaigns store numbers: as_given (default), digits (48500100201), plus "
        "(+48500100201), or national (500100201, with a phone region).",
        "schema": {"type": ["string", "null"], "default": None},
        "placeholder": "digits",
    },
    "accept_language": {
        "label": "Language of error messages",
        "description": "pl for Thulium's error texts in Polish. Default: none sent, Thulium answers in English.",
        "schema": {"type": ["string", "null"], "default": None},
        "placeholder": "en",
    },
}

CONNECTION_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port"],
    "relabeling": {
        "host": "Account address",
        "login": "API user",
        "password": "API password",
    },
    "placeholders": {
        "host": "acme.thulium.com or https://acme.thulium.com/api",
        "login": "API user login (Administration > Users > API users)",
        "password": "API user password",
        "extra": '{"timeout": 30, "max_retries": 5, "verify": true}',
    },
}


def connection_placeholders() -> dict[str, str]:
    """Placeholders of the standard fields and of the extras, as both forms show them."""
    return {
        **CONNECTION_FIELD_BEHAVIOUR["placeholders"],
        **{name: field["placeholder"] for name, field in CONNECTION_EXTRA_FIELDS.items()},
    }


# The ``thulium`` asset URI scheme (airflow_provider_thulium.lineage): Airflow 3 reads "asset-uris",
# Airflow 2.11 the same entry as "dataset-uris".
ASSET_URIS: list[dict[str, Any]] = [
    {
        "schemes": ["thulium"],
        "handler": "airflow_provider_thulium.lineage.sanitize_uri",
        "to_openlineage_converter": "airflow_provider_thulium.lineage.convert_asset_to_openlineage",
    }
]


def get_provider_info() -> dict[str, Any]:
    """Describe the package to Airflow's providers manager."""
    return {
        "package-name": "airflow-provider-thulium",
        "name": "Thulium",
        "description": (
            "Thulium contact-centre API: add, update, remove and read outbound campaign records (statuses by "
            "name, agents, next call dates), in batches with per-phone results in XCom; export call outcomes to "
            "files and SQL tables; wait on a campaign (sensor, trigger, asset watcher); a local sandbox for tests."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Thulium",
                "external-doc-url": "https://thulium.com/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Thulium",
                "python-modules": ["airflow_provider_thulium.hooks.thulium"],
            }
        ],
        "operators": [
            {
                "integration-name": "Thulium",
                "python-modules": ["airflow_provider_thulium.operators.thulium"],
            }
        ],
        "sensors": [
            {
                "integration-name": "Thulium",
                "python-modules": ["airflow_provider_thulium.sensors.thulium"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Thulium",
                "python-modules": ["airflow_provider_thulium.triggers.thulium"],
            }
        ],
        "asset-uris": ASSET_URIS,
        "dataset-uris": ASSET_URIS,
        "connection-types": [
            {
                "connection-type": "thulium",
                "hook-class-name": "airflow_provider_thulium.hooks.thulium.ThuliumHook",
                "hook-name": "Thulium",
                "conn-fields": {
                    name: {key: value for key, value in field.items() if key != "placeholder"}
                    for name, field in CONNECTION_EXTRA_FIELDS.items()
                },
                "ui-field-behaviour": {**CONNECTION_FIELD_BEHAVIOUR, "placeholders": connection_placeholders()},
            }
        ],
    }
