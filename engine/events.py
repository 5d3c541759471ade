"""Case events: BPMN messages delivered to a case that is waiting for them."""
from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy.orm import Session

from engine import history, records, snapshot
from engine.snapshot import waiting_messages
from engine.errors import Conflict, NotFound
from engine.unit_of_work import case_unit, model_error


def known_messages(pathway) -> set[str]:
    names = set()
    for spec in [pathway.spec, *pathway.subprocess_specs.values()]:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if isinstance(definition, MessageEventDefinition):
                names.add(definition.name)
    return names


def send_event(session: Session, case_id, message: str, user, values: dict, form_key: str | None):
    """Deliver a message (with already validated values) to a case waiting for it."""
    with case_unit(session, case_id) as loaded:
        open_now = waiting_messages(loaded.workflow)
        waiting = open_now.get(message)
        if not waiting:
            if message not in known_messages(loaded.pathway):
                raise NotFound(f"パスウェイ '{loaded.row.pathway}' にイベント「{message}」はありません。")
            possible = "、".join(sorted(open_now))
            # Timers that fired on loading may have moved the case on.
            stage = snapshot.stage_and_status(loaded.workflow, loaded.finished, loaded.row.stage)[0]
            raise Conflict(f"ケース {loaded.row.id} は段階「{stage or '不明'}」にあり、"
                           f"今は「{message}」を記録できません。"
                           + (f"今記録できるイベント: {possible}。" if possible
                              else "今記録できるイベントはありません。"))
        record_id = records.keep(session, loaded.row.id, "event", form_key, message, user, values)
        # Build the event from the definition the parsed spec uses: SpiffWorkflow matches
        # on the parser's own MessageEventDefinition class.
        definition = waiting[0].task_spec.event_definition
        result_var = getattr(definition, "result_var", None) or message
        payload = {"payload": values, "result_var": result_var} \
            if hasattr(definition, "result_var") else values
        try:
            loaded.workflow.send_event(BpmnEvent(definition, payload))
        except SpiffWorkflowException as exc:
            raise model_error(exc, loaded.row.id) from exc
        history.append(session, loaded.row.id, "event", actor=user.name, name=message,
                       record_id=record_id, data=values)
    return loaded
