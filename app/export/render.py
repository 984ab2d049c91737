"""Frame-by-frame rendering: which steps become frames (the plan), and the window's controller
driven step by step to produce the Frame each one shows (never the wall clock)."""
from __future__ import annotations

import copy
import importlib
import math
from dataclasses import dataclass

from engine.scenario import Scenario

from .encoder import ExportError


@dataclass(frozen=True)
class Plan:
    """Frames at steps first, first + k, ... up to last (always included), then the last
    frame repeated ``hold_frames`` times."""

    first: int
    last: int
    steps_per_frame: int
    hold_frames: int = 0

    def __post_init__(self):
        if not 0 <= self.first < self.last:
            raise ExportError(f"the step range must satisfy 0 <= first < last, got {self.first}:{self.last}")
        if self.steps_per_frame < 1:
            raise ExportError(f"steps per frame must be >= 1, got {self.steps_per_frame}")
        if self.hold_frames < 0:
            raise ExportError(f"hold frames must be >= 0, got {self.hold_frames}")

    def steps(self) -> list[int]:
        s = list(range(self.first, self.last + 1, self.steps_per_frame))
        if s[-1] != self.last:
            s.append(self.last)
        return s

    @property
    def race_frames(self) -> int:
        return -(-(self.last - self.first) // self.steps_per_frame) + 1

    @property
    def n_frames(self) -> int:
        return self.race_frames + self.hold_frames


def steps_per_frame_for(first: int, last: int, fps: int, duration: float) -> int:
    """Steps per frame so that the race (without the hold) lasts about ``duration`` seconds."""
    if not duration > 0:
        raise ExportError(f"the target duration must be > 0 seconds, got {duration}")
    frames = max(2, round(duration * fps))
    return max(1, math.ceil((last - first) / (frames - 1)))


@dataclass(frozen=True)
class VideoMode:
    """How a mode becomes a video: its frame source, ``source(scenario, selected=0)`` with
    ``frame_at(step)`` (steps in increasing order) and ``close()``, and its canvas,
    ``canvas(scenario, theme, size, title, caption)`` (a canvas.CanvasBase).  Both given as
    "module:attribute", imported only when that mode exports."""

    source: str
    canvas: str

    def make_source(self, scenario: Scenario, selected: int = 0):
        return _attr(self.source)(scenario, selected=selected)

    def make_canvas(self, scenario: Scenario, theme, size, title: str, caption: str):
        return _attr(self.canvas)(scenario, theme, size, title, caption)


def _attr(path: str):
    module, name = path.split(":")
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


# One row per mode that exports video (adding a mode adds a row, not a branch).
VIDEO = {
    "surface": VideoMode("app.export.render:FrameSource", "app.export.canvas:Canvas.for_scenario"),
    "lab": VideoMode("app.modes.network_lab.export:LabFrameSource", "app.modes.network_lab.export:LabCanvas.for_scenario"),
}
VIDEO_MODES = tuple(VIDEO)


def video_mode(mode: str) -> VideoMode:
    try:
        return VIDEO[mode]
    except KeyError:
        raise ExportError(f"video export of the {mode!r} mode is not built yet "
                          f"(it exports: {', '.join(VIDEO_MODES)})") from None


class SessionFrameSource:
    """The frames the window would show at given steps: the window's own playback controller
    over ``session`` (built on ``model``, a copy of the scenario, so the window's run is never
    touched).  Steps must be asked for in increasing order (each frame then carries what
    happened since the last)."""

    def __init__(self, model, session):
        from app.shell.playback import PlaybackController

        self.model, self.session = model, session
        self.controller = PlaybackController()
        self._frame = None
        self.controller.frame_ready.connect(self._take)
        self.controller.set_session(session)

    def _take(self, frame) -> None:
        self._frame = frame

    def frame_at(self, step: int):
        self.controller.run_to(step)
        return self._frame

    def close(self) -> None:
        self.controller.shutdown()
        self.controller.deleteLater()
        self.model.deleteLater()


class FrameSource(SessionFrameSource):
    """The surface race's frames, on a copy of the scenario."""

    def __init__(self, scenario: Scenario, selected: int = 0):
        from app.model import ScenarioModel
        from app.modes.surface_race.session import SurfaceSession

        sc = copy.deepcopy(scenario)
        if not sc.enabled_racers():
            raise ExportError("nothing to export: the scenario has no enabled racer")
        model = ScenarioModel(sc)
        super().__init__(model, SurfaceSession(model))
