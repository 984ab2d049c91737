"""A lesson on screen: its caption in a banner under the map (switchable in View), and
playback stopping exactly at each pause with that pause's caption."""
from app.export.lessons import load_lesson

from .conftest import make_window


def test_playback_stops_at_the_first_pause_and_shows_its_caption(qtbot):
    sc = load_lesson("saddle_escape")
    first = sc.lesson.pauses[0]
    win = make_window(qtbot, sc)
    banner, c = win.caption, win.controller
    assert banner.isVisible() and sc.title in banner.text() and banner.pause_step is None
    win.model.set_view("steps_per_frame", 7)  # 7, 14, ..., 49, 56: the frames jump over step 50
    assert first.step % 7
    c.play()
    qtbot.waitUntil(lambda: not c.playing, timeout=20_000)
    assert c.k == first.step and win.mode.leaderboard.isVisible()
    assert banner.pause_step == first.step and first.caption[:40] in banner.text()
    c.play()  # resuming shows the lesson's caption again, and plays on past the pause
    assert banner.pause_step is None and sc.title in banner.text()
    qtbot.waitUntil(lambda: c.k > first.step)
    c.pause()
    win.act_caption.trigger()  # View > Lesson caption off
    assert not banner.isVisible()
    win.close()


def test_a_scenario_without_caption_shows_no_banner_and_never_stops(window, qtbot):
    assert not window.caption.isVisible() and window.controller.pause_steps == ()


def test_the_caption_switch_is_remembered(qtbot):
    win = make_window(qtbot, restore=True)
    win.act_caption.trigger()
    assert not win.act_caption.isChecked()
    win.close()
    win = make_window(qtbot, restore=True)
    assert not win.act_caption.isChecked() and not win.caption.wanted
    win.close()


def test_a_long_caption_never_takes_the_map_in_projector_mode(qtbot):
    from app.shell.caption import MAX_SHARE

    sc = load_lesson("classic_six_beale")
    sc.caption = " ".join([sc.caption] * 3)  # longer than any lesson's: captions aim at 200 characters
    sc.view.projector, sc.view.theme = True, "light"
    win = make_window(qtbot, sc)
    win.resize(1280, 720)
    banner, centre = win.caption, win.caption.parentWidget()
    qtbot.waitUntil(lambda: banner.height() <= MAX_SHARE * centre.height() + 1 and centre.height() < 700)
    assert win.mode.surface_view.height() > 2 * banner.height()
    # What does not fit is cut at a word with an ellipsis; the whole caption is the tooltip.
    assert banner.text().endswith(" …") and banner.toolTip() == f"<b>{sc.title}</b> — {sc.caption}"
    assert banner.font().pointSize() >= win.theme.font_pt
    win.close()


def test_a_screenshot_at_a_pause_shows_that_pauses_caption(qtbot, tmp_path):
    from PySide6.QtWidgets import QApplication

    from app.cli import screenshot

    sc = load_lesson("saddle_escape")
    first = sc.lesson.pauses[0]
    for step, paused in ((first.step, True), (first.step + 1, False)):
        win = make_window(qtbot, sc)
        assert screenshot(QApplication.instance(), win, str(tmp_path / f"{step}.png"), step) == 0
        assert (tmp_path / f"{step}.png").stat().st_size > 0 and win.controller.k == step
        if paused:
            assert win.caption.pause_step == step and first.caption[:40] in win.caption.text()
        else:
            assert win.caption.pause_step is None and sc.title in win.caption.text()
