"""Planning a sync: the desired records checked as an add's input, the campaign read once, the two compared."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from airflow_provider_thulium.calls.checked import CheckedCall
from airflow_provider_thulium.calls.operations import ADD, DELETE, Operation
from airflow_provider_thulium.checks.numbering import PhoneNumbering, digits_key
from airflow_provider_thulium.checks.options import parse_update_fields
from airflow_provider_thulium.checks.records import normalize_campaign_id, parse_flag
from airflow_provider_thulium.files.paths import paths_read
from airflow_provider_thulium.reading.campaign import CampaignRead
from airflow_provider_thulium.sync.plan import DEFAULT_UPDATE_FIELDS, SyncPlan, build_plan
from airflow_provider_thulium.sync.state import SyncState

#: Checks a call's input in full: (operation, campaign id, input, search_in_additional_numbers) → the checked call.
Check = Callable[[Operation, str | int, object, object], CheckedCall]


class SyncPlanner:
    """Plans what makes a campaign match a desired set of records; sends nothing that writes.

    :param check: checks the desired records, as an add's input (status names resolved, agents checked).
    :param read_campaign: reads every record of a campaign, given its five-character id.
    :param log: where the plan and its notes are logged.
    :param numbering: the numbering plan of ``phone_region`` (phones matched on their identity), or ``None``.
    """

    def __init__(
        self,
        check: Check,
        read_campaign: Callable[[str], CampaignRead],
        log: logging.Logger | Any,
        numbering: PhoneNumbering | None = None,
    ) -> None:
        self._check = check
        self._read_campaign = read_campaign
        self.log = log
        self.numbering = numbering

    def plan(
        self,
        campaign_id: str | int,
        records: object,
        *,
        update_fields: object = DEFAULT_UPDATE_FIELDS,
        remove_missing: object = False,
        state_path: Any = None,
        exclude: object = None,
    ) -> SyncPlan:
        """Read the campaign once and plan what makes it match ``records``.

        :param campaign_id: five-character campaign id, or an int that is zero-padded.
        :param records: the desired records, in any form an add takes (a source included).
        :param update_fields: the fields the caller owns on records already in the campaign.
        :param remove_missing: plan the removal of the campaign's records whose phone is not in ``records``.
        :param state_path: the fingerprints file of earlier syncs, or ``None``.
        :param exclude: phones never added or updated and removed from the campaign (a do-not-call
            list), in any form a delete takes (a source included), or ``None``.
        """
        owned = parse_update_fields(update_fields)
        remove = parse_flag(remove_missing, "remove_missing")
        state = None
        if state_path is not None:
            # Before any request: a state file that cannot be read, or written when the run ends
            # (a folder, a parent that is a file, a read-only disk, the input's own file), stops here.
            campaign = normalize_campaign_id(campaign_id)
            SyncState(state_path, campaign).check(reads=paths_read(records) + paths_read(exclude))
            state = SyncState.load(state_path, campaign)
        call = self._check(ADD, campaign_id, records, False)
        excluded: set[str] = set()
        if exclude is not None:
            key = self.numbering.sent_key if self.numbering is not None else digits_key
            excluded = set(map(key, self._check(DELETE, call.campaign_id, exclude, False).phones))
        read = self._read_campaign(call.campaign_id)
        plan = build_plan(
            call.campaign_id,
            call.items,
            owned,
            read.count,
            read.records,
            remove_missing=remove,
            state=state,
            numbering=self.numbering,
            exclude=excluded,
        )
        plan.read_requests = read.pages
        self.log.info("sync plan for campaign %s: %s", call.campaign_id, plan.describe())
        for note in plan.notes:
            self.log.warning("%s", note)
        return plan


__all__ = ["Check", "SyncPlanner"]
