"""Where OptiRace finds its shipped resources, from a checkout or an installed wheel."""
from __future__ import annotations

from importlib import resources as _resources
from pathlib import Path


def resource_dir() -> Path:
    """The folder holding lessons/, themes/ and screenshots/."""
    try:
        root = _resources.files("optirace_resources")
        path = Path(str(root))
        if path.is_dir():
            return path
    except ModuleNotFoundError:
        pass
    # Running from a checkout without installing: resources/ sits beside app/.
    return Path(__file__).resolve().parent.parent / "resources"


def resource(*parts: str) -> Path:
    return resource_dir().joinpath(*parts)
