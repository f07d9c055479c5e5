"""What a Thulium client is configured with: transport settings and the account's address.

Settings come in layers (defaults < connection extras < hook arguments) and are merged once, here.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

import phonenumbers

from airflow_provider_thulium.exceptions import ThuliumConfigurationError

#: How a campaign may store its numbers (the ``phone_format`` setting): as the caller gives them,
#: digits only (a leading ``+`` dropped), with a leading ``+``, or as national numbers (with ``phone_region``).
PHONE_FORMATS = ("as_given", "digits", "plus", "national")
_TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
_FALSE_WORDS = frozenset({"false", "0", "no", "off"})


def parse_bool(value: object) -> bool:
    """Read a boolean from a bool or from the words a form, a URI or a template gives.

    ``true/1/yes/on`` and ``false/0/no/off`` in any case. The one parser for every flag of the
    provider, settings and operator arguments alike. Raises ``ValueError`` for anything else; the
    caller turns that into its own error naming the field.

    :param value: a bool, or a word such as ``"true"`` or ``"off"``.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise ValueError(f"expected true or false, got {value!r}")


def _as_bool(name: str, value: Any) -> bool:
    try:
        return parse_bool(value)
    except ValueError as exc:
        raise ThuliumConfigurationError(f"Thulium setting {name!r}: {exc}") from None


def _as_verify(name: str, value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip()
        return _as_bool(name, text) if text.lower() in _TRUE_WORDS | _FALSE_WORDS else text
    raise ThuliumConfigurationError(f"Thulium setting {name!r}: expected true, false or a CA bundle path")


def _as_number(minimum: float, integer: bool) -> Callable[[str, Any], Any]:
    def convert(name: str, value: Any) -> Any:
        try:
            number = (int if integer else float)(value)
        except (TypeError, ValueError, OverflowError):
            number = None
        # "nan" and "inf" parse as floats; a NaN timeout would fail every request, a NaN cap disables it.
        if isinstance(value, bool) or number is None or not math.isfinite(number) or number < minimum:
            kind = "an integer" if integer else "a number"
            raise ThuliumConfigurationError(f"Thulium setting {name!r}: expected {kind} >= {minimum}, got {value!r}")
        return number

    return convert


def _as_phone_format(name: str, value: Any) -> str:
    if value not in PHONE_FORMATS:
        raise ThuliumConfigurationError(
            f"Thulium setting {name!r}: expected one of {', '.join(PHONE_FORMATS)}, got {value!r}"
        )
    return str(value)


def _as_region(name: str, value: Any) -> str:
    code = value.strip().upper() if isinstance(value, str) else None
    if code is None or code not in phonenumbers.SUPPORTED_REGIONS:
        raise ThuliumConfigurationError(
            f"Thulium setting {name!r}: expected a region's ISO 3166 code with a numbering plan, e.g. 'PL', "
            f"got {value!r}"
        )
    return code


def _as_text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ThuliumConfigurationError(f"Thulium setting {name!r}: expected a non-empty string")
    return value.strip()


@dataclass(frozen=True)
class ThuliumSettings:
    """Transport settings of a client: defaults, overridden by connection extras, overridden by hook arguments.

    :param timeout: seconds one attempt of a request may take, from connecting to the answer's last byte.
    :param verify: verify TLS certificates (``True``), don't (``False``), or the path of a CA bundle.
    :param max_retries: retries of one request after a timeout, dropped connection, 429 or 5xx.
    :param backoff: seconds before the first retry; doubled for each further one, with jitter.
    :param max_backoff: the longest wait between two attempts of our own choosing.
    :param max_retry_after: the longest ``Retry-After`` honoured; a longer one is cut to this.
    :param retry_budget: seconds within which one batch starts all its attempts, retries and 413/414 splits
        included; each attempt then takes at most ``timeout``.
    :param max_concurrent_requests: batches in flight at once.
    :param max_batch_size: records (phones) per request at most.
    :param max_request_line_bytes: request-line size a DELETE batch stays under (proxies answer 414 above 8 KiB).
    :param max_body_bytes: body size a PUT or POST batch stays under (proxies commonly answer 413 above 1 MiB).
    :param max_answer_bytes: the largest answer read for one request; a larger one is refused unread. By
        default (``None``) it follows the request: 1 MiB plus 4 KiB per phone of a batch.
    :param accept_language: ``Accept-Language`` for Thulium's error texts: ``en`` (Thulium's default when
        none is sent) or ``pl``.
    :param timezone: the account's time zone, for converting aware ``next_call_date`` values.
    :param allow_http: allow plain ``http://`` to a host that is not loopback.
    :param phone_format: how the campaign stores its numbers, so they are sent in that form:
        ``"as_given"`` (default), ``"digits"`` (a leading ``+`` is dropped) or ``"plus"`` (a leading
        ``+`` is added); with ``phone_region`` also ``"national"`` (the region's national number).
        Without ``phone_region``, results stay keyed by the numbers as given; with it, by the numbers as sent.
    :param phone_region: the region (ISO 3166 code, e.g. ``"PL"``) whose numbering plan reads every phone:
        ``+48 500 100 201``, ``0048500100201``, ``500100201`` and ``48500100201`` are one number, sent in
        the spelling ``phone_format`` names (``"as_given"`` is then ``"plus"``); a text that cannot be a
        number of the plan is refused before anything is sent. ``None`` (default): phones are taken as written.
    """

    timeout: float = 30.0
    verify: bool | str = True
    max_retries: int = 5
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_retry_after: float = 120.0
    retry_budget: float = 300.0
    max_concurrent_requests: int = 1
    max_batch_size: int = 1000
    max_request_line_bytes: int = 8000
    max_body_bytes: int = 1_000_000
    max_answer_bytes: int | None = None
    accept_language: str | None = None
    timezone: str = "Europe/Warsaw"
    allow_http: bool = False
    phone_format: str = "as_given"
    phone_region: str | None = None

    def __post_init__(self) -> None:
        if self.phone_format == "national" and self.phone_region is None:
            raise ThuliumConfigurationError(
                "Thulium setting 'phone_format': 'national' needs phone_region (e.g. 'PL'), the region whose "
                "national numbers the campaign stores"
            )

    @classmethod
    def merge(cls, *layers: dict[str, Any]) -> ThuliumSettings:
        """Return settings from layers of values, later layers winning; ``None`` means "not set".

        :param layers: dicts of setting name → value, e.g. the connection's extras, then the hook's arguments.
        """
        values: dict[str, Any] = {}
        for layer in layers:
            for name, value in layer.items():
                if value is None or (isinstance(value, str) and not value.strip()):
                    continue
                convert = _CONVERTERS.get(name)
                if convert is None:
                    raise ThuliumConfigurationError(
                        f"Unknown Thulium setting {name!r}; known: {', '.join(sorted(_CONVERTERS))}"
                    )
                values[name] = convert(name, value)
        return cls(**values)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """The default of every setting, by name."""
        return {field.name: field.default for field in fields(cls)}


_CONVERTERS: dict[str, Callable[[str, Any], Any]] = {
    "timeout": _as_number(0.001, integer=False),
    "verify": _as_verify,
    "max_retries": _as_number(0, integer=True),
    "backoff": _as_number(0, integer=False),
    "max_backoff": _as_number(0, integer=False),
    "max_retry_after": _as_number(0, integer=False),
    "retry_budget": _as_number(0, integer=False),
    "max_concurrent_requests": _as_number(1, integer=True),
    "max_batch_size": _as_number(1, integer=True),
    "max_request_line_bytes": _as_number(256, integer=True),
    "max_body_bytes": _as_number(256, integer=True),
    "max_answer_bytes": _as_number(1024, integer=True),
    "accept_language": _as_text,
    "timezone": _as_text,
    "allow_http": _as_bool,
    "phone_format": _as_phone_format,
    "phone_region": _as_region,
}


def is_loopback(hostname: str) -> bool:
    """Whether ``hostname`` names this machine (``localhost``, 127.0.0.0/8, ``::1``).

    :param hostname: a host name or IP address, without port.
    """
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def api_base_url(host: str | None, port: int | None, *, allow_http: bool, source: str) -> str:
    """The account's API root, ending in ``/api/``, from a host as users write it.

    ``acme.thulium.com`` (https assumed), ``acme.thulium.com:8443``, or a URL with scheme, with or
    without the ``/api`` suffix (docs/thulium-api.md, "Transport and auth"). A loopback host without
    a scheme (``127.0.0.1:8080``, ``localhost``, as a ``thulium://user:pass@127.0.0.1:8080`` URI gives
    it) is plain http, as the sandbox serves it. ``source`` names where the host came from (e.g.
    ``"Connection 'thulium_default'"``) in error messages. Anything that is not a plain address (a
    malformed scheme, a bad host name or port, credentials, a query) is a
    :class:`~airflow_provider_thulium.exceptions.ThuliumConfigurationError` naming the host field, never a guess.

    :param host: the address as the user wrote it.
    :param port: a port, when the host does not carry one.
    :param allow_http: allow plain ``http://`` to a host that is not loopback.
    :param source: where the host came from, for error messages.
    """
    host = (host or "").strip()
    if not host:
        raise ThuliumConfigurationError(f"{source} has no host: set it to the account's address, e.g. acme.thulium.com")

    def refuse(problem: str) -> ThuliumConfigurationError:
        return ThuliumConfigurationError(
            f"{source}: the host {problem}; write the account's address as acme.thulium.com or https://acme.thulium.com"
        )

    if _UNSAFE_HOST_TEXT.search(host):
        raise refuse("holds whitespace or control characters")
    if "://" not in host:
        if _SCHEME_WITHOUT_SLASHES.match(host):
            # "http:evil.com" or "https:/evil.com": a URL with a broken scheme, not a host named "http".
            raise refuse("starts with a scheme but not with http:// or https://")
        try:
            bare = urlsplit("//" + host).hostname or ""
        except ValueError:  # refused below, with the reason
            bare = ""
        host = ("http://" if is_loopback(bare) else "https://") + host
    try:
        parts = urlsplit(host)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 address
        raise refuse("is not a URL (a malformed IPv6 address?)") from None
    if parts.scheme.lower() not in {"http", "https"}:
        raise refuse(f"has the scheme {parts.scheme[:20]!r}; only https (or http to this machine) is supported")
    if "@" in parts.netloc:
        raise refuse("holds credentials; put the API user in the connection's login and password instead")
    if parts.query or parts.fragment or host.endswith(("?", "#")):
        raise refuse("holds a query or fragment")
    hostname, port_text = _split_netloc(parts.netloc, refuse)
    if port_text is not None:
        port = _port(port_text)
        if port is None:
            raise refuse(f"has the port {port_text[:20]!r}, not a number from 1 to 65535")
    elif port:  # the connection's own port field (0 or None: not set)
        given, port = port, _port(str(port))
        if port is None:
            raise ThuliumConfigurationError(f"{source}: the port {given!r} is not a number from 1 to 65535")
    scheme = parts.scheme.lower()
    if scheme == "http" and not allow_http and not is_loopback(hostname):
        raise ThuliumConfigurationError(
            f"{source} uses plain http to {hostname}: the API user's password would cross the network "
            'unencrypted. Use https, or set the extra "allow_http": true if this is intended.'
        )
    netloc = hostname if ":" not in hostname else f"[{hostname}]"
    if port:
        netloc += f":{port}"
    path = parts.path.rstrip("/")
    if not path.endswith("/api"):
        path += "/api"
    return f"{scheme}://{netloc}{path}/"


# Whitespace inside, control characters, and the Unicode separators urlsplit would silently drop.
_UNSAFE_HOST_TEXT = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
_SCHEME_WITHOUT_SLASHES = re.compile(r"(?i)https?:(?!//)(?![0-9]+(?:/|$))")
_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def _split_netloc(netloc: str, refuse: Callable[[str], ThuliumConfigurationError]) -> tuple[str, str | None]:
    """The host name (lower case, IDNA-encoded) and the port text (``None`` when absent) of a URL's netloc."""
    if netloc.startswith("["):
        address, bracket, rest = netloc[1:].partition("]")
        try:
            ip = ipaddress.IPv6Address(address)
        except ValueError:
            raise refuse("has a malformed IPv6 address") from None
        if not bracket or (rest and not rest.startswith(":")):
            raise refuse("has a malformed IPv6 address")
        return str(ip), rest[1:] if rest else None
    name, colon, port_text = netloc.partition(":")
    name = name.rstrip(".").lower()
    if not name:
        raise refuse("has no host name")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise refuse("is not a valid internationalised domain name") from None
    if len(name) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in name.split(".")):
        raise refuse("is not a valid host name (letters, digits and hyphens, in dot-separated labels)")
    return name, port_text if colon else None


def _port(text: str) -> int | None:
    """The port a text names, or ``None`` unless it is ASCII digits from 1 to 65535."""
    return int(text) if 0 < len(text) <= 5 and text.isascii() and text.isdigit() and 1 <= int(text) <= 65535 else None
