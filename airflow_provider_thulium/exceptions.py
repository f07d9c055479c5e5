"""Errors raised by the Thulium provider.

Catch :class:`ThuliumError` for anything the provider raises, or a subclass for one cause.
Messages name what failed and what to check; they never hold a credential or the phone numbers
of a request (a DELETE carries them in its query string).

Errors that a retry of the task cannot fix (bad input, an unusable connection, wrong credentials,
a missing permission, an unknown campaign) are also Airflow's ``AirflowFailException``: the task
fails at once instead of spending its ``retries``. The others (Thulium unavailable, unreadable
answers, phones that failed) leave the task to Airflow's retries.

The client is usable without Airflow: where Airflow is not installed, the same classes derive from
plain exceptions (:class:`ThuliumError` from :class:`Exception`), and :attr:`ThuliumError.fail_fast`
still says which errors no retry can fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_thulium.privacy import safe_server_text


class _NoRetryWithoutAirflow(Exception):
    """Where Airflow is not installed: the mark of an error no retry can fix (Airflow's AirflowFailException)."""


def _airflow_bases() -> tuple[type[Exception], type[Exception]]:
    """Airflow's exception and its fail-fast one when Airflow is installed, else plain stand-ins."""
    try:
        from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException
    except ImportError:
        return Exception, _NoRetryWithoutAirflow
    return AirflowException, AirflowFailException


if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import AirflowException as _ErrorBase
    from airflow.providers.common.compat.sdk import AirflowFailException as _FailFast
else:
    _ErrorBase, _FailFast = _airflow_bases()

_MAX_SHOWN_MESSAGES = 5


class ThuliumError(_ErrorBase):
    """Base class of every error the Thulium provider raises.

    :param message: what failed and what to check.
    :param status_code: the HTTP status Thulium answered, if an answer came.
    :param request_id: Thulium's ``request_id`` for the failed request; quote it to Thulium support.
    :param api_messages: Thulium's own error messages from the answer body.

    The attributes keep what the server sent; the message shows it through
    :func:`~airflow_provider_thulium.privacy.safe_server_text` (one line, numbers masked, cut short).
    """

    #: Whether the cause is confined to one request, so later batches may still succeed.
    #: Otherwise (credentials, permission, unknown campaign, server down) a run stops at it.
    batch_local = False
    #: Whether the same request may succeed if sent again (overload, a proxy failing, a cut-off
    #: answer). The retry policy reads this; which HTTP status raises which class is in
    #: :mod:`airflow_provider_thulium.transport.http_errors`.
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        api_messages: Sequence[str] = (),
    ) -> None:
        # AirflowException types status_code as an HTTPStatus; here it is what Thulium answered, or None.
        self.status_code = status_code  # type: ignore[assignment]
        self.request_id = request_id
        self.api_messages = list(api_messages)
        details = []
        if self.api_messages:
            said = "; ".join(safe_server_text(text) for text in self.api_messages[:_MAX_SHOWN_MESSAGES])
            more = len(self.api_messages) - _MAX_SHOWN_MESSAGES
            details.append("Thulium said: " + said + (f" (and {more} more)" if more > 0 else ""))
        if status_code is not None:
            details.append(f"HTTP {status_code}")
        if request_id:
            details.append(f"request_id={safe_server_text(request_id, limit=80, identifier=True)}")
        self.reason = message
        #: Attempts made for the request that failed (retries + 1).
        self.attempts = 1
        #: Every input phone's result when a hook call raises after a run (see ThuliumHook.delete_records).
        self.results: dict[str, Any] | None = None
        super().__init__(message + (f" ({', '.join(details)})" if details else ""))

    @property
    def fail_fast(self) -> bool:
        """Whether a retry of the task cannot fix it: with Airflow, it is then an ``AirflowFailException``."""
        return isinstance(self, _FailFast)


class ThuliumConfigurationError(ThuliumError, _FailFast):
    """The connection or a hook argument is unusable (no host, plain http to a remote host, ...).

    Fails a task without retries.
    """


class ThuliumValidationError(ThuliumError, _FailFast, ValueError):
    """Input to a call is invalid. Fails a task without retries.

    Raised before any request is sent, or after Thulium refused every record of a batch with the
    same validation answer (the run then stops: the rest of the input is ``NOT_SENT``).
    """

    batch_local = True


class ThuliumAuthenticationError(ThuliumError, _FailFast):
    """Thulium rejected the API user's login or password (HTTP 401). Fails a task without retries."""


class ThuliumPermissionError(ThuliumError, _FailFast):
    """The API user lacks the permission for this API method (HTTP 403). Fails a task without retries."""


class ThuliumNotFoundError(ThuliumError, _FailFast):
    """The resource does not exist, e.g. an unknown campaign id (HTTP 404 or 410). Fails a task without retries."""


class ThuliumSyncGuardError(ThuliumError, _FailFast):
    """A sync's plan was refused before any write: it would remove more records than ``max_removals``
    allows, or the desired set is empty while the campaign is not. Fails a task without retries.

    :ivar plan: the plan's counts (``add``, ``update``, ``remove``, ``unchanged``...).
    """

    def __init__(self, message: str, plan: dict[str, Any]) -> None:
        super().__init__(message)
        self.plan = plan


class ThuliumRequestRejectedError(ThuliumError):
    """Thulium or a proxy in front of it rejected the request itself (HTTP 400, 413, 414, other 4xx)."""

    batch_local = True


class ThuliumUnavailableError(ThuliumError):
    """No usable answer after every retry: timeouts, dropped connections, TLS failures, 429 or 5xx."""

    retryable = True


class ThuliumResponseError(ThuliumError):
    """Thulium answered with something that is not JSON or not the documented shape."""

    retryable = True


class ThuliumAnswerTooLargeError(ThuliumResponseError):
    """The answer is larger than ``max_answer_bytes`` allows; it was refused unread.

    Not retried: the same request would be answered the same way, and each try costs the download.
    """

    retryable = False


class ThuliumDestinationError(ThuliumError):
    """Writing exported records failed at the destination (its database or storage said no).

    The message quotes the database driver's error with numbers masked; Airflow's retries apply.
    """


class ThuliumPhoneFailuresError(ThuliumError):
    """An operator's run finished, but some phones' outcomes are failures (see the task's XCom)."""
