"""The built-in lessons: scenario files shipped under resources/lessons/, named by file stem."""
from __future__ import annotations

from pathlib import Path

from app.paths import resource
from engine import scenario as io
from engine.scenario import Scenario

from .encoder import ExportError


def lesson_dir() -> Path:
    return resource("lessons")


def lesson_ids() -> list[str]:
    return sorted(p.stem for p in lesson_dir().glob("*.toml"))


def lesson_path(id: str) -> Path:
    path = lesson_dir() / f"{id}.toml"
    if not path.is_file():
        raise ExportError(f"unknown lesson {id!r}; known: {', '.join(lesson_ids()) or '(none installed)'}")
    return path


def load_lesson(id: str) -> Scenario:
    return io.load(lesson_path(id))
