"""Persistent settings (QSettings): window geometry and the last scenario.  Setting the
environment variable OPTIRACE_SETTINGS to a file path keeps them in that INI file instead
(tests use a temporary one)."""
from __future__ import annotations

import os

from PySide6.QtCore import QSettings

ORGANIZATION = "OptiRace"
APPLICATION = "OptiRace"
ENV = "OPTIRACE_SETTINGS"


def settings() -> QSettings:
    path = os.environ.get(ENV)
    if path:
        return QSettings(path, QSettings.IniFormat)
    return QSettings(QSettings.IniFormat, QSettings.UserScope, ORGANIZATION, APPLICATION)
