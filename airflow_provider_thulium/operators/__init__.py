"""Airflow operators.

``thulium`` holds the records operators (delete, update, add) and the campaign sync, each a thin
layer over :class:`~airflow_provider_thulium.hooks.thulium.ThuliumHook`.
"""
