"""Every rule that keeps phone numbers (personal data) and secrets out of logs and error messages.

Full numbers go only to XCom; logs and exceptions show counts and masked numbers.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import reprlib
from typing import Any
from urllib.parse import quote

# A number as people write it: digits in groups joined by a space, hyphen, dot or slash, the first
# group perhaps in parentheses, perhaps after "+" ("+48 500 100 207", "(48) 500-100-207"), not
# glued to a word before it (the groups of a hex id such as a UUID are not one number); and any
# run of digits, wherever it stands. ISO dates and times and IPv4 addresses (a host in a transport
# error says which server failed) come first in the alternation so they are kept whole; a match is
# masked when it holds six digits or more.
_NUMBER_LIKE = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?(?![0-9]))"
    r"|(?P<ip>(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.]))"
    r"|(?<![\w.+/-])\+?\(?\d+(?:(?:[ ./-]|\) ?| ?\()\d+)*\)?"
    r"|\d+"
)
_NOT_DIGITS = re.compile(r"[^0-9]+")
_HEX_ID = re.compile(r"[0-9A-Fa-f]+(?:-[0-9A-Fa-f]+)*")
# Characters that would break a log line or hide what follows: C0/C1 controls (newlines included),
# zero-width and bidirectional formatting, line and paragraph separators, and lone surrogates (no
# UTF-8 form: a log handler would fail on them).
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]+")
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel = 3
_SHORT_REPR.maxstring = 60
_SHORT_REPR.maxother = 60
#: How many characters of one server text reach a log line or an error message.
SERVER_TEXT_LIMIT = 200
_QUERY_STRING = re.compile(r"\?[^\s'\"]*")
#: The query parameter a DELETE batch carries each phone number in (docs/thulium-api.md, "DELETE").
PHONE_PARAM = "phone_number%5B%5D="


#: What a secret (the connection's password) becomes wherever a server echoes it.
SECRET_MASK = "***"  # noqa: S105 (the mask, not a password)


class Secret:
    """The connection's secrets, in every form a server could send them back, to remove from what it sends.

    A server or a proxy may echo what it was sent: the password, or the whole ``Authorization``
    header (``Basic base64(login:password)``), in a per-phone message, an error page, a header.
    The transport removes each form from answers, headers and errors before they reach a result,
    a message, a log line or a file: the password as written, URL-encoded and JSON-escaped, and the
    header's ``base64(login:password)`` (with PHP's ``\\/`` escaping too).

    :param value: the password; shorter than four characters it is not looked for on its own
        (replacing two or three characters everywhere would garble ordinary text).
    :param login: the API user's login: with the password, it gives the Basic-auth header's value.
    """

    def __init__(self, value: str | None, login: str | None = None) -> None:
        self.value = value if value and len(value) >= 4 else None
        texts: set[str] = set()
        if self.value:
            texts |= {self.value, quote(self.value, safe="")}
        if value and login is not None:
            # A password Basic auth cannot carry (not Latin-1) is refused by the transport before sending.
            with contextlib.suppress(UnicodeEncodeError):
                texts.add(base64.b64encode(f"{login}:{value}".encode("latin-1")).decode())
        # Longest first: a form that holds another is replaced whole.
        self._texts = sorted(texts, key=len, reverse=True)
        forms: set[bytes] = set()
        for text in self._texts:
            forms |= set(_json_forms(text))
        self._forms = tuple(forms)
        self._escaped = [(form.decode(), text) for text in self._texts for form in _json_forms(text)]

    def __bool__(self) -> bool:
        return bool(self._texts)

    def in_bytes(self, content: bytes | bytearray) -> bool:
        """Whether an answer's bytes may hold a secret, as written or JSON-escaped (cheap to ask)."""
        return any(form in content for form in self._forms)

    def in_text(self, text: str) -> bool:
        """Whether a text (a header, a message) holds a secret in any of its forms."""
        return any(secret in text for secret in self._texts) or any(form in text for form, _ in self._escaped)

    def removed(self, value: Any) -> Any:
        """A text, or a decoded JSON value (keys included), with every secret replaced by :data:`SECRET_MASK`."""
        if not self._texts:
            return value
        if isinstance(value, str):
            if not self.in_text(value):
                return value
            for form, _ in self._escaped:  # a secret escaped in a text that was not decoded (\/ for /)
                value = value.replace(form, SECRET_MASK)
            for secret in self._texts:
                value = value.replace(secret, SECRET_MASK)
            return value
        if isinstance(value, list):
            return [self.removed(item) for item in value]
        if isinstance(value, dict):
            return {self.removed(key): self.removed(item) for key, item in value.items()}
        return value


def _json_forms(secret: str) -> tuple[bytes, ...]:
    # As UTF-8, JSON-escaped (\uXXXX, \") and with "/" escaped as PHP's json_encode does.
    forms = {secret.encode(), json.dumps(secret)[1:-1].encode(), json.dumps(secret, ensure_ascii=False)[1:-1].encode()}
    return tuple(forms | {form.replace(b"/", b"\\/") for form in forms})


def mask_phone(phone: object) -> str:
    """Return a phone number with all but its last three characters hidden: ``48500100203`` → ``…203``."""
    text = str(phone)
    return "…" + text[-3:] if len(text) > 3 else "…"


def mask_numbers(text: str) -> str:
    """Mask every number of six digits or more in a text from elsewhere, separators and all.

    ``48500100207``, ``+48 500 100 207``, ``48-500-100-207`` and ``(48) 500 100 207`` all become
    ``…207``; ISO dates and times (``2024-05-01 10:00``) and IPv4 addresses (``127.0.0.1``) are kept.
    """
    return _NUMBER_LIKE.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    found = match.group()
    if match.group("date") is not None or match.group("ip") is not None:
        return found
    digits = _NOT_DIGITS.sub("", found)
    return mask_phone(digits) if len(digits) >= 6 else found


def safe_server_text(value: object, limit: int = SERVER_TEXT_LIMIT, *, identifier: bool = False) -> str:
    """A text the server sent (a status, a message, a request id, a header), made fit for a log line.

    Control and formatting characters (newlines included) become one space, numbers are masked
    (see :func:`mask_numbers`), and the text is cut to ``limit`` characters. A value that is not a
    string (a server may send any JSON) is shown as a short ``repr``, however deeply it nests.
    With ``identifier``, an id made of hex digits and hyphens (a UUID, Thulium's ``request_id``) is
    kept whole: it is what support asks for, and its digit runs are not phone numbers.
    XCom keeps the server's answer as it came (its password removed, see :class:`Secret`); this is
    for logs and exception messages only.
    """
    if identifier and isinstance(value, str) and len(value) <= limit and _HEX_ID.fullmatch(value):
        return value
    text = value if isinstance(value, str) else _SHORT_REPR.repr(value)
    # Cut before the work on a text that may be megabytes long; what is cut here is cut below too.
    text = mask_numbers(_UNPRINTABLE.sub(" ", text[: limit * 4]))
    return text if len(text) <= limit else text[: limit - 1] + "…"


_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s]*@")


def hide_url_credentials(text: str) -> str:
    """Cut a user name and password out of URLs in a text: ``s3://key:secret@bucket/x`` → ``s3://bucket/x``.

    Object-storage URLs may carry credentials; a path is shown in messages and lineage without them.
    """
    return _URL_CREDENTIALS.sub(r"\g<scheme>", text) if "@" in text else text


def shown_value(value: object, limit: int = 60) -> str:
    """A caller's value in an error message: quoted if a string, on one line, cut short, numbers masked.

    A phone number given in another field (``next_call_date: '48500100299'``, an agent login that is
    a number) is shown as ``'…299'``: personal data stays out of messages wherever it is put.

    :param value: the value to show.
    :param limit: the most characters shown.
    """
    return safe_server_text(repr(value) if isinstance(value, str) else value, limit)


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
