"""The lessons a teacher can open: the built-in ones and those of the user's lesson folders,
in lecture order, numbered; a file that cannot be read is a problem naming it and the rest still list."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from engine import scenario as io
from engine.scenario import ScenarioError

from ..export.lessons import lesson_dir


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    topic: str
    order: int
    summary: str  # a line of what it shows: the caption's first sentences
    notes: str
    mode: str
    path: Path
    builtin: bool


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str

    def __str__(self) -> str:
        return self.message if str(self.path) in self.message else f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Catalog:
    entries: tuple[Entry, ...]  # in lecture order: entries[i] is lesson number i + 1
    problems: tuple[Problem, ...]

    def topics(self) -> list[str]:
        """The topics in the order of their first lesson."""
        return list(dict.fromkeys(e.topic for e in self.entries))

    def index_of(self, path) -> int | None:
        path = Path(path).resolve()
        return next((i for i, e in enumerate(self.entries) if e.path.resolve() == path), None)

    def find(self, id: str) -> Entry | None:
        return next((e for e in self.entries if e.id == id), None)


SUMMARY_CHARS = 80


def summary(caption: str) -> str:
    """The caption's first sentences, up to the first to reach SUMMARY_CHARS in all (a
    sentence ends at '. ', '! ' or '? '; the card cuts what does not fit)."""
    out = ""
    for sentence in re.split(r"(?<=[.!?])\s+", caption.strip()):
        out = f"{out} {sentence}".strip()
        if len(out) >= SUMMARY_CHARS:
            break
    return out


def entry(path: Path, builtin: bool) -> Entry | None:
    """The lesson in ``path``; None for a scenario that is no lesson; ScenarioError if the
    file is bad (the message names the file)."""
    sc = io.load(path)
    if sc.lesson is None:
        return None
    if sc.lesson.id != path.stem:
        raise ScenarioError(f"{path}: lesson.id {sc.lesson.id!r} must be the file's name {path.stem!r}")
    lesson = sc.lesson
    return Entry(lesson.id, sc.title or lesson.id, lesson.topic or "Other", lesson.order, summary(sc.caption),
                 lesson.notes, sc.mode, path, builtin)


def scan(folder: Path, builtin: bool) -> tuple[list[Entry], list[Problem]]:
    entries, problems = [], []
    try:
        paths = sorted(Path(folder).glob("*.toml"))
    except OSError as e:
        return [], [Problem(Path(folder), f"{folder}: cannot list the folder: {e.strerror}")]
    for path in paths:
        try:
            e = entry(path, builtin)
        except ScenarioError as err:
            problems.append(Problem(path, str(err)))
            continue
        if e is not None:
            entries.append(e)
    return entries, problems


def load_catalog(folders: list[str] = ()) -> Catalog:
    """The built-in lessons and those of ``folders``, sorted by order (a user's lesson with the
    id of another comes after it and keeps its own file)."""
    entries, problems = scan(lesson_dir(), True)
    for folder in folders:
        if not Path(folder).is_dir():
            problems.append(Problem(Path(folder), f"{folder}: the lesson folder is gone"))
            continue
        found, bad = scan(Path(folder), False)
        entries += found
        problems += bad
    entries.sort(key=lambda e: (e.order, not e.builtin, e.id))
    return Catalog(tuple(entries), tuple(problems))
