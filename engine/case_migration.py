"""Moving running cases to another version of their pathway (SpiffWorkflow's own diff and
migrate utilities, on kasane's compacted, spec-less state), previewed first, recorded in
the case history, and revertible.

A migration is refused when an element that is active in the case, or that the case
already went through (the step log keeps every finished element, even those the
compacted tree dropped), was removed or changed in a way that matters to how it runs. A
new label or new neighbours (inputs, outputs) do not count, nor a changed decision table
behind a business rule task the case went through: the tree is re-predicted from the new
version at every active task, so a newly added activity is taken, not skipped.
"""
from __future__ import annotations

from SpiffWorkflow.bpmn.util.diff import SpecDiff, diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from engine import clock, deployments, history, state, task_index
from engine.errors import Conflict, NotFound
from engine.store import CaseMigration, Deployment, StepRecord, parse_id
from engine.unit_of_work import LoadedCase, load_case, run_engine_steps, save_case

MIGRATIONS = CaseMigration.__table__
HARMLESS = {"inputs", "outputs", "bpmn_name", "documentation"}
# A business rule task the case went through has put its decision's results in the case
# data; the changed table is what a new version is for, and is used when the case gets
# there again (a changed settings.dmn must not keep every running case on its version).
HARMLESS_PASSED = HARMLESS | {"decision_table"}
# SpiffWorkflow's names of what changed in an element, as a manager reads them.
CHANGES = {"typename": "要素の種類", "lane": "レーン", "form": "フォーム",
           "extensions": "拡張プロパティ（stage・validation など）",
           "event_definition": "イベントの定義（タイマー・メッセージ）", "cancel_activity": "中断するかどうか",
           "cancel": "中断", "cond_task_specs": "条件", "default_task_spec": "既定のフロー",
           "choice": "選ばれたフロー", "script": "スクリプト", "decision_table": "決定（DMN）",
           "spec": "呼び出すプロセス", "data_input_associations": "入力データ",
           "data_output_associations": "出力データ", "io_specification": "入出力の定義",
           "manual": "手作業の印", "description": "要素の種類", "lookahead": "先読み",
           "split_task": "合流する分岐", "threshold": "合流の条件", "trigger_specs": "合流する流れ",
           "prescript": "前のスクリプト", "postscript": "後のスクリプト", "bpmn_id": "ID", "name": "ID"}
ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def plan(session: Session, loaded: LoadedCase, target: Deployment) -> dict:
    """What moving this case to ``target`` would change for it, and whether it may move."""
    new = deployments.load_pathway(target)
    workflow = loaded.workflow
    reasons = []
    if target.pathway != loaded.row.pathway:
        reasons.append(f"別のパスウェイ（{target.pathway}）には移せません。")
    if target.id == loaded.row.deployment_id:
        reasons.append(f"このケースは既に版 {target.version} で動いています。")
    if loaded.row.status == "closed":
        reasons.append("終結したケースは移せません（移せるのは実行中のケースだけです）。")
    specs = {loaded.pathway.spec.name: (loaded.pathway.spec, new.spec),
             **{name: (old, new.subprocess_specs.get(name))
                for name, old in loaded.pathway.subprocess_specs.items()}}
    diffs = {name: SpecDiff(state._registry, old, fresh) for name, (old, fresh) in specs.items()
             if fresh is not None}
    went_through = {}
    for process_id, spec_id in session.execute(
            select(StepRecord.process_id, StepRecord.spec_id).where(StepRecord.case_id == loaded.row.id)
            .distinct()):
        went_through.setdefault(process_id, set()).add(spec_id)
    active = [t for wf in [workflow, *workflow.subprocesses.values()] for t in wf.tasks.values()
              if t.has_state(ACTIVE) and t.task_spec.bpmn_id]
    for task in active:
        process = task.workflow.spec.name
        spec_diff = diffs.get(process)
        if spec_diff is None:
            reasons.append(f"実行中のプロセス「{process}」が新しい版にありません。")
            continue
        reasons += _refusals(spec_diff, task.task_spec, "実行中")
    for process, elements in went_through.items():
        spec_diff = diffs.get(process)
        if spec_diff is None:
            continue  # a called process the case finished and the new version no longer calls
        for spec in spec_diff.alignment:
            if spec.bpmn_id in elements:
                reasons += _refusals(spec_diff, spec, "通過済み", HARMLESS_PASSED)
    main = diffs.get(loaded.pathway.spec.name)
    return {"case_id": loaded.row.id, "pathway": loaded.row.pathway,
            "from_version": loaded.pathway.version, "to_version": target.version,
            "allowed": not reasons, "reasons": list(dict.fromkeys(reasons)),
            "active": sorted({t.task_spec.bpmn_id for t in active}),
            "active_names": {t.task_spec.bpmn_id: t.task_spec.bpmn_name or t.task_spec.bpmn_id
                             for t in active},
            "added": sorted(s.bpmn_id for s in main.added if s.bpmn_id) if main else [],
            "removed": sorted(s.bpmn_id for s in main.removed if s.bpmn_id) if main else [],
            "changed": sorted(s.bpmn_id for s in main.changed if s.bpmn_id) if main else []}


def migrations_of(session: Session, case_id: int) -> list[dict]:
    versions = {d.id: d.version for d in session.scalars(select(Deployment).join(
        MIGRATIONS, or_(MIGRATIONS.c.from_deployment_id == Deployment.id,
                        MIGRATIONS.c.to_deployment_id == Deployment.id))
        .where(MIGRATIONS.c.case_id == case_id))}
    rows = session.connection().execute(select(
        MIGRATIONS.c.id, MIGRATIONS.c.from_deployment_id, MIGRATIONS.c.to_deployment_id,
        MIGRATIONS.c.at, MIGRATIONS.c.actor, MIGRATIONS.c.reverted_at)
        .where(MIGRATIONS.c.case_id == case_id).order_by(MIGRATIONS.c.id))
    return [{"migration_id": r.id, "from_version": versions[r.from_deployment_id],
             "to_version": versions[r.to_deployment_id], "actor": r.actor,
             "at": history.local_iso(r.at),
             "reverted_at": history.local_iso(r.reverted_at) if r.reverted_at else None}
            for r in rows]


def _refusals(spec_diff: SpecDiff, spec, how: str, harmless=HARMLESS) -> list[str]:
    label = f"{spec.bpmn_name or spec.bpmn_id}（{spec.bpmn_id}）"
    if spec in spec_diff.removed:
        return [f"{how}の要素 {label}が新しい版で削除されています。"]
    changes = set(spec_diff.changed.get(spec, [])) - harmless
    if changes:
        what = "、".join(dict.fromkeys(CHANGES.get(name, name) for name in sorted(changes)))
        return [f"{how}の要素 {label}が新しい版で変更されています（{what}）。"]
    return []


def migrate(session: Session, loaded: LoadedCase, target: Deployment, actor: str | None) -> dict:
    """Move the case; the caller holds it in a unit of work (loaded, timers fired)."""
    preview = plan(session, loaded, target)
    if not preview["allowed"]:
        raise Conflict(f"このケースは版 {target.version} に移せません: " + " ".join(preview["reasons"]),
                       {"reasons": " ".join(preview["reasons"])})
    previous_state, previous = state.dump(loaded.workflow), loaded.row.deployment
    _move(loaded, target)
    history.append(session, loaded.row.id, "migrated", actor=actor, from_version=previous.version,
                   to_version=target.version)
    run_engine_steps(session, loaded)
    save_case(session, loaded)
    task_index.rename_open_tasks(session, loaded.row, loaded.workflow)
    migration_id = session.connection().execute(insert(MIGRATIONS).values(
        case_id=loaded.row.id, from_deployment_id=previous.id, to_deployment_id=target.id,
        at=clock.now(), actor=actor, previous_state=previous_state,
        case_version_after=loaded.row.version_id, reverted_at=None)).inserted_primary_key[0]
    return {**preview, "migration_id": migration_id}


def _move(loaded: LoadedCase, target: Deployment) -> None:
    new = deployments.load_pathway(target)
    workflow = loaded.workflow
    top_diff, sub_diffs = diff_workflow(state._registry, workflow, new.spec, new.subprocess_specs)
    migrate_workflow(top_diff, workflow, new.spec)
    for sub_id, subprocess in list(workflow.subprocesses.items()):
        sub_diff = sub_diffs.get(sub_id)
        if sub_diff is not None:
            migrate_workflow(sub_diff, subprocess, new.subprocess_specs[subprocess.spec.name])
    workflow.subprocess_specs = new.subprocess_specs
    loaded.pathway = new
    loaded.row.deployment = target


def revert(session: Session, migration_id, actor: str | None) -> dict:
    """Undo a migration: the stored state if the case has not changed since, else a
    migration back to the earlier version (with the same refusals)."""
    number = parse_id(migration_id)
    row = session.connection().execute(select(MIGRATIONS).where(
        MIGRATIONS.c.id == number)).first() if number is not None else None
    if row is None:
        raise NotFound(f"移行 '{migration_id}' が見つかりません。")
    if row.reverted_at is not None:
        raise Conflict(f"移行 {row.id} は既に元に戻されています。")
    loaded = load_case(session, row.case_id)
    earlier = session.get(Deployment, row.from_deployment_id)
    if loaded.row.deployment_id != row.to_deployment_id:
        raise Conflict(f"ケース {row.case_id} はこの移行のあと別の版に移されています。")
    if loaded.row.version_id == row.case_version_after and not loaded.fired_timers:
        loaded.row.state = row.previous_state
        loaded.row.deployment = earlier
        restored = deployments.load_pathway(earlier)
        loaded.workflow = state.load(row.previous_state, restored.spec, restored.subprocess_specs)
        loaded.pathway = restored
        how = "restored"
    else:
        preview = plan(session, loaded, earlier)
        if not preview["allowed"]:
            raise Conflict("移行のあとケースが進んだため、元の版に戻せません: " + " ".join(preview["reasons"]))
        _move(loaded, earlier)
        how = "migrated back"
    history.append(session, loaded.row.id, "migration_reverted", actor=actor,
                   from_version=session.get(Deployment, row.to_deployment_id).version,
                   to_version=earlier.version, how=how)
    run_engine_steps(session, loaded)
    save_case(session, loaded)
    task_index.rename_open_tasks(session, loaded.row, loaded.workflow)
    session.connection().execute(update(MIGRATIONS).where(MIGRATIONS.c.id == row.id)
                                 .values(reverted_at=clock.now()))
    return {"migration_id": row.id, "case_id": row.case_id, "version": earlier.version, "how": how}
