"""What goes wrong with accounts, in words the person at the keyboard can act on."""

from __future__ import annotations

from collections.abc import Sequence


class AccountError(ValueError):
    """A request about users refused, with every reason at once."""

    def __init__(self, problems: Sequence[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(" ".join(self.problems))


class UnknownUserError(AccountError):
    """No user has that email (or id)."""


class WeakPasswordError(AccountError):
    """A password the policy refuses."""
