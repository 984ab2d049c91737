"""Before the window opens on Linux: the system libraries Qt's X11 (xcb) platform plugin needs,
so that a missing one is named with its Debian/Ubuntu package instead of Qt's bare abort
("no Qt platform plugin could be initialized")."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# Library (as ldd names it) -> the Debian/Ubuntu package that ships it.
PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}
# The whole family Qt's xcb plugin uses, for the README and for a library not in PACKAGES.
ALL_XCB = ("libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 "
           "libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libegl1")


def uses_xcb(env=os.environ, platform: str = sys.platform) -> bool:
    """Whether Qt will try its xcb plugin: on Linux, asked for it, or by default outside Wayland."""
    if not platform.startswith("linux"):
        return False
    asked = env.get("QT_QPA_PLATFORM", "")
    if asked:
        return asked.split(";")[0].split(":")[0] == "xcb"
    return not env.get("WAYLAND_DISPLAY")


def xcb_plugin() -> Path | None:
    try:
        from PySide6.QtCore import QLibraryInfo
    except ImportError:
        return None
    p = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms" / "libqxcb.so"
    return p if p.is_file() else None


def missing_libraries(ldd_output: str) -> list[str]:
    """The libraries ldd reports as "not found"."""
    return [line.split("=>")[0].strip() for line in ldd_output.splitlines() if "not found" in line]


def ldd(path: Path) -> str:
    """ldd's report on ``path`` ('' where there is no ldd or it fails: then nothing is checked)."""
    tool = shutil.which("ldd")
    if tool is None:
        return ""
    try:
        return subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def message(missing: list[str]) -> str:
    """What to tell the user: the missing libraries and the packages to install."""
    packages = sorted({PACKAGES[m] for m in missing if m in PACKAGES})
    unknown = [m for m in missing if m not in PACKAGES]
    lines = ["optirace: the window cannot open: Qt's X11 (xcb) display plugin needs system libraries "
             f"that are missing: {', '.join(missing)}."]
    if packages:
        lines.append(f"On Debian or Ubuntu, install them with:\n\n    sudo apt-get install {' '.join(packages)}\n")
    if unknown:
        lines.append(f"Qt's xcb plugin usually needs these packages as well: {ALL_XCB} "
                     "(on Fedora: xcb-util-cursor xcb-util-wm xcb-util-image xcb-util-keysyms "
                     "xcb-util-renderutil libxkbcommon-x11).")
    lines.append("Exports and checks need no display: optirace export ..., optirace check-lessons.")
    return "\n".join(lines)


def check_display(env=os.environ, platform: str = sys.platform, report=ldd) -> str | None:
    """None when the window can try to open; else the message to print instead."""
    if not uses_xcb(env, platform):
        return None
    plugin = xcb_plugin()
    if plugin is None:
        return None
    missing = missing_libraries(report(plugin))
    return message(missing) if missing else None
