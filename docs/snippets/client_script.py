"""The hook's guide: the client without Airflow (run by tests/integration/test_docs.py)."""

# [START client_script]
from airflow_provider_thulium.client import ThuliumClient
from airflow_provider_thulium.settings import ThuliumSettings


def remove(host: str, login: str, password: str, phones: list[str]) -> dict:
    client = ThuliumClient.for_host(host, login, password, ThuliumSettings(timeout=10))
    try:
        return client.delete_records("00001", phones)
    finally:
        client.close()


# [END client_script]
