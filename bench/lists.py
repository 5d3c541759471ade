"""Benchmark P5: lists under the access policy at volume; prints p95 per list.

A generator writes 100,000 cases with 200,000 open tasks, 200,000 household members and
1,000,000 history rows straight into the tables (as the engine would have left them,
without running each case), then times, through the engine API with the policy on:
- the inbox of a 相談支援コーディネーター (their role's tasks, first page and a later page,
  and newest first);
- "my tasks" (tasks the user claimed);
- case search by 氏名 / ふりがな (partial match).
Each list is a page of 50. Target: p95 <= 50 ms.

Usage: python bench/lists.py [--cases N] [--calls N] [--database-url URL] [--keep] [--reuse URL]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from bench.databases import scratch_database  # noqa: E402
from engine import clock, households, migrate  # noqa: E402
from engine.api import Kasane, TaskFilter  # noqa: E402
from engine.store import (Agency, Case, CaseAgency, Deployment, HistoryEntry, HumanTask,  # noqa: E402
                          Member, MemberGram)
from engine.task_index import NO_DUE_DATE  # noqa: E402

WORKFLOWS = ROOT / "workflows"
SURNAMES = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田",
            "山田", "佐々木", "山口", "松本", "井上", "木村", "林", "斎藤", "清水"]
SURNAME_KANA = ["さとう", "すずき", "たかはし", "たなか", "いとう", "わたなべ", "やまもと", "なかむら",
                "こばやし", "かとう", "よしだ", "やまだ", "ささき", "やまぐち", "まつもと", "いのうえ",
                "きむら", "はやし", "さいとう", "しみず"]
GIVEN = [("花子", "はなこ"), ("一郎", "いちろう"), ("洋子", "ようこ"), ("健太", "けんた"),
         ("美咲", "みさき"), ("大輔", "だいすけ"), ("和子", "かずこ"), ("翔", "しょう")]
COORD_TASKS = ["モニタリング", "アセスメント", "プラン作成", "プラン協議", "同意確認", "支援会議記録",
               "受理判断", "終結協議", "再プラン作成", "再プラン協議", "中断協議", "フォローアップ確認"]
CHUNK = 10_000


def generate(api: Kasane, cases: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with api.transaction() as session:
        deployment_id = session.scalar(select(Deployment.id).where(Deployment.pathway == "jusou"))
        centres = [session.scalar(select(Agency.id).where(Agency.name == f"地域包括{n}"))
                   for n in range(1, 11)]
    now = clock.now()
    tables = {name: [] for name in ("cases", "tasks", "members", "grams", "holders", "history")}

    def flush(force=False):
        if not force and max(map(len, tables.values())) < CHUNK:
            return
        with api.transaction() as session:  # cases first: the others refer to them
            for name, model in (("cases", Case), ("holders", CaseAgency), ("members", Member),
                                ("grams", MemberGram), ("tasks", HumanTask), ("history", HistoryEntry)):
                if tables[name]:
                    session.execute(insert(model.__table__), tables[name])
                    tables[name].clear()

    for case_id in range(1, cases + 1):
        opened = now - timedelta(days=rng.randrange(1, 700))
        centre, referred = rng.choice(centres), rng.random() < 0.8  # most reach 多機関協働
        tables["cases"].append({
            "receiving_agency_id": centre, "referred_kinds": ",福祉まるごと相談室," if referred else ",",
            "id": case_id, "deployment_id": deployment_id, "pathway": "jusou", "status": "open",
            "stage": "モニタリング", "data": {}, "timers": [], "events": [], "state": "{}",
            "serializer_version": "1", "next_timer_at": None, "retry_at": None,
            "opened_at": opened, "opened_by": "bench", "updated_at": opened, "version_id": 1})
        tables["holders"].append({"case_id": case_id, "agency_id": centre,
                                  "agency_kind": None, "basis": "receiving", "element": None,
                                  "since": opened})
        if referred:
            tables["holders"].append({"case_id": case_id, "agency_id": None,
                                      "agency_kind": "福祉まるごと相談室", "basis": "referral",
                                      "element": "acceptance", "since": opened})
        for n in range(2):
            s = rng.randrange(len(SURNAMES))
            given, given_kana = GIVEN[rng.randrange(len(GIVEN))]
            name, kana = f"{SURNAMES[s]} {given}", f"{SURNAME_KANA[s]} {given_kana}"
            member_id = 2 * case_id + n - 1
            for gram in households.grams(households.normalise(name)) | households.grams(households.normalise(kana)):
                tables["grams"].append({"gram": gram, "case_id": case_id, "member_id": member_id})
            tables["members"].append({
                "id": member_id, "case_id": case_id, "name": name, "kana": kana, "relation": "本人" if n == 0 else "子",
                "birth_date": None, "flags": {}, "principal": n == 0,
                "search_name": households.normalise(name), "search_kana": households.normalise(kana),
                "created_at": opened, "updated_at": opened})
            due = opened + timedelta(days=rng.randrange(30, 800)) if rng.random() < 0.7 else None
            tables["tasks"].append({
                "id": str(uuid4()), "case_id": case_id, "spec_id": "monitoring",
                "name": rng.choice(COORD_TASKS), "role": "相談支援コーディネーター" if n == 0 or rng.random() < 0.7
                else rng.choice(["包括化推進員", "参加支援コーディネーター", "アウトリーチ支援員"]),
                "form_key": None, "stage": "モニタリング", "created_at": opened, "due_at": due,
                "due_sort": due or NO_DUE_DATE, "assigned_to": None, "reads": None,
                "claimed_by": "tanaka" if rng.random() < 0.01 else None, "state": "open",
                "closed_at": None, "closed_by": None})
        for n in range(10):
            tables["history"].append({"case_id": case_id, "at": opened + timedelta(days=n),
                                      "kind": "task_completed", "actor": "bench", "task_id": None,
                                      "name": "モニタリング", "details": {}})
        flush()
    flush(force=True)


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[18] * 1000


def measure(api: Kasane, calls: int) -> dict[str, list[float]]:
    rng = random.Random(3)
    results: dict[str, list[float]] = {"inbox (first page)": [], "inbox (a later page)": [],
                                       "inbox (newest first)": [], "my tasks": [], "case search": []}
    first = api.list_tasks(actor="tanaka", wanted=TaskFilter(limit=50))
    cursors = [first[-1]["cursor"]]
    for _ in range(20):
        page = api.list_tasks(actor="tanaka", wanted=TaskFilter(limit=50, after=cursors[-1]))
        cursors.append(page[-1]["cursor"])
    queries = ["花子", "さとう", "山田 一郎", "たなか", "健太", "こばやし みさき"]
    for _ in range(calls):
        for label, call in (
                ("inbox (first page)", lambda: api.list_tasks(actor="tanaka", wanted=TaskFilter(limit=50))),
                ("inbox (a later page)", lambda: api.list_tasks(
                    actor="tanaka", wanted=TaskFilter(limit=50, after=rng.choice(cursors)))),
                ("inbox (newest first)", lambda: api.list_tasks(
                    actor="tanaka", wanted=TaskFilter(limit=50, order="newest"))),
                ("my tasks", lambda: api.list_tasks(actor="tanaka", wanted=TaskFilter(mine=True, limit=50))),
                ("case search", lambda: api.search_cases(rng.choice(queries), actor="yamada", limit=50))):
            start = time.perf_counter()
            found = call()
            results[label].append(time.perf_counter() - start)
            assert found, label
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=200, help="calls per list")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--keep", action="store_true", help="keep the generated database")
    parser.add_argument("--reuse", help="measure on this database, generated by an earlier run")
    args = parser.parse_args()
    clock.set_now("2026-06-01")
    with scratch_database(None if args.reuse else args.database_url, "kasane_bench_lists",
                          keep=args.keep) as scratch:
        url = args.reuse or scratch
        if args.reuse:
            api = Kasane(url)
        else:
            migrate.upgrade(url)
            api = Kasane(url)
            api.deploy([WORKFLOWS])
            api.add_agency("福祉まるごと相談室", "福祉まるごと相談室")
            for n in range(1, 11):
                api.add_agency(f"地域包括{n}", "地域包括支援センター")
            api.add_user("tanaka", ["相談支援コーディネーター"], "福祉まるごと相談室")
            api.add_user("yamada", ["包括化推進員"], "地域包括1")
            start = time.perf_counter()
            generate(api, args.cases)
            print(f"generated {args.cases} cases, {2 * args.cases} tasks and members, "
                  f"{10 * args.cases} history rows in {time.perf_counter() - start:.0f} s"
                  + (f" (kept: --reuse {url} to measure again)" if args.keep else ""))
        if url.startswith("postgresql"):
            with api.db.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        results = measure(api, args.calls)
        api.close()
    print(f"database: {'PostgreSQL' if url.startswith('postgresql') else 'SQLite'}; "
          f"{args.cases} cases; p95 of {args.calls} calls, pages of 50, policy on")
    for label, times in results.items():
        value = p95(times)
        print(f"P5 {label:22s} p95 {value:6.1f} ms, median {statistics.median(times) * 1000:6.1f} ms "
              f"(target <= 50 ms) {'OK' if value <= 50 else 'MISSED'}")


if __name__ == "__main__":
    main()
