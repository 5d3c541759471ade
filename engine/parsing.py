"""Reading BPMN and DMN with SpiffWorkflow's Camunda parser, plus our conventions.

Conventions a standard modeler can edit without custom code:
- lanes are roles (SpiffWorkflow puts the lane name on ``task_spec.lane``);
- a user task names its form with ``camunda:formKey`` and its due date with
  ``camunda:dueDate``;
- ``camunda:properties`` on tasks and events carry ``stage`` (and ``status``,
  ``validation``), read into ``task_spec.extensions``.
"""
from __future__ import annotations

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator, full_tag
from SpiffWorkflow.bpmn.specs.defaults import (BoundaryEvent, EndEvent, IntermediateCatchEvent,
                                               IntermediateThrowEvent, StartEvent)
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import (CamundaBoundaryEventParser,
                                                        CamundaEndEventParser,
                                                        CamundaIntermediateCatchEventParser,
                                                        CamundaIntermediateThrowEventParser,
                                                        CamundaStartEventParser)
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS, UserTaskParser
from SpiffWorkflow.camunda.specs.user_task import UserTask


class PropertiesMixin:
    """Read ``camunda:properties`` on every element, not only on Camunda's task parsers."""

    def parse_extensions(self, node=None):
        extensions = {}
        for prop in self.xpath('./bpmn:extensionElements/camunda:properties/camunda:property'):
            extensions[prop.get('name')] = prop.get('value')
        return extensions


class KasaneUserTaskParser(PropertiesMixin, UserTaskParser):
    def parse_extensions(self, node=None):
        extensions = super().parse_extensions(node)
        due = self.node.get(f'{{{CAMUNDA_MODEL_NS}}}dueDate')
        if due:
            extensions['dueDate'] = due.strip()
        return extensions


class StartEventParser(PropertiesMixin, CamundaStartEventParser):
    pass


class EndEventParser(PropertiesMixin, CamundaEndEventParser):
    pass


class CatchEventParser(PropertiesMixin, CamundaIntermediateCatchEventParser):
    pass


class ThrowEventParser(PropertiesMixin, CamundaIntermediateThrowEventParser):
    pass


class BoundaryEventParser(PropertiesMixin, CamundaBoundaryEventParser):
    pass


class PathwayParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag('userTask'): (KasaneUserTaskParser, UserTask),
        full_tag('startEvent'): (StartEventParser, StartEvent),
        full_tag('endEvent'): (EndEventParser, EndEvent),
        full_tag('intermediateCatchEvent'): (CatchEventParser, IntermediateCatchEvent),
        full_tag('intermediateThrowEvent'): (ThrowEventParser, IntermediateThrowEvent),
        full_tag('boundaryEvent'): (BoundaryEventParser, BoundaryEvent),
    }

    def __init__(self):
        super().__init__(validator=BpmnValidator())
