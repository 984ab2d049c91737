"""``optirace check-lessons [ID...]``: run lessons headless to their last step and check their
claims; one line per lesson, the failed claims under it, exit status 0 only if all hold."""
from __future__ import annotations

import sys

EXIT_FAILED = 1


def add_parser(sub) -> None:
    p = sub.add_parser("check-lessons", help="check that every lesson's race shows what its claims say",
                       description="Run built-in lessons headless and check their claims "
                                   "(docs/lessons.md describes the claim form).")
    p.add_argument("ids", nargs="*", metavar="ID", help="lesson ids (default: every built-in lesson)")
    p.add_argument("--seeds", type=int, default=5, metavar="N",
                   help="check each lesson with randomness on N seeds, its own and the next ones "
                        "(default 5; lessons with fixed_seed on their own only)")
    p.set_defaults(run=run)


def run(args) -> int:
    from engine import lessons
    from engine.scenario import ScenarioError

    from .export.lessons import lesson_ids, load_lesson

    try:
        ids = args.ids or lesson_ids()
        scenarios = [load_lesson(id) for id in ids]  # every file is valid before anything runs
    except ScenarioError as e:
        print(f"optirace: error: {e}", file=sys.stderr)
        return EXIT_FAILED
    ok = True
    for id, sc in zip(ids, scenarios):
        if sc.lesson is None:
            print(f"{id}: FAILED, not a lesson (no [lesson] table)")
            ok = False
            continue
        report = lessons.check(sc, seeds=max(1, args.seeds))
        print(report.line(), flush=True)
        for line in report.failures():
            print(line)
        ok = ok and report.ok
    return 0 if ok else EXIT_FAILED
