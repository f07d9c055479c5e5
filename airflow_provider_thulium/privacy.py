"""Every rule that keeps phone numbers (personal data) and secrets out of logs and error messages.

Full numbers go only to XCom; logs and exceptions show counts and masked numbers.
"""

from __future__ import annotations

import logging
import re

_DIGIT_RUN = re.compile(r"\+?\d{6,}")
_QUERY_STRING = re.compile(r"\?[^\s'\"]*")
#: The query parameter a DELETE batch carries each phone number in (docs/thulium-api.md, "DELETE").
PHONE_PARAM = "phone_number%5B%5D="


def mask_phone(phone: object) -> str:
    """Return a phone number with all but its last three characters hidden: ``48500100203`` → ``…203``."""
    text = str(phone)
    return "…" + text[-3:] if len(text) > 3 else "…"


def mask_numbers(text: str) -> str:
    """Mask every run of six or more digits in a text from elsewhere (e.g. Thulium's error messages)."""
    return _DIGIT_RUN.sub(lambda match: mask_phone(match.group()), text)


def hide_query(text: str) -> str:
    """Cut query strings out of a text holding URLs: a DELETE batch's query holds every phone number."""
    return _QUERY_STRING.sub("?…", text)


class _HidePhoneQueries(logging.Filter):
    """Cut the query string out of urllib3's DEBUG lines about our DELETE batches.

    urllib3 logs every request's full URL at DEBUG; with task logging at DEBUG every phone of a
    DELETE batch would land in the task log. Only lines holding our phone parameter are touched.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and PHONE_PARAM in record.msg:
            record.msg = hide_query(record.msg)
        if isinstance(record.args, tuple) and any(isinstance(a, str) and PHONE_PARAM in a for a in record.args):
            record.args = tuple(hide_query(a) if isinstance(a, str) and PHONE_PARAM in a else a for a in record.args)
        return True


def hide_phone_queries_in_urllib3_logs() -> None:
    """Install the urllib3 log filter once per process."""
    urllib3_log = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(existing, _HidePhoneQueries) for existing in urllib3_log.filters):
        urllib3_log.addFilter(_HidePhoneQueries())
