"""Airflow sensors.

``thulium`` holds :class:`~airflow_provider_thulium.sensors.thulium.ThuliumCampaignSensor`: wait
until a campaign has been called through (few enough records left in the statuses still to call).
"""
