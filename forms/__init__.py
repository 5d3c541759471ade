"""Task and event forms, keyed by form key (the user task's ``camunda:formKey``, which is the
task name of domain §7, or the case event name).

    schema = get_form("モニタリング")()
    data = schema.load(payload)          # task data; raises marshmallow.ValidationError
    dump_json_ready("モニタリング", data)  # dates back to "YYYY-MM-DD" (same as schema.dump)
"""
from __future__ import annotations

import copy
from typing import Any

from forms.base import MEETING_BASES, SCOPES, FormSchema, JapanDate
from forms.events import ConsentWithdrawalEvent, ContactRecordEvent, ReopenContactEvent, SituationChangeEvent
from forms.intake import AcceptanceForm, ConsentForm, IntakeForm, NetworkRecordForm
from forms.monitoring import (
    ClosureReviewForm,
    FollowUpCheckForm,
    MonitoringForm,
    NoContactWarningForm,
    SuspensionReviewForm,
)
from forms.participation import ParticipationFollowUpForm, ParticipationMatchingForm
from forms.plan import AssessmentForm, PlanForm, PlanReviewForm, ReplanForm, ReplanReviewForm
from forms.pre_consent import OutreachVisitForm, SupportMeetingForm

_ALL: tuple[type[FormSchema], ...] = (
    IntakeForm,
    NetworkRecordForm,
    AcceptanceForm,
    ConsentForm,
    SupportMeetingForm,
    OutreachVisitForm,
    AssessmentForm,
    PlanForm,
    PlanReviewForm,
    ReplanForm,
    ReplanReviewForm,
    MonitoringForm,
    ClosureReviewForm,
    SuspensionReviewForm,
    ParticipationMatchingForm,
    ParticipationFollowUpForm,
    FollowUpCheckForm,
    NoContactWarningForm,
    SituationChangeEvent,
    ContactRecordEvent,
    ConsentWithdrawalEvent,
    ReopenContactEvent,
)

FORMS: dict[str, type[FormSchema]] = {form.form_key: form for form in _ALL}  # type: ignore[misc]
assert len(FORMS) == len(_ALL), "two forms share a form key"

EVENT_FORM_KEYS = ("状況変化", "接触記録", "同意撤回", "再開連絡")


def get_form(key: str) -> type[FormSchema] | None:
    """The form schema class for a form key, or None if there is none."""
    return FORMS.get(key)


def _form(key: str) -> type[FormSchema]:
    form = FORMS.get(key)
    if form is None:
        raise KeyError(f"no form with key {key!r}")
    return form


def _examples(schema: type[FormSchema]) -> dict[str, Any]:
    return {name: copy.deepcopy(field.metadata["example"]) for name, field in schema._declared_fields.items()}


def example_values(key: str) -> dict[str, Any]:
    """The JSON-ready example of every field of the form (KeyError for an unknown key)."""
    return _examples(_form(key))


def _specs(schema: type[FormSchema]) -> list[dict[str, Any]]:
    specs = []
    for name, field in schema._declared_fields.items():
        meta = field.metadata
        spec = {
            "name": name,
            "label": meta["label"],
            "widget": meta["widget"],
            "required": field.required,
            "choices": list(meta["choices"]) if "choices" in meta else None,
            "example": copy.deepcopy(meta["example"]),
        }
        if meta["widget"] == "rows":
            spec["fields"] = _specs(field.inner.nested)
        specs.append(spec)
    return specs


def field_specs(key: str) -> list[dict[str, Any]]:
    """One dict per field in declaration order: name, label, widget, required, choices, example.

    ``choices`` is None except for select/multiselect. A ``rows`` field (a repeating table)
    also has ``fields``: the specs of one row.
    """
    return _specs(_form(key))


def dump_json_ready(key: str, data: dict[str, Any]) -> dict[str, Any]:
    """Loaded task data back to JSON-ready values (dates as ISO strings)."""
    return _form(key)().dump(data)


__all__ = [
    "EVENT_FORM_KEYS",
    "MEETING_BASES",
    "SCOPES",
    "FORMS",
    "FormSchema",
    "JapanDate",
    "dump_json_ready",
    "example_values",
    "field_specs",
    "get_form",
]
