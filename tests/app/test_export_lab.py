"""Video export of the network lab: frames rendered step by step from a lab trained in the
exporting thread, so the frames move and the same scenario gives the same video."""
from __future__ import annotations

import av
import numpy as np
import pytest

from app.export.job import ExportJob, settings_for
from app.export.lessons import load_lesson
from app.export.render import VIDEO_MODES, video_mode
from engine.scenario import RacerConfig, Scenario

SIZE = (320, 180)


def lab_scenario() -> Scenario:
    sc = Scenario(mode="lab")
    sc.title, sc.caption = "Two spirals", "Two optimizers, one network"
    sc.lab.hidden = [16, 16]
    sc.lab.dropout = [0.3, 0.0]
    sc.lab.contenders = [RacerConfig("sgd", {"lr": 0.1}), RacerConfig("adam", {"lr": 0.01})]
    return sc


def frames(path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def export(sc, path, **over):
    s = settings_for(sc, path, size=SIZE, fps=10, first=0, last=60, steps_per_frame=10, hold_last=0, **over)
    return ExportJob(sc, s).run()


def test_the_lab_exports():
    assert "lab" in VIDEO_MODES and "surface" in VIDEO_MODES
    assert video_mode("lab") is not video_mode("surface")


def test_a_lab_export_decodes_to_moving_frames_and_the_same_scenario_gives_the_same_video(qapp, tmp_path):
    sc = lab_scenario()
    a = export(sc, tmp_path / "a.mp4")
    fa = frames(a)
    assert len(fa) == 7 and fa[0].shape == (SIZE[1], SIZE[0], 3)  # steps 0, 10, ..., 60
    moved = [np.abs(fa[i].astype(int) - fa[i - 1]).mean() for i in range(1, len(fa))]
    assert min(moved) > 0.1, moved  # every frame shows training move on
    b = export(sc, tmp_path / "b.mp4")
    fb = frames(b)
    assert len(fb) == len(fa) and all(np.array_equal(x, y) for x, y in zip(fa, fb))
    assert a.read_bytes() == b.read_bytes()


def test_the_lab_source_shows_the_frame_of_each_asked_step(qapp):
    vm = video_mode("lab")
    src = vm.make_source(lab_scenario(), selected=1)
    try:
        for step in (0, 7, 30):
            f = src.frame_at(step)
            assert f.step == step and f.output.step == step and f.selected == 1
            assert (f.masks is None) == (step == 0)
        assert not src.session.live  # trained here, never by the worker
    finally:
        src.close()


def test_a_lab_that_cannot_be_built_is_refused_before_any_file(qapp, tmp_path):
    from app.export.encoder import ExportError

    sc = lab_scenario()
    sc.lab.contenders = []
    s = settings_for(sc, tmp_path / "a.mp4", size=SIZE, fps=10, first=0, last=20, steps_per_frame=10, hold_last=0)
    with pytest.raises(ExportError, match="no enabled contender"):
        ExportJob(sc, s).run()
    assert list(tmp_path.iterdir()) == []


def test_a_lab_lesson_exports_with_its_title(qapp, tmp_path):
    sc = load_lesson("dropout_against_overfitting")
    out = export(sc, tmp_path / "lesson.mp4")
    assert len(frames(out)) == 7


def test_file_export_video_in_the_lab_exports_the_lab_following_the_selected_contender(qtbot, monkeypatch):
    from app.export import dialog
    from app.model import ScenarioModel
    from app.shell.window import ShellWindow

    win = ShellWindow(ScenarioModel(lab_scenario()), restore=False, warm_up=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert win.mode.id == "lab"
    win.mode.contenders.select_racer(1)
    calls = []
    monkeypatch.setattr(dialog, "export_video", lambda parent, sc, path="", selected=0: calls.append((sc, selected)))
    win.act_export_video.trigger()
    (sc, selected), = calls
    assert sc.mode == "lab" and selected == 1 and not win.controller.playing
    win.close()


def test_the_lab_canvas_lays_out_new_titles_above_their_plots(qapp):
    from app import theme as themes

    vm = video_mode("lab")
    sc = lab_scenario()
    src = vm.make_source(sc, selected=0)
    canvas = vm.make_canvas(sc, themes.get("dark"), (1280, 720), sc.title, sc.caption)
    try:
        canvas.set_frame(src.frame_at(30))
        for plot in (canvas.flow.heat_plot, canvas.flow.lines, *(p for p, _ in canvas.masks.images.values())):
            title = plot.titleLabel.mapRectToScene(plot.titleLabel.boundingRect())
            box = plot.getViewBox().sceneBoundingRect()
            assert title.height() > 0 and title.bottom() <= box.top() + 1, (plot.titleLabel.text, title, box)
    finally:
        canvas.dispose()
        src.close()
