"""Deploying pathways: read BPMN/DMN files, refuse models that will not run, store versions.

A deployment is one version of one pathway (an executable BPMN process id) together with
the files it needs: its own BPMN file, the files of the processes it calls, and the DMN
files of the decisions it uses. Deploying identical content again creates no version.
"""
from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock, limits, modelcheck, modelfiles
from engine.errors import InvalidInput, ModelRefused, NotFound
from engine.parsing import PathwayParser
from engine.store import Deployment, User

MODEL_SUFFIXES = (".bpmn", ".dmn")


@dataclass
class Pathway:
    """A parsed, runnable deployment."""
    deployment_id: int
    pathway: str
    version: int
    name: str | None
    spec: object
    subprocess_specs: dict
    decisions: dict = field(default_factory=dict)  # decision id -> DMNEngine
    internal: frozenset = frozenset()  # working variables the models declare (internalVariables)


@dataclass
class Bundle:
    """The result of reading a set of model files."""
    files: dict[str, str]
    parser: PathwayParser | None = None
    problems: list[dict] = field(default_factory=list)

    def problem(self, file, element, message):
        self.problems.append({"file": file, "element": element, "message": message})


def read_model_bytes(paths) -> dict[str, bytes]:
    """Model files under the given paths, as bytes, keyed by a name relative to their folder."""
    files: dict[str, bytes] = {}
    for path in map(Path, paths):
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.suffix in MODEL_SUFFIXES):
                files[file.relative_to(path).as_posix()] = file.read_bytes()
        elif path.is_file():
            files[path.name] = path.read_bytes()
        else:
            raise NotFound(f"ファイルまたはフォルダが見つかりません: {path}")
    return files


def decode_models(raw: dict[str, bytes]) -> tuple[dict[str, str], list[dict]]:
    """UTF-8 text of each file, as its BOM or XML declaration says to read it; files that
    cannot be read come back as problems instead."""
    files, problems = {}, []
    for name, data in raw.items():
        try:
            files[name] = modelfiles.xml_text(data)
        except modelfiles.UnreadableModel as exc:
            problems.append({"file": name, "element": None, "message": exc.reason})
    return files, problems


def read_model_files(paths) -> dict[str, str]:
    """Model files under the given paths as UTF-8 text; ModelRefused if one is unreadable."""
    files, problems = decode_models(read_model_bytes(paths))
    if problems:
        raise ModelRefused("モデルのファイルを読めません。", problems)
    return files


def parse_bundle(files: dict[str, str], problems: list[dict] | None = None) -> Bundle:
    """Parse and check a set of files; ``problems`` found while reading them come first."""
    limits.current()  # an invalid KASANE_LIMIT_* setting is refused before anything runs
    bundle = Bundle(files=files, parser=PathwayParser(), problems=list(problems or []))
    if not files and not bundle.problems:
        bundle.problem(None, None, "BPMN/DMN ファイルがありません。")
        return bundle
    for name, text in files.items():
        try:
            tree = etree.fromstring(text.encode("utf-8"))
        except etree.XMLSyntaxError as exc:
            bundle.problem(name, None, f"XML として読めません: {exc}")
            continue
        bundle.problems.extend(modelcheck.check_expressions(name, tree))
        bundle.problems.extend(modelcheck.check_stored_text(name, tree))
        # SpiffWorkflow's parser would fail on these without saying where, or overflow.
        unparsable = (modelcheck.check_supported_elements(name, tree)
                      + modelcheck.check_element_count(name, tree))
        if unparsable:
            bundle.problems.extend(unparsable)
            continue
        if name.endswith(".dmn") and len(tree.findall("{*}decision")) > 1:
            bundle.problem(name, None, "DMN ファイル1つにつき decision は1つにしてください"
                                       "（SpiffWorkflow は2つ目以降を読みません）。")
            continue
        modelcheck.quote_plain_timer_expressions(tree)
        try:
            if name.endswith(".dmn"):
                bundle.parser.add_dmn_xml(tree, filename=name)
            else:
                bundle.parser.add_bpmn_xml(tree, filename=name)
        except ValidationException as exc:
            bundle.problem(exc.file_name or name, exc.id or None, _exception_text(exc))
        except RecursionError:
            bundle.problem(name, None, TOO_LONG)
        except Exception as exc:  # a parser failure must still end in a precise problem
            bundle.problem(name, None, f"モデルを読み込めません: {type(exc).__name__}: {exc}")
    if bundle.problems:
        return bundle
    for process_id in pathway_ids(bundle.parser):
        try:
            build_pathway(bundle.parser, process_id)
        except (ValidationException, SpiffWorkflowException, RecursionError) as exc:
            if _recursion(exc):  # SpiffWorkflow parses one element per level of recursion
                bundle.problem(_file_of(bundle.parser, process_id), process_id, TOO_LONG)
                continue
            bundle.problem(getattr(exc, "file_name", None) or _file_of(bundle.parser, process_id),
                           getattr(exc, "id", None) or process_id, _exception_text(exc))
            continue
        for problem in modelcheck.check_conventions(bundle.parser, process_id):
            if problem not in bundle.problems:  # a called process is checked once per caller
                bundle.problems.append(problem)
    if not pathway_ids(bundle.parser):
        bpmn = [name for name in files if name.endswith(".bpmn")]
        bundle.problem(bpmn[0] if len(bpmn) == 1 else None, None,
                       "実行可能なプロセス (isExecutable=\"true\") がありません。")
    return bundle


def pathway_ids(parser: PathwayParser) -> list[str]:
    """Executable top-level processes. SpiffWorkflow lists embedded subprocesses too."""
    return sorted(pid for pid in parser.get_process_ids()
                  if etree.QName(parser.get_process_parser(pid).node).localname == "process")


MAX_FILES = 50
MAX_FILE_BYTES = 5 * 1024 * 1024


def given_files(files: dict) -> dict[str, bytes]:
    """Model files sent as content (the modeler), checked like files read from a folder."""
    if not isinstance(files, dict) or not files:
        raise InvalidInput("モデルのファイルがありません。")
    if len(files) > MAX_FILES:
        raise InvalidInput(f"ファイルが多すぎます（上限 {MAX_FILES} 個）。")
    raw = {}
    for name, content in files.items():
        if not isinstance(name, str) or not name.endswith(MODEL_SUFFIXES) or "/" in name \
                or "\\" in name or name.startswith(".") or len(name) > 200:
            raise InvalidInput(f"ファイル名 {name!r} は使えません（.bpmn か .dmn の名前にしてください）。")
        data = content.encode("utf-8") if isinstance(content, str) else content
        if not isinstance(data, bytes) or len(data) > MAX_FILE_BYTES:
            raise InvalidInput(f"ファイル {name} が大きすぎるか、文字列ではありません"
                               f"（上限 {MAX_FILE_BYTES // 1024 // 1024} MB）。")
        raw[name] = data
    return raw


def lint(paths, session: Session | None = None) -> dict:
    """Problems (a model that will not run) and warnings (it runs, but look again)."""
    return lint_bytes(read_model_bytes(paths), session)


def lint_bytes(raw: dict[str, bytes], session: Session | None = None) -> dict:
    """With a session, the warnings include lanes that no registered user holds and that no
    earlier version of the pathway had: a typo in a lane name makes tasks nobody can do.
    """
    bundle = parse_bundle(*decode_models(raw))
    warnings = lane_warnings(session, bundle) if session is not None and not bundle.problems else []
    return {"ok": not bundle.problems, "problems": bundle.problems, "warnings": warnings}


def lane_warnings(session: Session, bundle: Bundle) -> list[dict]:
    held = {role for roles in session.scalars(select(User.roles)) for role in roles}
    warnings = []
    for process_id in pathway_ids(bundle.parser):
        earlier = {role for roles in session.scalars(
            select(Deployment.roles).where(Deployment.pathway == process_id)) for role in roles}
        for name, lane_id, file in _lanes_with_ids(bundle, process_id):
            if name not in held and name not in earlier:
                warnings.append({"file": file, "element": lane_id,
                                 "message": f"レーン「{name}」の役割をもつ利用者がいません。前の版にも"
                                            f"ないレーンです。名前の誤りなら、このレーンのタスクは"
                                            f"だれも行えません。"})
    return warnings


def _lanes_with_ids(bundle: Bundle, process_id: str):
    seen = set()
    for pid in [process_id, *called_processes(bundle.parser, process_id)]:
        process_parser = bundle.parser.get_process_parser(pid)
        for lane in process_parser.node.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}lane"):
            if lane.get("name") and lane.get("name") not in seen:
                seen.add(lane.get("name"))
                yield lane.get("name"), lane.get("id"), process_parser.filename


def build_pathway(parser: PathwayParser, process_id: str) -> tuple:
    spec = parser.get_spec(process_id)
    subprocess_specs = parser.get_subprocess_specs(process_id)
    # A missing validation decision is reported by modelcheck.check_conventions.
    decisions = {ref: parser.get_engine(ref, None) for ref in decision_refs(parser, process_id)
                 if ref in parser.dmn_parsers}
    return spec, subprocess_specs, decisions


def decision_refs(parser: PathwayParser, process_id: str) -> set[str]:
    refs = set()
    for pid in [process_id, *called_processes(parser, process_id)]:
        refs |= modelcheck.decisions_used(parser.get_process_parser(pid).node)
    return refs


def lanes(parser: PathwayParser, process_id: str) -> list[str]:
    """The lane names (roles) of a process and the processes it calls, in model order."""
    names: list[str] = []
    specs = [parser.get_spec(process_id), *parser.get_subprocess_specs(process_id).values()]
    for spec in specs:
        for task_spec in spec.task_specs.values():
            lane = getattr(task_spec, "lane", None)
            if lane and lane not in names:
                names.append(lane)
    return names


def called_processes(parser: PathwayParser, process_id: str) -> list[str]:
    return sorted(parser.get_subprocess_specs(process_id))


def _file_of(parser, process_id):
    process_parser = parser.get_process_parser(process_id)
    return process_parser.filename if process_parser else None


def files_for(bundle: Bundle, process_id: str) -> dict[str, str]:
    parser = bundle.parser
    names = {_file_of(parser, pid) for pid in [process_id, *called_processes(parser, process_id)]}
    names |= {parser.dmn_parsers[ref].filename for ref in decision_refs(parser, process_id)
              if ref in parser.dmn_parsers}
    return {name: bundle.files[name] for name in sorted(n for n in names if n)}


def content_hash(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return digest.hexdigest()


def deploy(session: Session, paths, actor: str | None = None) -> list[dict]:
    """Deploy every executable process found under paths; refuse all if any problem."""
    return deploy_bytes(session, read_model_bytes(paths), actor)


def deploy_bytes(session: Session, raw: dict[str, bytes], actor: str | None = None) -> list[dict]:
    bundle = parse_bundle(*decode_models(raw))
    if bundle.problems:
        raise ModelRefused("モデルに問題があるためデプロイできません。", bundle.problems)
    results = []
    for process_id in pathway_ids(bundle.parser):
        files = files_for(bundle, process_id)
        digest = content_hash(files)
        latest = latest_deployment(session, process_id)
        if latest is not None and latest.content_hash == digest:
            results.append({"pathway": process_id, "version": latest.version, "new": False})
            continue
        deployment = Deployment(
            pathway=process_id, version=(latest.version + 1) if latest else 1,
            name=bundle.parser.get_process_parser(process_id).get_name(),
            content_hash=digest, files=files, roles=lanes(bundle.parser, process_id),
            deployed_at=clock.now(), deployed_by=actor)
        session.add(deployment)
        session.flush()
        results.append({"pathway": process_id, "version": deployment.version, "new": True})
    return results


def latest_deployment(session: Session, pathway: str) -> Deployment | None:
    return session.scalars(
        select(Deployment).where(Deployment.pathway == pathway)
        .order_by(Deployment.version.desc()).limit(1)).first()


def task_stages(session: Session) -> list[str]:
    """The stages (``stage`` property) the user tasks of each pathway's latest version name,
    in the order of the models."""
    stages: list[str] = []
    for pathway in session.scalars(select(Deployment.pathway).distinct().order_by(Deployment.pathway)):
        loaded = load_pathway(latest_deployment(session, pathway))
        for spec in [loaded.spec, *loaded.subprocess_specs.values()]:
            for task_spec in spec.task_specs.values():
                stage = (getattr(task_spec, "extensions", None) or {}).get("stage")
                if stage and task_spec.manual and stage not in stages:
                    stages.append(stage)
    return stages


_cache: dict[tuple[str, str], tuple] = {}
_cache_lock = threading.Lock()


def load_pathway(deployment: Deployment) -> Pathway:
    """Parse a deployment once per process; specs are shared, read-only, by all its cases."""
    key = (deployment.pathway, deployment.content_hash)
    with _cache_lock:
        parsed = _cache.get(key)
        if parsed is None:
            bundle = parse_bundle(dict(deployment.files))
            if bundle.problems:
                raise ModelRefused("保存されたモデルを読み込めません。", bundle.problems)
            parsed = _cache[key] = (*build_pathway(bundle.parser, deployment.pathway),
                                    modelcheck.internal_variables(bundle.files))
    spec, subprocess_specs, decisions, internal = parsed
    return Pathway(deployment.id, deployment.pathway, deployment.version, deployment.name,
                   spec, subprocess_specs, decisions, internal)


TOO_LONG = ("要素の連なりが長すぎて SpiffWorkflow が読み込めません（一続きの流れがおよそ 400 要素を"
            "超えています）。サブプロセスや呼び出しアクティビティで分けてください。")


def _recursion(exc: BaseException) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, RecursionError) or "RecursionError" in str(exc)[:200]:
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


# SpiffWorkflow's own refusals, as a manager should read them.
_SPIFF_MESSAGES = [
    (re.compile(r"Duplicate process ID: (?P<id>.*?)\.?\s*$"),
     "プロセス ID {id} が重複しています。ファイルごとに別の ID にしてください。"),
    (re.compile(r"Data Store with name (?P<name>.*) has no implementation", re.S),
     "データストア「{name}」には対応していません。"),
    (re.compile(r"The process '(?P<id>.*)' was not found"),
     "呼び出すプロセス {id} がデプロイするファイルの中にありません。"),
]


def _exception_text(exc: Exception) -> str:
    text = str(exc).strip()
    for pattern, japanese in _SPIFF_MESSAGES:
        found = pattern.search(text)
        if found:
            text = japanese.format(**{k: " ".join(v.split()) for k, v in found.groupdict().items()})
            break
    else:
        text = f"モデルを読み込めません（SpiffWorkflow の検査）: {text}"
    notes = getattr(exc, "__notes__", None)
    if notes:
        text += " (" + "; ".join(notes) + ")"
    return text
