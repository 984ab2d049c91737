"""The built-in lessons: scenario files with a [lesson] table shipped under resources/lessons/,
named by file stem and listed in the lessons' order."""
from __future__ import annotations

from pathlib import Path

from app.paths import resource
from engine import lessons
from engine import scenario as io
from engine.scenario import Scenario, ScenarioError


def lesson_dir() -> Path:
    return resource("lessons")


def lesson_ids() -> list[str]:
    return list(lessons.lesson_files(lesson_dir()))


def lesson_path(id: str) -> Path:
    path = lesson_dir() / f"{id}.toml"
    if not path.is_file():
        raise ScenarioError(f"unknown lesson {id!r}; known: {', '.join(lesson_ids()) or '(none installed)'}")
    return path


def load_lesson(id: str) -> Scenario:
    return io.load(lesson_path(id))
