"""What a simulated REST service answers: a reply, and the refusal that carries one.

The tracker simulations (``sandbox.github``, ``sandbox.jira``) build their answers as
``Reply`` values in the service and raise ``ApiError`` for a refusal in the provider's
own error shape; their apps turn either into an HTTP response.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer of the API: status, a JSON body (None for no body), extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """A request the service refuses; it is answered as ``reply``."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(f"{reply.status}: {reply.body}")
        self.reply = reply
