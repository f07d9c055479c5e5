"""One phone however it is written: a region's numbering rules (``phone_region``), from libphonenumber.

With ``phone_region`` set, every phone the provider takes is read as a number of that region's
numbering plan: separators (spaces, dashes, dots, parentheses, slashes) dropped, the ``+`` and
``00`` international prefixes understood, a national number read as one of the region. Its
identity is its international form (country code and national number); it is written in the
spelling ``phone_format`` names (:meth:`PhoneNumbering.spell`). A text that cannot be a number of
the plan (too short, too long, a prefix the plan does not use) is refused before anything is sent.

The rules are Google's libphonenumber (``phonenumbers``), used where they are cheap: most numbers
of a column share a shape (``+48…``, ``0048…``, ``48…``, a national ``5…``), so a whole column is
first rewritten in a few regular-expression passes in C built from the region's metadata, and
only a number those passes cannot settle is parsed with ``phonenumbers`` (a foreign number, a
national trunk prefix...), the way it is read cached by its shape (its first characters and its
length).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache

import phonenumbers

#: The spellings a checked phone is sent in (the ``phone_format`` setting). ``national`` needs a region.
SPELLINGS = ("as_given", "digits", "plus", "national")
#: What is dropped from a phone before it is read: the separators people write numbers with.
_SEPARATORS = str.maketrans("", "", " \t-.()/\u00a0")
_SEPARATOR_CHARS = " \t-.()/\u00a0"
_TYPES = (
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)
#: Up to this many first characters (and the length) make a number's shape: numbers of one shape
#: are read alike (where the country code ends and the national number begins).
_SHAPE_PREFIX = 6
_LINES_PER_PASS = 10_000


def is_region(code: str) -> bool:
    """Whether ``code`` is a region libphonenumber knows (ISO 3166 alpha-2, upper case)."""
    return code in phonenumbers.SUPPORTED_REGIONS


@cache
def _valid_national(country_code: int) -> re.Pattern[str] | None:
    """A pattern of the national numbers valid under ``country_code`` (any of its regions, any type)."""
    patterns: list[str] = []
    for region in phonenumbers.region_codes_for_country_code(country_code):
        metadata = (
            phonenumbers.PhoneMetadata.metadata_for_nongeo_region(country_code)
            if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY
            else phonenumbers.PhoneMetadata.metadata_for_region(region)
        )
        if metadata is None:
            continue
        for name in _TYPES:
            desc = getattr(metadata, name, None)
            if desc is not None and desc.national_number_pattern:
                patterns.append(desc.national_number_pattern)
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{pattern})" for pattern in dict.fromkeys(patterns)))


class PhoneNumbering:
    """A region's numbering plan: a phone's identity, and its spelling when sent.

    :param region: the ISO 3166 code of the region national numbers belong to (``"PL"``).
    :param phone_format: the spelling phones are sent in: ``"digits"`` (``48500100201``), ``"plus"``
        (``+48500100201``), ``"national"`` (``500100201``; a foreign number keeps its ``+``), or
        ``"as_given"``, which with a region is ``"plus"`` (the international form, one per number).
    """

    def __init__(self, region: str, phone_format: str = "as_given") -> None:
        self.region = region
        self.phone_format = phone_format
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            raise ValueError(f"no numbering plan for region {region!r}")
        self.country_code = str(metadata.country_code)
        valid = _valid_national(metadata.country_code)
        assert valid is not None  # a region's own metadata gives it patterns
        national = valid.pattern
        cc = self.country_code
        # Read as the region's number: "+48…", "0048…", "48…" when its length is a national number's
        # with the country code and not one of a national number, a national number as it is.
        general = metadata.general_desc
        lengths = sorted(set(general.possible_length or ())) if general is not None else []
        bare = [length for length in lengths if length + len(cc) not in lengths]
        bare_cc = "|".join(f"[0-9]{{{length}}}" for length in bare)
        bare_cc = rf"|{cc}(?=(?:{bare_cc})$)" if bare else ""
        self._pattern = re.compile(rf"(?:\+{cc}|00{cc}{bare_cc})?(?P<national>{national})")
        # The same over a whole column, one number a line between newlines: the bare country code
        # (the international ones are plain text replaced, see spell_all).
        self._bare = (
            re.compile(rf"\n{cc}(?=(?:{'|'.join(f'[0-9]{{{length}}}' for length in bare)})\n)") if bare else None
        )
        self._national_lines = re.compile(f"(?:(?:{national})\n)*(?:{national})")
        self._shapes: dict[tuple[str, int], tuple[int, str] | None] = {}
        self._prefix = {"digits": cc, "national": ""}.get(phone_format, "+" + cc)
        # A column already spelled as sent: checked in one pass, its values kept as they are.
        self._spelled_lines = re.compile(
            f"(?:{re.escape(self._prefix)}(?:{national})\n)*{re.escape(self._prefix)}(?:{national})"
        )

    # -- one number --

    def spell(self, value: object) -> str | None:
        """The number as sent (in ``phone_format``), or ``None`` when it cannot be a phone of the plan.

        :param value: the phone as given: text (separators allowed) or a non-negative int.
        """
        if type(value) is int and value >= 0:
            text = str(value)
        elif isinstance(value, str):
            text = value.translate(_SEPARATORS)
        else:
            return None
        found = self._pattern.fullmatch(text)
        if found is not None:
            return self._prefix + found.group("national")
        return self._foreign(text)

    def key(self, phone: str) -> str:
        """A phone's identity (its country code and national number, as digits), for matching.

        A text that cannot be a phone of the plan is its own identity, without a leading ``+``
        (a campaign's record is never refused: it simply matches nothing).

        :param phone: a phone, in any spelling (a campaign's stored one included).
        """
        spelled = self.spell(phone)
        if spelled is None:
            return phone.strip().lstrip("+")
        if self.phone_format == "digits":
            return spelled
        if spelled.startswith("+"):
            return spelled[1:]
        return self.country_code + spelled

    def sent_key(self, phone: str) -> str:
        """The identity of a phone already spelled as :meth:`spell` writes it (cheaper than :meth:`key`)."""
        if phone.startswith("+"):
            return phone[1:]
        return phone if self.phone_format == "digits" else self.country_code + phone

    def _foreign(self, text: str) -> str | None:
        """A number the region's passes do not settle, read by libphonenumber (its reading cached by shape)."""
        if not text or not (text[1:] if text[0] == "+" else text).isdigit() or not text.isascii():
            return None
        shape = (text[:_SHAPE_PREFIX], len(text))
        if shape not in self._shapes:
            self._shapes[shape] = _read_shape(text, self.region)
        how = self._shapes[shape]
        if how is None:
            return None
        start, country_code = how
        national = text[start:]
        valid = _valid_national(int(country_code))
        if valid is None or not valid.fullmatch(national):
            return None
        if country_code == self.country_code:
            return self._prefix + national
        return ("" if self.phone_format == "digits" else "+") + country_code + national

    # -- a whole column --

    def _nationals(self, joined: str) -> str:
        """Numbers one a line, each written as the region's national number where its shape is a common one.

        Plain text replaced (a search for a fixed text runs in C at memory speed): separators, then
        ``+48`` and ``0048`` at a line's start marked (``#``) so the bare ``48`` is taken off only
        where the line began with it, then the marks.
        """
        for separator in _SEPARATOR_CHARS:
            if separator in joined:
                joined = joined.replace(separator, "")
        text = "\n" + joined + "\n"
        cc = self.country_code
        text = text.replace("\n+" + cc, "\n#").replace("\n00" + cc, "\n#")
        if self._bare is not None:
            text = self._bare.sub("\n", text)
        return text.replace("\n#", "\n")[1:-1]

    def spell_all(self, values: Sequence[object]) -> list[str | None]:
        """Each value as :meth:`spell` writes it, the common shapes rewritten a slice at a time in C.

        :param values: the phones as given.
        """
        if not values or set(map(type, values)) != {str}:
            return list(map(self.spell, values))
        out: list[str | None] = []
        for start in range(0, len(values), _LINES_PER_PASS):
            part: Sequence[str] = values[start : start + _LINES_PER_PASS]  # type: ignore[assignment]  # all str
            joined = "\n".join(part)
            if joined.count("\n") != len(part) - 1:  # a newline inside a value
                out.extend(map(self.spell, part))
                continue
            if self._spelled_lines.fullmatch(joined):  # already as sent: the common case of a clean CRM
                out.extend(part)
                continue
            national = self._nationals(joined)
            if self._national_lines.fullmatch(national):
                prefix = self._prefix
                lines = national.split("\n")
                out.extend([prefix + line for line in lines] if prefix else lines)
            else:  # a number of another shape among them: each read on its own
                out.extend(map(self.spell, part))
        return out


def _read_shape(text: str, region: str) -> tuple[int, str] | None:
    """Where the national number of ``text`` starts, and its country code, as libphonenumber reads it."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    national = phonenumbers.national_significant_number(number)
    if not text.endswith(national):
        return None
    return len(text) - len(national), str(number.country_code)


def numbering_for(region: str | None, phone_format: str) -> PhoneNumbering | None:
    """The numbering of ``region``, or ``None`` without one (phones are then taken as written)."""
    return None if region is None else _numbering(region, phone_format)


@cache
def _numbering(region: str, phone_format: str) -> PhoneNumbering:
    return PhoneNumbering(region, phone_format)


#: A phone's identity for matching, given its spelling.
PhoneKey = Callable[[str], str]


def digits_key(phone: str) -> str:
    """A phone's identity without a region: its text without a leading ``+``."""
    return phone.strip().lstrip("+")
