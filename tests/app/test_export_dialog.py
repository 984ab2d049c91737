"""The export dialog (settings both ways) and the progress dialog (runs without blocking the
event loop, finishes a file, Cancel leaves nothing)."""
from __future__ import annotations

import av
from PySide6.QtCore import QTimer

from app.export.dialog import ExportDialog, ExportProgress
from app.export.job import ExportJob
from engine.scenario import ExportOptions, RacerConfig, Scenario


def scenario() -> Scenario:
    return Scenario(surface="booth", racers=[RacerConfig("adam", {"lr": 0.5}), RacerConfig("sgd", {"lr": 0.01})],
                    title="Booth", caption="two racers",
                    export=ExportOptions(first=0, last=60, steps_per_frame=10, fps=12, size=(1920, 1080), hold_last=0.5))


def test_dialog_starts_from_the_scenarios_export_options(qtbot, tmp_path):
    d = ExportDialog(scenario(), tmp_path / "clip.mp4")
    qtbot.addWidget(d)
    assert d.size.currentText().startswith("1920 × 1080") and not d.width.isEnabled()
    assert (d.fps.value(), d.first.value(), d.last.value(), d.spf.value()) == (12, 0, 60, 10)
    assert (d.title.text(), d.caption.text(), d.theme.currentText()) == ("Booth", "two racers", "dark")
    s = d.settings()
    assert s.n_frames == 7 + 6 and s.format.id == "mp4"
    assert "13 frames" in d.summary.text()


def test_dialog_edits_reach_the_settings(qtbot, tmp_path):
    d = ExportDialog(scenario(), tmp_path / "clip.mp4")
    qtbot.addWidget(d)
    d.format.setCurrentIndex(d.format.findData("gif"))
    assert d.path.text().endswith("clip.gif")
    d.size.setCurrentIndex(d.size.count() - 1)  # custom
    assert d.width.isEnabled()
    d.width.setValue(500)
    d.height.setValue(300)
    d.by_duration.setChecked(True)
    d.duration.setValue(2.0)
    d.theme.setCurrentText("light")
    d.title.setText("New title")
    s = d.settings()
    assert (s.format.id, s.size, s.theme, s.title) == ("gif", (500, 300), "light", "New title")
    assert s.steps_per_frame == 3  # 60 steps over about 24 frames
    opts = d.export_options()
    assert opts.size == (500, 300) and opts.steps_per_frame == 3


def test_dialog_says_what_a_3d_export_lacks_offscreen(qtbot, tmp_path):
    sc = scenario()
    sc.view.mode = "3d"
    d = ExportDialog(sc, tmp_path / "clip.mp4")
    qtbot.addWidget(d)
    text = d.summary.text()
    assert "needs OpenGL" in text and "'offscreen' display platform" in text and "2-D map" in text
    assert d.export_button.isEnabled()


def test_dialog_refuses_an_odd_size_for_h264(qtbot, tmp_path):
    d = ExportDialog(scenario(), tmp_path / "clip.mp4")
    qtbot.addWidget(d)
    d.size.setCurrentIndex(d.size.count() - 1)
    d.width.setValue(641)
    assert not d.export_button.isEnabled() and "even width" in d.summary.text()
    d.format.setCurrentIndex(d.format.findData("gif"))
    assert d.export_button.isEnabled()


def small_job(tmp_path, name="clip.mp4", last=60) -> ExportJob:
    d = ExportDialog(scenario(), tmp_path / name)
    d.size.setCurrentIndex(d.size.count() - 1)
    d.width.setValue(320)
    d.height.setValue(180)
    d.last.setValue(last)
    job = ExportJob(d.scenario, d.settings())
    d.deleteLater()
    return job


def test_progress_dialog_exports_while_the_event_loop_keeps_running(qtbot, tmp_path):
    job = small_job(tmp_path)
    progress = ExportProgress(job)
    qtbot.addWidget(progress)
    beats = []
    heart = QTimer()
    heart.setInterval(1)
    heart.timeout.connect(lambda: beats.append(job.done_frames))
    heart.start()
    progress.start()
    qtbot.waitUntil(lambda: progress.path is not None, timeout=60000)
    heart.stop()
    # Other events were handled between frames, not just before and after the export.
    assert len({b for b in beats if 0 < b < job.total}) >= 3
    assert progress.bar.value() == job.total == 13
    with av.open(str(progress.path)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 13
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_progress_cancel_leaves_nothing(qtbot, tmp_path):
    job = small_job(tmp_path, "clip.gif", last=2000)
    progress = ExportProgress(job)
    qtbot.addWidget(progress)
    progress.start()
    qtbot.waitUntil(lambda: job.done_frames >= 4, timeout=60000)
    assert "Frame" in progress.count.text() and "left" in progress.count.text()
    progress.cancel_button.click()
    assert not progress.timer.isActive() and progress.path is None
    assert list(tmp_path.iterdir()) == []


def test_export_data_writes_the_csv_and_reports_errors_without_raising(qtbot, tmp_path, monkeypatch):
    from app.export import dialog as D

    path = D.export_data(None, scenario(), last=20, path=tmp_path / "race.csv")
    assert path is not None and len(path.read_text().splitlines()) == 1 + 2 * 21
    shown = []
    monkeypatch.setattr(D.QMessageBox, "warning", lambda *a: shown.append(a[-1]))
    assert D.export_data(None, scenario(), last=20, path=tmp_path / "race.xlsx") is None
    assert shown and ".csv" in shown[0]
