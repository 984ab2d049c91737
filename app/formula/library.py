"""The user's formula library: named formulas kept in ``formulas.toml`` in the user's config
folder (OPTIRACE_CONFIG_DIR overrides the folder), rewritten atomically on every change."""
from __future__ import annotations

import os
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from engine.formula.symbolic import DEFAULT_DOMAIN

Point = tuple[float, float]


@dataclass(frozen=True)
class FormulaEntry:
    """What the formula editor needs to rebuild a formula surface (plain data)."""

    name: str
    formula: str
    params: dict[str, float] = field(default_factory=dict)
    domain: tuple[Point, Point] = DEFAULT_DOMAIN
    start: Point | None = None
    minima: tuple[Point, ...] | None = None

    def to_dict(self) -> dict:
        d = {"name": self.name, "formula": self.formula, "params": dict(self.params),
             "domain": [list(self.domain[0]), list(self.domain[1])]}
        if self.start is not None:
            d["start"] = list(self.start)
        if self.minima is not None:
            d["minima"] = [list(m) for m in self.minima]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FormulaEntry":
        """Raises ValueError (or TypeError) naming what is wrong with ``d``."""
        name, formula = d.get("name"), d.get("formula")
        if not isinstance(name, str) or not name.strip() or not isinstance(formula, str):
            raise ValueError("an entry needs a text name and formula")
        params = {str(k): float(v) for k, v in dict(d.get("params", {})).items()}
        (x0, x1), (y0, y1) = d.get("domain", DEFAULT_DOMAIN)
        start = d.get("start")
        minima = d.get("minima")
        return cls(name, formula, params, ((float(x0), float(x1)), (float(y0), float(y1))),
                   None if start is None else (float(start[0]), float(start[1])),
                   None if minima is None else tuple((float(a), float(b)) for a, b in minima))

    @classmethod
    def from_surface(cls, surface) -> "FormulaEntry":
        """From a compiled :class:`engine.formula.FormulaSurface`."""
        return cls.from_dict(surface.to_dict())


def config_dir() -> Path:
    """The user's config folder for OptiRace (OPTIRACE_CONFIG_DIR overrides it)."""
    env = os.environ.get("OPTIRACE_CONFIG_DIR")
    if env:
        return Path(env)
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "optirace"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "optirace"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "optirace"


class FormulaLibrary:
    """Entries by name, in the order they were first saved.  A file that cannot be read is
    moved aside (``formulas.toml.bad``) rather than overwritten; ``problem`` says so."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path is not None else config_dir() / "formulas.toml"
        self.problem = ""
        self._entries: dict[str, FormulaEntry] = {}
        self._load()

    def entries(self) -> list[FormulaEntry]:
        return list(self._entries.values())

    def names(self) -> list[str]:
        return list(self._entries)

    def get(self, name: str) -> FormulaEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"no formula named {name!r} in the library") from None

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def add(self, entry: FormulaEntry) -> None:
        """Save ``entry``, replacing one of the same name."""
        self._entries[entry.name] = entry
        self._save()

    def remove(self, name: str) -> None:
        self.get(name)
        del self._entries[name]
        self._save()

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            data = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            bad = self.path.with_name(self.path.name + ".bad")
            try:
                os.replace(self.path, bad)
                self.problem = f"could not read {self.path} ({e}); it was moved to {bad.name}"
            except OSError:
                self.problem = f"could not read {self.path} ({e})"
            return
        skipped = 0
        for d in data.get("formula", []):
            try:
                e = FormulaEntry.from_dict(d)
            except (TypeError, ValueError, AttributeError):
                skipped += 1
                continue
            self._entries[e.name] = e
        if skipped:
            self.problem = f"{skipped} unreadable entr{'y' if skipped == 1 else 'ies'} in {self.path} skipped"

    def _save(self) -> None:
        text = tomli_w.dumps({"formula": [e.to_dict() for e in self._entries.values()]})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
