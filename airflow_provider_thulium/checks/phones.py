"""How a phone number is spelled: the form a campaign stores its numbers in (``phone_format``), and
numbers sent compared with the campaign's own (the evidence behind the number-format warning).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from airflow_provider_thulium.privacy import mask_phone

#: A phone number as checked input holds it: 1 to 20 digits after an optional "+".
PHONE = re.compile(r"\+?[0-9]{1,20}")


def phone_sender(phone_format: str) -> Callable[[str], str] | None:
    """How a checked phone is written in a request for a campaign storing numbers in ``phone_format``.

    ``None`` for ``"as_given"``: the number is sent as the caller gave it.

    :param phone_format: ``"as_given"``, ``"digits"`` or ``"plus"`` (the ``phone_format`` setting).
    """
    if phone_format == "digits":
        return lambda phone: phone.removeprefix("+")
    if phone_format == "plus":
        return lambda phone: phone if phone.startswith("+") else "+" + phone
    return None  # "as_given"; "national" phones are spelled so when checked (phone_region)


def _spelling(phone: str) -> tuple[bool, int]:
    """How a number is spelled: with a leading ``+`` or not, and its digits; ``(False, -1)`` for
    a stored number with other characters (spaces, dashes...)."""
    if not PHONE.fullmatch(phone):
        return False, -1
    plus = phone.startswith("+")
    return plus, len(phone) - plus


def _describe_spelling(spelling: tuple[bool, int]) -> str:
    plus, digits = spelling
    if digits < 0:
        return "written with characters besides digits and a leading +"
    return f"{'with' if plus else 'without'} a leading + and {digits} digits"


def spelling_difference(sent: Sequence[str], stored: Iterable[object]) -> str | None:
    """How numbers, as sent, are spelled unlike a campaign's stored numbers, as a masked sentence.

    Thulium matches numbers exactly as stored (docs/thulium-api.md, "Phone numbers"): a number
    sent with a leading ``+`` or without the country code finds nothing in a campaign storing
    ``48…``. ``None`` when every number sent is spelled as some stored one is (a leading ``+`` or
    not, the number of digits), or when nothing stored can be compared.

    :param sent: the numbers as they were sent.
    :param stored: numbers as the campaign stores them (e.g. the ``phone_number`` of a page of records).
    """
    examples: dict[tuple[bool, int], str] = {}
    for phone in stored:
        if isinstance(phone, str) and phone.strip():
            examples.setdefault(_spelling(phone.strip()), phone.strip())
    if not examples:
        return None
    unlike = [phone for phone in sent if _spelling(phone) not in examples]
    if not unlike:
        return None
    stored_forms = sorted(examples.items())[:3]
    return (
        f"{len(unlike)} of them were sent {_describe_spelling(_spelling(unlike[0]))} (e.g. {mask_phone(unlike[0])}), "
        f"while the campaign's numbers are "
        + " or ".join(f"{_describe_spelling(form)} (e.g. {mask_phone(example)})" for form, example in stored_forms)
    )


def why_not_a_phone(text: str) -> str:
    """What is wrong with a text that is not a phone number, without showing it (it is personal data).

    :param text: the text that is not a phone number.
    """
    if not text:
        return "is empty"
    if any(char in text for char in "[]'\""):
        return (
            "holds brackets or quotes: is it a list rendered as text? Pass a list, join it in the template "
            "(`{{ phones | join(',') }}`), or set render_template_as_native_obj=True on the DAG"
        )
    reasons = []
    if any(char.isspace() for char in text):
        reasons.append("a space")
    if "-" in text:
        reasons.append("a dash")
    if any(char.isalpha() for char in text):
        reasons.append("letters")
    if "+" in text[1:]:
        reasons.append("a + that is not at the start")
    if any(char.isdigit() and not char.isascii() for char in text):
        reasons.append("digits that are not ASCII 0-9")
    if any(not (char.isalnum() or char.isspace() or char in "+-") for char in text):
        reasons.append("punctuation")
    if reasons:
        return "holds " + ", ".join(reasons)
    digits = sum(char.isdigit() for char in text)
    return f"has {digits} digits, more than 20" if digits > 20 else "is not digits with an optional leading +"


def why_not_in_region(text: str, region: str) -> str:
    """Why a text is not a number of ``region``'s numbering plan, without showing it.

    :param text: the text, as given.
    :param region: the region (``phone_region``).
    """
    if not text:
        return "it is empty"
    if any(char.isalpha() for char in text):
        return "it holds letters"
    digits = sum(char.isdigit() for char in text)
    return (
        f"its {digits} digits are not a number of the plan (a national number of {region}, or a number "
        "after + or 00 and its country code): too short, too long, or a prefix the plan does not use"
    )
