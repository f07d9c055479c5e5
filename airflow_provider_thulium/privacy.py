"""Keeping phone numbers (personal data) out of logs and error messages."""

from __future__ import annotations

import re

_DIGIT_RUN = re.compile(r"\+?\d{6,}")


def mask_phone(phone: object) -> str:
    """Return a phone number with all but its last three characters hidden: ``48500100203`` → ``…203``."""
    text = str(phone)
    return "…" + text[-3:] if len(text) > 3 else "…"


def mask_numbers(text: str) -> str:
    """Mask every run of six or more digits in a text from elsewhere (e.g. Thulium's error messages)."""
    return _DIGIT_RUN.sub(lambda match: mask_phone(match.group()), text)
