"""Airflow triggers.

``thulium`` holds :class:`~airflow_provider_thulium.triggers.thulium.ThuliumCampaignTrigger`: a
campaign's records counted in the triggerer until few enough are left to call, for a deferred
sensor, or (on Airflow 3) for an ``AssetWatcher``.
"""
