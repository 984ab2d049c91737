"""An export job: settings checked before anything renders, then frames rendered one at a time
and encoded in a worker thread; the same object serves the GUI (``step`` from a timer) and the
command line (``run``), with progress, an estimate of time left and cancel."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from engine.scenario import Scenario, ScenarioError, field_spec

from .encoder import ExportError, Format, ThreadedWriter, check_target, format_for, gif_rate, open_writer
from .render import Plan, steps_per_frame_for, video_mode


@dataclass(frozen=True)
class ExportSettings:
    path: Path
    format: Format
    size: tuple[int, int]
    fps: int
    first: int
    last: int
    steps_per_frame: int
    theme: str
    title: str
    caption: str
    hold_last: float  # seconds

    @property
    def plan(self) -> Plan:
        return Plan(self.first, self.last, self.steps_per_frame, round(self.hold_last * self.fps))

    @property
    def n_frames(self) -> int:
        return self.plan.n_frames

    @property
    def duration(self) -> float:
        rate = float(gif_rate(self.fps)) if self.format.id == "gif" else self.fps
        return self.n_frames / rate


def settings_for(scenario: Scenario, path, *, format: str | None = None, size=None, fps=None,
                 first=None, last=None, steps_per_frame=None, duration=None, theme=None,
                 title=None, caption=None, hold_last=None) -> ExportSettings:
    """The scenario's export options with any of them overridden; ``duration`` (seconds)
    chooses the steps per frame.  Raises ExportError on a value that cannot work."""
    e = scenario.export
    fps = _checked("export", "fps", int(fps if fps is not None else e.fps), "frames per second")
    first = int(first if first is not None else e.first)
    last = int(last if last is not None else e.last)
    if steps_per_frame is not None and duration is not None:
        raise ExportError("give either steps per frame or a target duration, not both")
    spf = int(steps_per_frame if steps_per_frame is not None else e.steps_per_frame)
    Plan(first, last, max(spf, 1))  # range check first: the duration needs a valid range
    if duration is not None:
        spf = steps_per_frame_for(first, last, fps, float(duration))
    theme = _checked("view", "theme", theme or scenario.view.theme, "theme")
    hold = _checked("export", "hold_last", float(hold_last if hold_last is not None else e.hold_last),
                    "hold last frame (seconds)")
    w, h = (int(v) for v in (size if size is not None else e.size))
    s = ExportSettings(Path(path).expanduser().absolute(), format_for(path, format), (w, h), fps,
                       first, last, spf, theme, scenario.title if title is None else title,
                       scenario.caption if caption is None else caption, hold)
    s.plan  # validates the step range and steps per frame
    return s


def _checked(section: str, name: str, value, label: str):
    """``value`` checked against the scenario's field table (one definition of each limit)."""
    try:
        field_spec(section, name).check(value, label)
    except ScenarioError as e:
        raise ExportError(str(e)) from None
    return value


@dataclass(frozen=True)
class Progress:
    done: int  # frames rendered and handed to the encoder
    total: int
    elapsed: float  # seconds
    remaining: float | None  # estimated seconds left (None until there is a rate)
    finishing: bool = False  # all frames rendered; the encoder is writing the file

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


class ExportJob:
    """One export.  ``run`` does everything (CLI); a GUI calls ``start``, then ``step`` from
    a timer while ``writer_ready``, then ``finish`` and polls ``done`` before ``result``.
    ``cancel`` at any point leaves no file behind."""

    def __init__(self, scenario: Scenario, settings: ExportSettings, *, overwrite: bool = True,
                 selected: int = 0):
        self.scenario = scenario
        self.settings = settings
        self.video = video_mode(scenario.mode)  # raises ExportError for a mode that does not export
        self.selected = selected  # the contender the lab's views show (among the enabled ones)
        check_target(settings.path, settings.format, settings.size, settings.n_frames, overwrite)
        # The 3-D view where it can be drawn: OpenGL needs a display (an X server, xvfb-run
        # too); without one the export draws the 2-D map of the same race and says so (note).
        self.note = ""
        if scenario.mode == "surface" and scenario.view.mode == "3d":
            from app.views.gl import gl_available

            ok, why = gl_available()
            if not ok:
                self.note = f"{why}: the video shows the 2-D map of the same race (run under an X server for 3-D)"
                self.scenario = replace(scenario, view=replace(scenario.view, mode="2d"))
        self._steps = settings.plan.steps()
        self.total = settings.n_frames
        self.done_frames = 0
        self.canvas = None
        self.source = None
        self.writer: ThreadedWriter | None = None
        self._last_image = None
        self._t0 = None
        self._t1 = None  # when the first frame was done
        self._state = "new"
        self._path: Path | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        from app import theme as themes

        s = self.settings
        self._t0 = time.perf_counter()
        try:
            self.source = self.video.make_source(self.scenario, self.selected)
            theme = themes.get(s.theme, projector=self.scenario.view.projector)  # as the window shows it
            self.canvas = self.video.make_canvas(self.scenario, theme, s.size, s.title, s.caption)
            self.writer = ThreadedWriter(open_writer(s.path, s.format, s.size, s.fps))
        except BaseException:
            self._cleanup()
            raise
        self._state = "running"

    @property
    def writer_ready(self) -> bool:
        return self.writer is not None and self.writer.ready()

    def step(self) -> bool:
        """Render the next frame and queue it for encoding; False once every frame is queued."""
        if self._state != "running":
            return False
        i = self.done_frames
        if i >= self.total:
            return False
        try:
            if i < len(self._steps):
                self.canvas.set_frame(self.source.frame_at(self._steps[i]))
                self._last_image = self.canvas.render_array()
            self.writer.write(self._last_image)  # the hold repeats the last race frame
        except BaseException:
            self.cancel()
            raise
        self.done_frames += 1
        if self.done_frames == 1:
            self._t1 = time.perf_counter()
        return self.done_frames < self.total

    def finish(self) -> None:
        """Every frame is queued: let the encoder finish the file in its thread."""
        if self._state == "running":
            self._state = "finishing"
            self._release_canvas()
            self.writer.finish()

    @property
    def done(self) -> bool:
        return self._state in ("finishing", "cancelled") and (self.writer is None or self.writer.done)

    def result(self) -> Path:
        """Wait for the file and return its path (raises the encoder's error, if any)."""
        if self._state == "finished":
            return self._path
        if self._state != "finishing":
            raise ExportError("the export was cancelled" if self._state == "cancelled" else "the export has not finished")
        try:
            path = self.writer.wait()
        except BaseException:
            self.writer.abort()
            raise
        self._state = "finished"
        self._path = path
        return path

    def cancel(self) -> None:
        if self._state in ("finished", "cancelled"):
            return
        self._state = "cancelled"
        self._cleanup()

    def _release_canvas(self) -> None:
        if self.canvas is not None:
            self.canvas.dispose()
            self.canvas = None
        if self.source is not None:
            self.source.close()
            self.source = None

    def _cleanup(self) -> None:
        self._release_canvas()
        if self.writer is not None:
            self.writer.abort()

    # -- progress ---------------------------------------------------------------------------------
    def progress(self) -> Progress:
        elapsed = time.perf_counter() - self._t0 if self._t0 is not None else 0.0
        remaining = None
        if self.done_frames >= 3 and self._t1 is not None:
            # From the pace since the first frame: start-up (compiling, sampling the surface) is over.
            pace = (time.perf_counter() - self._t1) / (self.done_frames - 1)
            remaining = pace * (self.total - self.done_frames)
        return Progress(self.done_frames, self.total, elapsed, remaining, self._state == "finishing")

    def run(self, progress: Callable[[Progress], None] | None = None,
            cancelled: Callable[[], bool] | None = None, every: float = 0.5) -> Path:
        """The whole export in the calling thread (which must be the Qt GUI thread)."""
        self.start()
        last = 0.0
        try:
            while self.step():
                if cancelled is not None and cancelled():
                    self.cancel()
                    raise ExportError("the export was cancelled")
                now = time.perf_counter()
                if progress is not None and now - last >= every:
                    last = now
                    progress(self.progress())
            self.finish()
            if progress is not None:
                progress(self.progress())
            while not self.done:  # the encoder's last pass (the GIF palette pass can be long)
                if cancelled is not None and cancelled():
                    self.cancel()
                    raise ExportError("the export was cancelled")
                time.sleep(0.02)
            return self.result()
        except BaseException:
            self.cancel()
            raise
