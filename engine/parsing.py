"""Reading BPMN and DMN with SpiffWorkflow's Camunda parser, plus our conventions.

Conventions a standard modeler can edit without custom code:
- lanes are roles (SpiffWorkflow puts the lane name on ``task_spec.lane``);
- a user task names its form with ``camunda:formKey`` and its due date with
  ``camunda:dueDate``;
- ``camunda:properties`` on tasks and events carry ``stage`` (and ``status``,
  ``validation``), read into ``task_spec.extensions``.

Every task parser also bounds multi-instance tasks and loops (engine.loops).
"""
from __future__ import annotations

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator, full_tag
from SpiffWorkflow.bpmn.parser.event_parsers import ReceiveTaskParser as BpmnReceiveTaskParser
from SpiffWorkflow.bpmn.parser.event_parsers import SendTaskParser as BpmnSendTaskParser
from SpiffWorkflow.bpmn.parser.task_parsers import AdHocSubprocessParser as BpmnAdHocParser
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser as BpmnTaskParser
from SpiffWorkflow.bpmn.specs.defaults import (AdHocSubprocess, BoundaryEvent, CallActivity,
                                               EndEvent, IntermediateCatchEvent,
                                               IntermediateThrowEvent, ManualTask, NoneTask,
                                               ReceiveTask, ScriptTask, SendTask, ServiceTask,
                                               StartEvent, SubWorkflowTask, TransactionSubprocess)
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import (CamundaBoundaryEventParser,
                                                        CamundaEndEventParser,
                                                        CamundaEventDefinitionParser,
                                                        CamundaIntermediateCatchEventParser,
                                                        CamundaIntermediateThrowEventParser,
                                                        CamundaStartEventParser)
from SpiffWorkflow.camunda.parser.task_spec import (CAMUNDA_MODEL_NS, BusinessRuleTaskParser,
                                                    CallActivityParser, CamundaTaskParser,
                                                    ScriptTaskParser, SubWorkflowParser,
                                                    UserTaskParser)
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask
from SpiffWorkflow.camunda.specs.user_task import UserTask

from engine.loops import LoopBoundsMixin


class PropertiesMixin:
    """Read ``camunda:properties`` of the element itself, on every element.

    Camunda's own parsers search all descendants, so a subprocess would take the
    properties of the tasks inside it; other parsers read none.
    """

    def parse_extensions(self, node=None):
        extensions = {}
        for prop in self.xpath('./bpmn:extensionElements/camunda:properties/camunda:property'):
            extensions[prop.get('name')] = prop.get('value')
        return extensions


class KasaneUserTaskParser(LoopBoundsMixin, PropertiesMixin, UserTaskParser):
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


class ReceiveTaskParser(LoopBoundsMixin, PropertiesMixin, CamundaEventDefinitionParser,
                        BpmnReceiveTaskParser):
    """A receive task with Camunda's message handling, like the catch events."""

    def create_task(self):
        return BpmnReceiveTaskParser.create_task(self)


class TaskParser(LoopBoundsMixin, PropertiesMixin, CamundaTaskParser):
    pass


class KasaneScriptTaskParser(LoopBoundsMixin, PropertiesMixin, ScriptTaskParser):
    pass


class KasaneBusinessRuleTaskParser(LoopBoundsMixin, PropertiesMixin, BusinessRuleTaskParser):
    pass


class KasaneSubWorkflowParser(LoopBoundsMixin, PropertiesMixin, SubWorkflowParser):
    pass


class KasaneCallActivityParser(LoopBoundsMixin, PropertiesMixin, CallActivityParser):
    pass


class ServiceTaskParser(LoopBoundsMixin, BpmnTaskParser):
    pass


class SendTaskParser(LoopBoundsMixin, BpmnSendTaskParser):
    pass


class AdHocSubprocessParser(LoopBoundsMixin, BpmnAdHocParser):
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
        full_tag('receiveTask'): (ReceiveTaskParser, ReceiveTask),
        full_tag('task'): (TaskParser, NoneTask),
        full_tag('manualTask'): (TaskParser, ManualTask),
        full_tag('scriptTask'): (KasaneScriptTaskParser, ScriptTask),
        full_tag('businessRuleTask'): (KasaneBusinessRuleTaskParser, BusinessRuleTask),
        full_tag('subProcess'): (KasaneSubWorkflowParser, SubWorkflowTask),
        full_tag('callActivity'): (KasaneCallActivityParser, CallActivity),
        full_tag('transaction'): (KasaneSubWorkflowParser, TransactionSubprocess),
        # Not otherwise changed, but loops on them must keep to max_instances too.
        full_tag('serviceTask'): (ServiceTaskParser, ServiceTask),
        full_tag('sendTask'): (SendTaskParser, SendTask),
        full_tag('adHocSubProcess'): (AdHocSubprocessParser, AdHocSubprocess),
    }

    def __init__(self):
        super().__init__(validator=BpmnValidator())
