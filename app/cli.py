"""The ``optirace`` command line: without a subcommand it opens the race window (``optirace
FILE.toml`` opens a scenario file); subcommands (``export``, ``check-lessons``) are added by
hooks in their own modules (``warm-up`` in app/shell/warmup.py)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.optim import optimizers as O
from engine.surfaces import catalog as S
from engine.optim.registry import UnknownId
from engine import data as DATA
from engine.scenario import COLORMAPS, MODES

from .export.cli import size_type


def _surface(text: str) -> str:
    try:
        return S.get(text).id
    except UnknownId as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _dataset(text: str) -> str:
    try:
        return DATA.spec(text).id
    except UnknownId as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _racers(text: str) -> list[str]:
    ids = [e.strip() for e in text.split(",") if e.strip()]
    if not ids:
        raise argparse.ArgumentTypeError(f"no optimizer ids in {text!r}; known: {', '.join(O.names())}")
    try:
        return [O.spec(e).id for e in ids]
    except UnknownId as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="optirace", description="Optimizer race simulator for teaching deep learning.")
    p.add_argument("--surface", type=_surface, help=f"surface id ({', '.join(S.names())})")
    p.add_argument("--racers", type=_racers, help="comma-separated optimizer ids, e.g. sgd,momentum,adam")
    p.add_argument("--scenario", help="open this scenario file (TOML)")
    p.add_argument("--lesson", metavar="ID", help="open a built-in lesson")
    p.add_argument("--presenter", action="store_true", help="presenter mode (F5 in the window): the lesson "
                   "full screen for the hall, keys and clicker only")
    p.add_argument("--lessons", action="store_true", help="open on the lesson browser (the start page)")
    p.add_argument("--theme", choices=("light", "dark"), help="colour theme")
    p.add_argument("--projector", action="store_true", help="large fonts and thick lines")
    p.add_argument("--colormap", choices=COLORMAPS, help="height shading of the map")
    p.add_argument("--mode", choices=tuple(MODES), help="open in this mode (surface: the surface race, "
                   "lab: the network lab)")
    p.add_argument("--dataset", type=_dataset, help=f"with --mode lab: the data set ({', '.join(DATA.DATA_SETS.ids())})")
    p.add_argument("--size", type=size_type(320, 240), help="window size, e.g. 1920x1080")
    p.add_argument("--screenshot", metavar="FILE.png", help="render the window to FILE.png and exit")
    p.add_argument("--after-steps", type=int, default=300, metavar="N",
                   help="with --screenshot: the step to show (default 300; at a lesson's pause, with its caption)")
    p.add_argument("--no-restore", action="store_true", help="ignore the saved window and scenario")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    from .export.cli import add_export_parsers

    from .check_lessons import add_parser
    from .lessons_browser import thumbnails
    from .shell import warmup

    add_export_parsers(sub)
    add_parser(sub)
    warmup.add_parser(sub)
    thumbnails.add_parser(sub)
    return p


def scenario_from_args(args):
    """The scenario the window opens with, or None to use the saved one."""
    from engine import scenario as io
    from engine.scenario import CLASSIC_LRS, RacerConfig, Scenario, classic_six

    from .export.lessons import load_lesson

    if args.scenario and args.lesson:
        raise io.ScenarioError("give either a scenario file or --lesson ID, not both")
    if args.lesson:
        sc = load_lesson(args.lesson)
    elif args.scenario:
        sc = io.load(args.scenario)
    elif args.mode == "lab" or args.dataset:
        sc = Scenario(mode="lab")
        if args.dataset:
            sc.lab.dataset = args.dataset
    elif args.surface or args.racers or args.screenshot or args.colormap:
        surface = args.surface or "beale"
        if args.racers:
            six = {r.optimizer: r for r in classic_six(surface if surface in CLASSIC_LRS else "beale")}
            racers = [six.get(o) or RacerConfig(o) for o in args.racers]
            racers = [RacerConfig(r.optimizer, dict(r.hyper)) for r in racers]
        else:
            racers = classic_six(surface if surface in CLASSIC_LRS else "beale")
        sc = Scenario(surface=surface, racers=racers)
    else:
        return None
    if args.theme:
        sc.view.theme = args.theme
    if args.projector:
        sc.view.projector = True
    if args.colormap:
        sc.view.colormap = args.colormap
    return sc


def run_gui(args) -> int:
    from engine.scenario import ScenarioError

    try:
        sc = scenario_from_args(args)
    except ScenarioError as e:
        print(f"optirace: {e}", file=sys.stderr)
        return 2
    if args.screenshot is not None:
        from .export.cli import _headless

        _headless()  # a screenshot needs no screen, as an export does not
    else:
        from .platform_check import check_display

        problem = check_display()
        if problem is not None:
            print(problem, file=sys.stderr)
            return 1
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("OptiRace")
    app.setApplicationName("OptiRace")
    from .shell.window import ShellWindow
    from .model import ScenarioModel
    from .presenter import prefs

    model = ScenarioModel(sc) if sc is not None else None
    shot = args.screenshot is not None
    win = ShellWindow(model, restore=not (args.no_restore or shot), warm_up=not shot)
    if args.theme and sc is None:
        win.model.set_view("theme", args.theme)
    if args.size:
        win.resize(*args.size)
    win.show()
    if args.presenter:
        win.presenter.enter(full_screen=args.size is None, theme=args.theme)
    elif args.lessons or (sc is None and not shot and prefs.start_page()):
        win.lessons.show_page()
    if shot:
        return screenshot(app, win, args.screenshot, args.after_steps)
    return app.exec()


def screenshot(app, win, path: str, steps: int) -> int:
    """Show ``steps`` steps of the race, render the window to ``path`` and return an exit code."""
    from PySide6.QtGui import QCursor

    QCursor.setPos(0, 0)  # no hover tooltip in the picture
    app.processEvents()
    win.layout_docks()
    app.processEvents()
    win.controller.run_to(max(0, steps))
    win.caption.show_pause(steps)  # at a lesson's pause, its caption: what the class reads there
    while win.restyling or (win.lessons.page_shown and win.lessons.thumbnails.worker is not None):
        app.processEvents()  # a theme change runs in steps of their own; thumbnails in a process
    for _ in range(3):
        app.processEvents()
    with win.mode.for_picture():
        ok = win.grab().save(path)
    win.save_settings = lambda: None  # a screenshot run leaves the user's settings alone
    win.close()
    if not ok:
        print(f"optirace: could not write {path}", file=sys.stderr)
        return 1
    return 0


def file_as_option(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``optirace FILE.toml ...`` as ``optirace --scenario FILE.toml ...``: the first argument
    that is no option's value is a file if it names an existing .toml file, else a command."""
    takes_value = {s for a in parser._actions for s in a.option_strings if a.nargs != 0}
    i = 0
    while i < len(argv):
        a = argv[i]
        if not a.startswith("-"):
            if a.endswith(".toml") and Path(a).is_file():
                return [*argv[:i], "--scenario", a, *argv[i + 1:]]
            return argv
        i += 2 if a in takes_value else 1
    return argv


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(file_as_option(parser, argv))
    if args.command is None:
        return run_gui(args)
    return args.run(args)
