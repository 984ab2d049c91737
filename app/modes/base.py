"""What the shell knows of a mode: its centre widget, docks, actions, views to restyle, frames,
images and exports.  A mode builds its own session and hands it to the shell's playback."""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QScrollArea, QWidget


def scrolled(widget: QWidget) -> QScrollArea:
    """A panel in a frameless scroll area: a dock narrower or shorter than it still shows it all."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.NoFrame)
    return area


@dataclass(frozen=True)
class DockSpec:
    key: str
    title: str
    widget: QWidget
    area: Qt.DockWidgetArea
    tab_with: str = ""  # key of a dock this one shares a tab bar with


# A projector window narrower than this (1024 px at presenter mode's 24 pt) keeps a mode's
# centre and its leaderboard; the modes fold their other docks away until there is room.
NARROW_PX = 1200


class Mode(QObject):
    """Base of the modes; ``shell`` is the window (playback, model, theme, actions)."""

    id = ""
    title = ""
    # The menu that holds the playback actions and the mode's own (e.g. "&Race").
    menu_title = "&Run"
    # Docks projector mode folds away, giving the centre the room.
    presentation_hides: tuple[str, ...] = ()
    status_tip = ""

    def __init__(self, shell):
        super().__init__(shell)
        self.shell = shell
        self.model = shell.model

    # -- what the shell lays out ---------------------------------------------------------------
    def centre(self) -> QWidget:
        raise NotImplementedError

    def docks(self) -> list[DockSpec]:
        return []

    def toolbar_actions(self) -> list[QAction]:
        return []

    def view_actions(self) -> list[QAction | tuple[str, list[QAction]]]:
        """Entries of the View menu: actions, or (submenu title, actions)."""
        return []

    def menu_actions(self) -> list[QAction]:
        """The mode's entries in its menu, after the playback actions."""
        return []

    def layout_docks(self, width: int, height: int) -> None:
        """Sensible shares of the window for the mode's docks (first start, new size)."""

    # -- what the shell tells it ---------------------------------------------------------------
    def preview(self) -> None:
        """The surface kernels are ready, the race's are not: show what needs no race."""

    def start(self) -> None:
        """The engine is ready: build the first session."""

    def on_frame(self, frame) -> None:
        """Playback moved: draw ``frame``."""

    def on_playing_changed(self, playing: bool) -> None:
        """Playback started or stopped."""

    def on_view_changed(self, name: str) -> None:
        """A view setting of the scenario changed (theme and projector are the shell's)."""

    def themed(self) -> list:
        """Objects with ``set_theme(theme)``, restyled one per event; the first right away."""
        return []

    def frozen_while_relayout(self) -> list[QWidget]:
        """Widgets that skip the relayouts of a projector switch and paint once at its end."""
        return []

    def for_picture(self):
        """A context in which the mode's views are drawn whole for a picture (a screenshot)."""
        return nullcontext()

    def write_image(self, path: str) -> bool:
        raise NotImplementedError

    def export_video(self) -> None:
        raise NotImplementedError

    def export_data(self) -> None:
        raise NotImplementedError

    def open(self, scenario, path: str) -> None:
        """Show a scenario opened from ``path``."""
        self.model.load(scenario)

    def shutdown(self) -> None:
        """The window is closing: stop timers and work."""
