"""Airflow hooks.

``thulium`` holds :class:`~airflow_provider_thulium.hooks.thulium.ThuliumHook`: an Airflow connection
turned into the Thulium client's calls, for ``@task`` code and the operators.
"""
