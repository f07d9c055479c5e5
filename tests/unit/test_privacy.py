"""Every form of the connection's secrets is scrubbed from what a server sends back (no server)."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest

from airflow_provider_thulium.privacy import SECRET_MASK, Secret, hide_url_credentials

LOGIN, PASSWORD = "api.user", "p?>wd/é~~~"


def forms() -> list[str]:
    token = base64.b64encode(f"{LOGIN}:{PASSWORD}".encode("latin-1")).decode()
    assert "/" in token or "+" in token  # the escaped form below is the one PHP's json_encode writes
    return [PASSWORD, quote(PASSWORD, safe=""), token, f"Basic {token}"]


@pytest.mark.parametrize("form", forms())
def test_8_each_form_of_the_secret_is_removed_from_text_bytes_and_json(form):
    secret = Secret(PASSWORD, LOGIN)
    text = f"the proxy says: {form} (sent by api.user)"
    assert secret.in_text(text)
    assert form not in secret.removed(text) and SECRET_MASK in secret.removed(text)
    escaped = json.dumps({"message": text}).replace("/", "\\/")  # PHP escapes "/"
    assert secret.in_bytes(escaped.encode())
    assert form not in json.dumps(secret.removed(json.loads(escaped)))
    assert secret.removed(escaped).count(SECRET_MASK) >= 1 and form.replace("/", "\\/") not in secret.removed(escaped)


def test_a_short_password_is_not_looked_for_alone_but_its_header_is():
    secret = Secret("abc", "u")
    token = base64.b64encode(b"u:abc").decode()
    assert secret.removed(f"abc {token}") == f"abc {SECRET_MASK}"
    assert not Secret(None) and Secret(None).removed("x") == "x"


def test_12_credentials_in_urls_are_cut_out():
    assert hide_url_credentials("file s3://key:se%2Fcret@bucket/a@b.csv, row 3") == "file s3://bucket/a@b.csv, row 3"
    assert hide_url_credentials("/data/leads.csv") == "/data/leads.csv"
