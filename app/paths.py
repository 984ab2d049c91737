"""Where OptiRace finds its shipped resources, from a checkout or an installed wheel."""
from __future__ import annotations

from importlib import resources as _resources
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def resource_dir() -> Path:
    """The folder holding lessons/, themes/ and screenshots/."""
    # A checkout's own resources/ first: an editable install maps optirace_resources to the
    # folder of the checkout it was made from, which need not be the one running.
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "resources").is_dir():
        return _CHECKOUT / "resources"
    return Path(str(_resources.files("optirace_resources")))


def resource(*parts: str) -> Path:
    return resource_dir().joinpath(*parts)
