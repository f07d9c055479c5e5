"""What the HTTP layer uses of the sandbox it serves: :class:`SandboxInterface`.

:mod:`.server` builds on :mod:`.handler`, which answers through :mod:`.control` and :mod:`.routes`.
Those three take the sandbox as this protocol rather than as :class:`~.server.ThuliumSandbox`, so
that none of them depends on the module that depends on them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .faults import Fault
    from .request_log import RequestLog
    from .state import SandboxState


class SandboxInterface(Protocol):
    """The parts of a :class:`~.server.ThuliumSandbox` that requests read or change."""

    @property
    def state(self) -> SandboxState: ...

    @property
    def batch_status(self) -> int: ...

    @property
    def latency(self) -> float: ...

    @property
    def requests(self) -> list[RequestLog]: ...

    @property
    def faults(self) -> list[Fault]: ...

    def add_fault(self, fault: Fault) -> Fault: ...

    def clear_faults(self) -> None: ...

    def clear_requests(self) -> None: ...

    def reset(self, seed: str = "demo") -> None: ...
