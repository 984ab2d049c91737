"""``optirace check-lessons``, ``optirace --lesson ID --screenshot`` and ``optirace FILE.toml``
in a subprocess without a screen: every lesson's claims hold within the time budget, a false
claim fails with what was claimed and measured, and a lesson opens in the window."""
from __future__ import annotations

import re
import shutil

import pytest
from PySide6.QtGui import QImage

from app.cli import build_parser, file_as_option
from app.export.lessons import lesson_dir, lesson_ids

from .test_export_cli import ROOT, optirace

def test_every_lesson_is_found_in_this_checkout():
    assert lesson_dir() == ROOT / "resources" / "lessons"
    assert set(lesson_ids()) == {p.stem for p in lesson_dir().glob("*.toml")}


def test_check_lessons_passes_every_lesson():
    # Their times are figures of benchmarks/bench_lessons.py, not asserted: CI machines are busy.
    r = optirace("check-lessons")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == lesson_ids()
    for line in lines:
        m = re.fullmatch(r"\S+: ok, (\d+) claims hold(?: on 5 seeds)? \(\d+\.\d s\)", line)
        assert m, line
        assert int(m[1]) >= 3


def test_a_false_claim_fails_with_what_was_claimed_and_measured(tmp_path, monkeypatch, capsys):
    # A copy of the lessons with one claim turned around: momentum finishing after SGD.
    res = tmp_path / "resources"
    shutil.copytree(ROOT / "resources", res)
    path = res / "lessons" / "ravine_momentum.toml"
    text = path.read_text()
    assert 'racer = "Momentum"\nother = "SGD"' in text
    path.write_text(text.replace('racer = "Momentum"\nother = "SGD"', 'racer = "SGD"\nother = "Momentum"'))
    monkeypatch.setattr("app.paths._CHECKOUT", tmp_path)
    (tmp_path / "pyproject.toml").write_text("")
    from app.check_lessons import run

    class Args:
        ids = ["ravine_momentum", "cliff_clipping"]
        seeds = 5

    assert run(Args) == 1
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"ravine_momentum: FAILED, 1 of 6 claims do not hold \(\d+\.\d s\)", out[0])
    assert out[1] == ("  claims[0]: claimed SGD finished at least 100 steps before Momentum and in at most 1/5 "
                      "of its steps; measured SGD finished at 285; Momentum finished at 41")
    assert out[2].startswith("cliff_clipping: ok")


def test_check_lessons_output_on_failure(tmp_path):
    r = optirace("check-lessons", "no_such_lesson")
    assert r.returncode == 1 and "unknown lesson 'no_such_lesson'" in r.stderr


def test_open_a_lesson_and_save_the_window(tmp_path):
    out = tmp_path / "shot.png"
    r = optirace("--lesson", "saddle_escape", "--presenter", "--theme", "light", "--size", "1000x700",
                 "--screenshot", str(out), "--after-steps", "50")
    assert r.returncode == 0, r.stderr
    assert QImage(str(out)).size().toTuple() == (1000, 700)
    r = optirace("--lesson", "nope", "--screenshot", str(out))
    assert r.returncode == 2 and "unknown lesson 'nope'" in r.stderr


def test_a_toml_file_argument_opens_the_file_else_it_is_a_command(tmp_path):
    p = build_parser()
    lesson = str(ROOT / "resources" / "lessons" / "cliff_clipping.toml")
    assert file_as_option(p, [lesson]) == ["--scenario", lesson]
    assert file_as_option(p, ["--size", "800x600", lesson]) == ["--size", "800x600", "--scenario", lesson]
    assert file_as_option(p, ["export", lesson, "-o", "a.mp4"]) == ["export", lesson, "-o", "a.mp4"]
    assert file_as_option(p, [str(tmp_path / "missing.toml")]) == [str(tmp_path / "missing.toml")]
    out = tmp_path / "shot.png"
    r = optirace(lesson, "--size", "800x600", "--screenshot", str(out), "--after-steps", "12")
    assert r.returncode == 0, r.stderr
    assert QImage(str(out)).size().toTuple() == (800, 600)


@pytest.mark.parametrize("args", [["--lesson", "cliff_clipping", "--scenario", "x.toml"]])
def test_a_lesson_and_a_file_together_are_refused(args):
    r = optirace(*args, "--screenshot", "x.png")
    assert r.returncode == 2 and "not both" in r.stderr
