"""Case events: BPMN messages delivered to a case that is waiting for them."""
from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy.orm import Session

from engine import cases, history
from engine.errors import Conflict, NotFound
from engine.users import get_user
import forms
from forms.validation import validate_form


def waiting_messages(workflow) -> dict[str, list]:
    waiting: dict[str, list] = {}
    for task in workflow.event_manager.tasks.values():
        definition = task.task_spec.event_definition
        if isinstance(definition, MessageEventDefinition):
            waiting.setdefault(definition.name, []).append(task)
    return waiting


def known_messages(pathway) -> set[str]:
    names = set()
    for spec in [pathway.spec, *pathway.subprocess_specs.values()]:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if isinstance(definition, MessageEventDefinition):
                names.add(definition.name)
    return names


def send_event(session: Session, case_id, message: str, actor: str, data=None) -> dict:
    user = get_user(session, actor)
    loaded = cases.load_case(session, case_id)
    open_now = waiting_messages(loaded.workflow)
    waiting = open_now.get(message)
    if not waiting:
        if message not in known_messages(loaded.pathway):
            raise NotFound(f"パスウェイ '{loaded.row.pathway}' にイベント「{message}」はありません。")
        possible = "、".join(sorted(open_now))
        stage = cases.stage_and_status(loaded.workflow, [], loaded.row.stage)[0]  # timers may have fired
        raise Conflict(f"ケース {loaded.row.id} は段階「{stage or '不明'}」にあり、"
                       f"今は「{message}」を記録できません。"
                       + (f"今記録できるイベント: {possible}。" if possible
                          else "今記録できるイベントはありません。"))
    values = validate_form(message if forms.get_form(message) else None, data)
    # Build the event from the definition the parsed spec uses: SpiffWorkflow matches
    # on the parser's own MessageEventDefinition class.
    definition = waiting[0].task_spec.event_definition
    result_var = getattr(definition, "result_var", None) or message
    payload = {"payload": values, "result_var": result_var} \
        if hasattr(definition, "result_var") else values
    try:
        loaded.workflow.send_event(BpmnEvent(definition, payload))
    except SpiffWorkflowException as exc:
        raise cases.model_error(exc) from exc
    cases.run_engine_steps(session, loaded)
    history.append(session, loaded.row.id, "event", actor=user.name, name=message, data=values)
    cases.save_case(session, loaded)
    return cases.summary(session, loaded.row)
