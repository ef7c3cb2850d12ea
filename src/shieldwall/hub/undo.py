"""What one input's store transaction has changed outside the store (the council)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Undo:
    """Whether the council changed inside the current transaction, and its own error.

    The secretariat writes the input first and lets the council see it only after
    the store has taken it, so the store refusing the input (a value out of its
    range, a full disk on the first write) rolls back that one input and leaves the
    council as it was. Only a failure after the council changed (writing its
    outcome, or the commit itself) leaves memory ahead of the store, and only then
    is the council rebuilt. A ``ValueError`` from the council changed nothing (its
    contract: arguments are checked before any change).
    """

    def __init__(self) -> None:
        self.changed = False
        self.error: BaseException | None = None

    def council(self, step: Callable[[], T]) -> T:
        """Run the council's ``step``, noting that it may have changed the council."""
        self.changed = True
        try:
            return step()
        except ValueError as exc:
            self.changed, self.error = False, exc
            raise
        except Exception as exc:
            self.error = exc
            raise
