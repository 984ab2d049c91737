"""What teaching remembers between starts (QSettings, in app.settings' file): the last lesson,
presenter mode's theme and screen, the user's folders of lessons, and the start page."""
from __future__ import annotations

from ..settings import settings

THEMES = ("light", "dark")
DEFAULT_THEME = "light"  # projectors wash out dark themes


def last_lesson() -> str:
    """The file of the lesson last opened ('' if none)."""
    return str(settings().value("teaching/last_lesson", "") or "")


def set_last_lesson(path: str) -> None:
    _set("teaching/last_lesson", str(path))


def presenter_theme() -> str:
    t = str(settings().value("teaching/presenter_theme", DEFAULT_THEME) or DEFAULT_THEME)
    return t if t in THEMES else DEFAULT_THEME


def set_presenter_theme(name: str) -> None:
    if name not in THEMES:
        raise ValueError(f"unknown theme {name!r}; known: {', '.join(THEMES)}")
    _set("teaching/presenter_theme", name)


def presenter_screen() -> str:
    """The name of the screen presenter mode fills ('' : the window's own)."""
    return str(settings().value("teaching/presenter_screen", "") or "")


def set_presenter_screen(name: str) -> None:
    _set("teaching/presenter_screen", name)


def start_page() -> bool:
    """Whether the window opens on the lesson browser (when no file or lesson is given)."""
    return settings().value("teaching/start_page", True, type=bool)


def set_start_page(on: bool) -> None:
    _set("teaching/start_page", bool(on))


def lesson_folders() -> list[str]:
    v = settings().value("teaching/lesson_folders") or []
    return [str(p) for p in ([v] if isinstance(v, str) else v)]


def add_lesson_folder(path: str) -> None:
    folders = [p for p in lesson_folders() if p != str(path)]
    _set("teaching/lesson_folders", [*folders, str(path)])


def _set(key: str, value) -> None:
    s = settings()
    s.setValue(key, value)
    s.sync()
