"""The manager's modeler (/pathways): every pathway with its versions, what changed between
two versions, the bpmn-js / dmn-js editor that lints, keeps drafts and deploys, and moving
running cases from one version to another.

Every view calls the engine as the signed-in user; the engine refuses anyone without the
role 管理者 (a 403 page). The editor's files travel as form fields (``file:<name>``, one
textarea per file, kept up to date by ``static/modeler.js``) or as JSON
(``{"files": {name: xml}, "based_on": n}``), so the page also works without JavaScript.
"""
from __future__ import annotations

from pathlib import PurePosixPath

from flask import Blueprint, flash, jsonify, make_response, redirect, render_template, request, url_for

from engine.errors import KasaneError, ModelRefused, NotFound
from webui import errors
from webui.auth import login_required
from webui.current import actor, engine
from webui.extensions import wants_fragment

bp = Blueprint("modeler", __name__, url_prefix="/pathways")

FILE_FIELD = "file:"
PAGE_SIZE = 50
# diagram-js and the properties panel position and size their parts with inline styles; the
# editor page alone allows them (scripts stay 'self' only).
EDITOR_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                 "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
MODEL_UPLOAD_LIMIT = 16 * 1024 * 1024  # the engine refuses files over 5 MB and 50 files


# The element types the diff names, as a manager reads them.
ELEMENT_TYPES = {
    "process": "プロセス", "collaboration": "コラボレーション", "participant": "プール",
    "laneSet": "レーンの集まり", "lane": "レーン", "task": "タスク", "userTask": "ユーザータスク",
    "scriptTask": "スクリプトタスク", "businessRuleTask": "ビジネスルールタスク",
    "receiveTask": "受信タスク", "manualTask": "手作業タスク", "callActivity": "呼び出しアクティビティ",
    "subProcess": "サブプロセス", "startEvent": "開始イベント", "endEvent": "終了イベント",
    "boundaryEvent": "境界イベント", "intermediateCatchEvent": "中間イベント（待ち）",
    "intermediateThrowEvent": "中間イベント", "exclusiveGateway": "排他ゲートウェイ",
    "parallelGateway": "並列ゲートウェイ", "inclusiveGateway": "包含ゲートウェイ",
    "sequenceFlow": "シーケンスフロー", "messageFlow": "メッセージフロー", "message": "メッセージ",
    "dataObject": "データオブジェクト", "dataObjectReference": "データオブジェクト",
    "textAnnotation": "注釈", "association": "関連", "timerEventDefinition": "タイマー",
    "messageEventDefinition": "メッセージの定義", "definitions": "ファイル", "decision": "決定",
    "decisionTable": "決定表", "input": "入力列", "output": "出力列", "rule": "規則",
    "inputEntry": "条件のセル", "outputEntry": "結果のセル",
}


@bp.context_processor
def _names():
    return {"element_types": ELEMENT_TYPES}


@bp.url_value_preprocessor
def _room_for_models(endpoint, values):
    """Model files are larger than any task form: raise the request limits for these
    views. This runs before every before_request hook, including the CSRF check, which
    is the first to read the form."""
    request.max_content_length = MODEL_UPLOAD_LIMIT
    request.max_form_memory_size = MODEL_UPLOAD_LIMIT


@bp.before_request
@login_required
def _signed_in():
    """Every page here needs a signed-in user; the engine decides whether they may."""


@bp.errorhandler(KasaneError)
def _engine_error(exc: KasaneError):
    """A JSON call gets its refusal as JSON, with the engine's status; pages get the
    Japanese error page."""
    if request.is_json:
        status = next((code for kind, code in errors.ENGINE_STATUS.items() if isinstance(exc, kind)), 422)
        return jsonify(exc.to_dict()), status
    return errors.engine_error(exc)


# --- pathways and versions ---------------------------------------------------------------


@bp.get("")
def index():
    return render_template("modeler/index.html", pathways=engine().list_pathways(actor=actor()))


@bp.get("/<pathway>/diff")
def diff(pathway: str):
    versions = _versions(pathway)
    numbers = [v["version"] for v in versions]
    newest = numbers[-1]
    old = request.args.get("from") or (numbers[-2] if len(numbers) > 1 else newest)
    new = request.args.get("to") or newest
    changes = engine().pathway_diff(pathway, old, new, actor=actor())
    return render_template("modeler/diff.html", pathway=pathway, versions=versions, diff=changes)


@bp.get("/<pathway>/versions/<int:version>")
def version_cases(pathway: str, version: int):
    after = request.args.get("after")
    cases = engine().running_cases(pathway, version, actor=actor(), limit=PAGE_SIZE, after=after)
    versions = _versions(pathway)
    return render_template("modeler/version.html", pathway=pathway, version=version, cases=cases,
                           latest=versions[-1]["version"], after=after,
                           next_cursor=cases[-1]["cursor"] if len(cases) == PAGE_SIZE else None)


def _versions(pathway: str) -> list[dict]:
    for entry in engine().list_pathways(actor=actor()):
        if entry["pathway"] == pathway:
            return entry["versions"]
    raise NotFound(f"パスウェイ '{pathway}' はデプロイされていません。")


# --- moving running cases ----------------------------------------------------------------


@bp.get("/<pathway>/cases/<case_id>")
def case_migration(pathway: str, case_id: str):
    kasane, who = engine(), actor()
    preview = kasane.preview_migration(case_id, request.args.get("to") or None, actor=who)
    if preview["pathway"] != pathway:
        raise NotFound(f"ケース '{case_id}' はパスウェイ '{pathway}' のケースではありません。")
    changes = kasane.pathway_diff(pathway, preview["from_version"], preview["to_version"], actor=who) \
        if preview["from_version"] != preview["to_version"] else None
    return render_template("modeler/case.html", pathway=pathway, preview=preview, diff=changes,
                           versions=_versions(pathway),
                           migrations=kasane.case_migrations(case_id, actor=who))


@bp.post("/<pathway>/cases/<case_id>/migrate")
def migrate(pathway: str, case_id: str):
    moved = engine().migrate_case(case_id, request.form.get("to") or None, actor=actor())
    flash(f"ケース {moved['case_id']} を版 {moved['from_version']} から版 {moved['to_version']} に"
          f"移しました。", "success")
    return redirect(url_for(".case_migration", pathway=pathway, case_id=moved["case_id"]), 303)


@bp.post("/<pathway>/cases/<case_id>/migrations/<migration_id>/revert")
def revert(pathway: str, case_id: str, migration_id: str):
    back = engine().revert_migration(migration_id, actor=actor())
    how = "移行前の状態に戻しました" if back["how"] == "restored" else "元の版に移し戻しました"
    flash(f"ケース {back['case_id']} を版 {back['version']} に戻しました（{how}）。", "success")
    return redirect(url_for(".case_migration", pathway=pathway, case_id=back["case_id"]), 303)


# --- the editor ------------------------------------------------------------------------------


@bp.get("/<pathway>/edit")
def edit(pathway: str):
    kasane, who = engine(), actor()
    opened = kasane.pathway_files(pathway, request.args.get("version") or None, actor=who)
    draft = opened["draft"]
    if request.args.get("draft") and draft is not None:
        files, based_on = draft["files"], draft["based_on"]
    else:
        files, based_on = opened["files"], opened["version"]
    return _editor(pathway, files, based_on, showing_draft=bool(request.args.get("draft") and draft),
                   draft=draft, versions=_versions(pathway))


@bp.get("/new")
def new():
    return _editor(None, {}, None)


@bp.post("/lint")
def lint():
    files, based_on = _posted_model()
    result = engine().lint_files(files, actor=actor())
    if request.is_json:
        return jsonify(result)
    return _results(files, based_on, result=result)


@bp.post("/deploy")
def deploy():
    files, based_on = _posted_model()
    try:
        deployed = engine().deploy_files(files, actor=actor())
    except ModelRefused as refused:
        if request.is_json:
            return jsonify(refused.to_dict()), 422
        return _results(files, based_on, refused=refused, status=422)
    if request.is_json:
        return jsonify({"deployed": deployed})
    new_versions = [d for d in deployed if d["new"]]
    if new_versions:
        flash("デプロイしました: " + "、".join(f"{d['pathway']} 版 {d['version']}" for d in new_versions)
              + "。新しいケースはこの版で始まります。動いているケースは元の版のままです。", "success")
    else:
        flash("前の版と同じ内容のため、新しい版は作られませんでした。", "info")
    target = url_for(".index")
    if wants_fragment():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


@bp.post("/<pathway>/draft")
def save_draft(pathway: str):
    files, based_on = _posted_model()
    saved = engine().save_model_draft(pathway, files, based_on, actor=actor())
    if request.is_json:
        return jsonify(saved)
    if wants_fragment():
        return render_template("modeler/_results.html", saved=saved)
    flash("下書きを保存しました。", "success")
    return redirect(url_for(".edit", pathway=pathway, draft=1), 303)


def _posted_model() -> tuple[dict, object]:
    """The model files and the version they were opened from, as JSON or form fields. A
    textarea left empty drops its file; uploaded files add to or replace the others."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return {}, None
        return body.get("files") or {}, body.get("based_on")
    files = {key[len(FILE_FIELD):]: value for key, value in request.form.items()
             if key.startswith(FILE_FIELD) and value.strip()}
    for upload in request.files.getlist("upload"):
        if upload.filename:
            files[PurePosixPath(upload.filename).name] = upload.read()
    return files, request.form.get("based_on") or None


def _results(files: dict, based_on, status: int = 200, **results):
    """The lint or deploy results: a fragment for htmx, else the editor with them."""
    if wants_fragment():
        return render_template("modeler/_results.html", **results), status
    texts = {name: text.decode("utf-8", "replace") if isinstance(text, bytes) else text
             for name, text in files.items() if isinstance(name, str)}
    pathway = request.form.get("pathway") or None
    return _editor(pathway, texts, based_on, status=status, **results)


def _editor(pathway, files: dict, based_on, status: int = 200, **context):
    ordered = dict(sorted(files.items(), key=lambda item: (
        not item[0].endswith(".bpmn"), item[0] != f"{pathway}.bpmn", item[0])))
    response = make_response(render_template(
        "modeler/edit.html", pathway=pathway, files=ordered, based_on=based_on,
        vocabulary=engine().modeling_vocabulary(actor=actor()), file_field=FILE_FIELD, **context),
        status)
    response.headers["Content-Security-Policy"] = EDITOR_POLICY
    return response
