"""Engine errors. They carry a kind, never an HTTP status or an exit code."""
from __future__ import annotations


class KasaneError(Exception):
    kind = "invalid"

    def __init__(self, message: str, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def to_dict(self) -> dict:
        return {"error": self.message, "fields": self.fields}


class InvalidInput(KasaneError):
    """Wrong form data, a malformed model or an unsafe expression."""
    kind = "invalid"


class ModelRefused(InvalidInput):
    """A model that will not run; ``problems`` lists file, element and message."""

    def __init__(self, message: str, problems: list[dict]):
        super().__init__(message, {})
        self.problems = problems

    def to_dict(self) -> dict:
        return {"error": self.message, "fields": {}, "problems": self.problems}


class ModelFailure(InvalidInput):
    """The model itself failed while a case ran (a script error, a budget exceeded…).

    The step is refused and rolled back; the caller records an incident on the case.
    """

    def __init__(self, message: str, fields: dict | None = None, case_id: int | None = None):
        super().__init__(message, fields)
        self.case_id = case_id


class NotFound(KasaneError):
    kind = "not_found"


class Conflict(KasaneError):
    """A stale or concurrent update, or a task that is no longer open."""
    kind = "conflict"


class Forbidden(KasaneError):
    kind = "forbidden"
