"""A campaign's agents: read from the API, and the ``agent_login`` of records checked against them before sending.

A record can be assigned only to an agent of its campaign (``GET outbounds/:id/agents``,
docs/thulium-api.md, "Agents"); Thulium answers any other login per phone ("Agent not found."),
after the whole batch was sent. Checked here first, an unknown login is refused like an unknown
status name: nothing is sent.

Agents inactive in the campaign (``active_in_outbound`` false) are accepted: they are still the
campaign's agents, a record may wait for its agent's return, and refusing them would stop a
whole sync over one agent's holiday.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypedDict

from airflow_provider_thulium.checks.records import item_name
from airflow_provider_thulium.exceptions import ThuliumResponseError, ThuliumValidationError
from airflow_provider_thulium.privacy import mask_phone, shown_value

#: The record field that assigns an agent.
AGENT_FIELD = "agent_login"
_MAX_LISTED = 30


class CampaignAgent(TypedDict):
    """One agent of a campaign.

    :param login: what records give as ``agent_login``.
    :param active_in_outbound: whether the agent takes calls of the campaign now.
    """

    login: str
    active_in_outbound: bool


def read_agents(payload: Any, description: str) -> list[CampaignAgent]:
    """The agents from an answer of ``GET outbounds/:id/agents``.

    :param payload: the answer's JSON.
    :param description: names the request in an error.
    """
    if not isinstance(payload, list):
        raise ThuliumResponseError(f"{description} answered {type(payload).__name__} instead of a list of agents")
    agents: list[CampaignAgent] = []
    for item in payload:
        login = item.get("login") if isinstance(item, dict) else None
        if not isinstance(login, str) or not login:
            raise ThuliumResponseError(f"{description} answered an agent without a login")
        agents.append({"login": login, "active_in_outbound": item.get("active_in_outbound") is not False})
    return agents


def _listing(agents: Sequence[CampaignAgent]) -> str:
    names = [agent["login"] + ("" if agent["active_in_outbound"] else " (inactive)") for agent in agents]
    more = len(names) - _MAX_LISTED
    return (", ".join(names[:_MAX_LISTED]) or "none") + (f" and {more} more" if more > 0 else "")


def check_agent_logins(
    records: Iterable[dict[str, Any]], agents: Sequence[CampaignAgent], campaign_id: str, field: str = "records"
) -> None:
    """Raise :class:`ThuliumValidationError` for the first record assigned to an agent the campaign lacks.

    :param records: checked records (``agent_login`` stripped).
    :param agents: the campaign's agents.
    :param campaign_id: the campaign, for the message.
    :param field: the input's name, for the message (a source's
        :class:`~airflow_provider_thulium.checks.records.RowNames` names its rows).
    """
    logins = {agent["login"] for agent in agents}
    for index, record in enumerate(records):
        login = record.get(AGENT_FIELD)
        if login is not None and login not in logins:
            raise ThuliumValidationError(
                f"{item_name(field, index)} (phone {mask_phone(record['phone_number'])}).{AGENT_FIELD}: "
                f"campaign {campaign_id} has no agent {shown_value(login)}; its agents: {_listing(agents)}"
            )
