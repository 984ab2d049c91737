"""Presenter mode driven by the keys a presentation clicker sends: beats through a lesson's
pauses and on to the next lesson, play and reset, the black screen, jumps by number, the
browser in presenter style, what is hidden and restored, and what persists across a restart."""
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from app.export.lessons import load_lesson
from app.presenter import prefs

from .conftest import make_window


def press(qtbot, win, key, text=""):
    qtbot.keyClick(win.focusWidget() or win, key)


def wait_lesson(qtbot, win, id):
    qtbot.waitUntil(lambda: win.model.scenario.lesson is not None and win.model.scenario.lesson.id == id
                    and win.controller.session is not None, timeout=30_000)


def wait_restyled(qtbot, win):
    qtbot.waitUntil(lambda: not win.restyling, timeout=10_000)


@pytest.fixture
def presenting(qtbot):
    win = make_window(qtbot, load_lesson("cliff_clipping"))
    win.resize(1024, 768)  # the smallest projector it is made for (the offscreen screen is smaller)
    win.presenter.enter(full_screen=False)
    wait_restyled(qtbot, win)
    yield win
    win.close()


def test_presenter_mode_hides_the_desk_and_enlarges_for_the_hall(presenting, qtbot):
    win = presenting
    assert win.presenter.active
    assert not win.menuBar().isVisible() and not win.playback_bar.isVisible() and not win.view_bar.isVisible()
    assert not any(win.docks[k].isVisible() for k in win.mode.presentation_hides)
    t = win.theme
    assert t.name == prefs.DEFAULT_THEME == "light"
    assert min(t.font_pt, t.axis_pt, t.label_pt, t.title_pt) >= 24 and t.trail_width >= 4 and t.curve_width >= 4
    assert win.caption.isVisible() and win.caption.font().pointSize() >= 24
    assert win.model.scenario.title in win.caption.text()
    # The banner spans the window under the panels, its words whole at 1024x768.
    qtbot.waitUntil(lambda: win.caption.width() >= win.width() - 20)
    pause = win.model.scenario.lesson.pauses[0]
    win.controller.run_to(pause.step)
    win.caption.show_pause(pause.step)
    assert not win.caption.text().endswith("…") and win.caption.height() <= 0.3 * win.height() + 1
    press(qtbot, win, Qt.Key_Escape)
    wait_restyled(qtbot, win)
    assert not win.presenter.active and win.menuBar().isVisible()
    assert win.theme.font_pt < 24 and not win.model.scenario.view.projector
    assert all(win.docks[k].isVisible() for k in win.mode.presentation_hides)
    assert win.caption.parentWidget() is win.centralWidget() and not win.presenter.caption_bar.isVisible()


def test_page_down_walks_every_pause_then_opens_the_next_lesson(presenting, qtbot):
    win, c = presenting, presenting.controller
    sc = win.model.scenario
    beats = [p.step for p in sc.lesson.pauses] + [sc.export.last]
    captions = {p.step: p.caption for p in sc.lesson.pauses}
    for beat in beats:
        press(qtbot, win, Qt.Key_PageDown)
        assert c.playing
        qtbot.waitUntil(lambda: not c.playing, timeout=30_000)
        # the last beat: the lesson's last step, or where every racer stopped before it
        assert c.k == beat or (beat == beats[-1] and c.all_done() and c.k == c.session.end_step() < beat)
        if beat in captions:  # the pause's caption, with the lesson's title
            assert captions[beat][:30] in win.caption.text() and sc.title in win.caption.text()
    first = win.lessons.current_index()
    press(qtbot, win, Qt.Key_PageDown)  # after the end: the next lesson, at its start
    nxt = win.lessons.catalog.entries[first + 1]
    wait_lesson(qtbot, win, nxt.id)
    assert c.k == 0 and win.presenter.active and win.model.scenario.view.projector
    assert win.theme.font_pt >= 24 and not win.menuBar().isVisible()
    assert not any(win.docks[k].isVisible() for k in win.mode.presentation_hides)


def test_page_up_goes_back_a_pause_then_a_lesson(presenting, qtbot):
    win, c = presenting, presenting.controller
    pause = win.model.scenario.lesson.pauses[0].step
    c.run_to(pause + 20)
    press(qtbot, win, Qt.Key_PageUp)
    assert c.k == pause and win.caption.pause_step == pause
    press(qtbot, win, Qt.Key_Left)
    assert c.k == 0
    first = win.lessons.current_index()
    press(qtbot, win, Qt.Key_PageDown)
    qtbot.waitUntil(lambda: not c.playing, timeout=30_000)
    press(qtbot, win, Qt.Key_Right)  # right and left are the arrows too
    qtbot.waitUntil(lambda: not c.playing, timeout=30_000)
    win.presenter.go_to(first + 1)
    wait_lesson(qtbot, win, win.lessons.catalog.entries[first + 1].id)
    press(qtbot, win, Qt.Key_PageUp)  # at step 0: the previous lesson
    wait_lesson(qtbot, win, win.lessons.catalog.entries[first].id)


def test_space_plays_and_pauses_and_r_resets(presenting, qtbot):
    win, c = presenting, presenting.controller
    press(qtbot, win, Qt.Key_Space)
    assert c.playing
    qtbot.waitUntil(lambda: c.k > 3, timeout=10_000)
    press(qtbot, win, Qt.Key_Space)
    assert not c.playing
    press(qtbot, win, Qt.Key_R)
    assert c.k == 0 and not c.playing


@pytest.mark.parametrize("key", [Qt.Key_B, Qt.Key_Period])
def test_b_or_period_blacks_the_screen_and_returns(presenting, qtbot, key):
    win, c = presenting, presenting.controller
    press(qtbot, win, key)
    assert win.presenter.blanked and win.presenter.blank.isVisible()
    image = win.grab().toImage()
    for x, y in ((5, 5), (image.width() // 2, image.height() // 2), (image.width() - 5, image.height() - 5)):
        assert image.pixelColor(x, y).name() == "#000000"
    press(qtbot, win, Qt.Key_PageDown)  # ignored while black: nothing moves unseen
    assert not c.playing and c.k == 0
    press(qtbot, win, key)
    assert not win.presenter.blanked and not win.presenter.blank.isVisible()
    assert win.grab().toImage().pixelColor(5, 5).name() != "#000000"


def test_digits_then_enter_jump_to_that_lesson_and_home_to_the_topic_s_first(presenting, qtbot):
    win = presenting
    entries = win.lessons.catalog.entries
    n = len(entries)
    for d in str(n):
        press(qtbot, win, getattr(Qt, f"Key_{d}"))
    assert win.presenter.prompt.isVisible() and entries[n - 1].title in win.presenter.prompt.text()
    press(qtbot, win, Qt.Key_Return)
    wait_lesson(qtbot, win, entries[n - 1].id)
    assert not win.presenter.prompt.isVisible()
    topic = entries[n - 1].topic
    first = next(e for e in entries if e.topic == topic)
    press(qtbot, win, Qt.Key_Home)
    wait_lesson(qtbot, win, first.id)


def test_g_opens_the_browser_in_presenter_style_and_enter_opens_a_lesson(presenting, qtbot):
    win = presenting
    press(qtbot, win, Qt.Key_G)
    page = win.lessons.browser
    assert page.isVisible() and page.presenting and not page.notes.isVisible()
    assert page.geometry() == win.rect()  # the whole screen: no menu bar above it
    qtbot.keyClick(page.cards_list, Qt.Key_Right)
    want = page.catalog.entries[page.cards_list.currentItem().data(Qt.UserRole)]
    qtbot.keyClick(page.cards_list, Qt.Key_Return)
    wait_lesson(qtbot, win, want.id)
    assert not page.isVisible() and win.presenter.active
    wait_restyled(qtbot, win)  # presented as the others: projector look, presenter theme, no panels
    assert win.model.scenario.view.projector and win.theme.font_pt >= 24 and win.theme.name == "light"
    assert not any(win.docks[k].isVisible() for k in win.mode.presentation_hides)
    press(qtbot, win, Qt.Key_G)
    qtbot.keyClick(page.cards_list, Qt.Key_Escape)  # Escape closes the browser first
    assert not page.isVisible() and win.presenter.active


def test_settings_persist_across_a_restart(qtbot):
    win = make_window(qtbot, restore=True)
    win.presenter.theme_actions["dark"].trigger()
    win.presenter.enter()
    wait_restyled(qtbot, win)
    entries = win.lessons.catalog.entries
    assert win.model.scenario.lesson.id == entries[0].id and win.theme.name == "dark"  # no last lesson yet: the first
    win.presenter.go_to(2)
    wait_lesson(qtbot, win, entries[2].id)
    screen = win.presenter.screen()
    prefs.set_presenter_screen(screen.name())
    win.close()
    again = make_window(qtbot, restore=True)  # reads the same settings file
    assert again.presenter.theme_actions["dark"].isChecked() and prefs.presenter_theme() == "dark"
    assert again.presenter.screen() is screen
    again.presenter.enter()
    wait_lesson(qtbot, again, entries[2].id)  # F5 opens the lesson last opened
    wait_restyled(qtbot, again)
    assert again.theme.name == "dark" and again.theme.font_pt >= 24
    again.close()


def test_the_notes_window_goes_to_the_other_screen(presenting, qtbot):
    from app.presenter.screens import NotesWindow

    p = presenting.presenter
    shown = p.screen()
    other = object()
    assert p.notes_screen([shown]) is None and p.notes_screen([shown, other]) is other
    p.notes = notes = NotesWindow()  # as enter() makes it when there are two screens
    qtbot.addWidget(notes)
    p._show_notes()
    entry = presenting.lessons.catalog.entries[presenting.lessons.current_index()]
    assert entry.title in notes.head.text()
    assert entry.notes.split("\n")[0][:40] in notes.text.toPlainText()
    assert presenting.model.scenario.lesson.pauses[0].caption[:30] in notes.text.toPlainText()  # what comes next


def test_presenter_keys_are_the_window_s_own_keys_outside_presenter_mode(qtbot):
    win = make_window(qtbot, load_lesson("cliff_clipping"))
    qtbot.keyClick(win, Qt.Key_Right)  # a step, as ever
    assert win.controller.k == 1 and not win.presenter.active
    qtbot.keyClick(win, Qt.Key_F5)
    assert win.presenter.active and win.isFullScreen()
    win.close()
    assert not win.presenter.active  # closing leaves it, so the saved scenario is the desk's


def test_cli_screenshot_shows_presenter_mode(tmp_path, qtbot):
    from app.cli import main

    out = tmp_path / "p.png"
    assert main(["--lesson", "cliff_clipping", "--presenter", "--screenshot", str(out), "--after-steps", "12"]) == 0
    image = QImage(str(out))
    from PySide6.QtGui import QGuiApplication

    g = QGuiApplication.primaryScreen().geometry()
    assert (image.width(), image.height()) == (g.width(), g.height())  # the whole screen
    assert image.pixelColor(image.width() // 2, image.height() - 5).lightness() > 200  # the light theme's banner



def test_f5_on_the_lesson_browser_presents_the_card_selected_there(qtbot):
    win = make_window(qtbot)
    page = win.lessons.show_page()
    page.select(2)
    qtbot.keyClick(page.cards_list, Qt.Key_F5)
    assert win.presenter.active and not page.isVisible()
    wait_lesson(qtbot, win, win.lessons.catalog.entries[2].id)
    win.close()


def test_the_banner_holds_all_its_lines_in_the_lab_at_full_hd(qtbot):
    win = make_window(qtbot, load_lesson("dropout_against_overfitting"))
    win.resize(1920, 1080)
    win.presenter.enter(full_screen=False, theme="light")
    wait_restyled(qtbot, win)
    cap = win.caption
    # Presenter mode's larger type came after the banner was sized: it must be sized again.
    qtbot.waitUntil(lambda: cap.isVisible() and cap.width() >= win.width() - 20)
    assert cap.font().pointSize() >= 24 and not cap.text().endswith("…")
    assert cap.height() >= cap.heightForWidth(cap.width()) > 2 * cap.fontMetrics().height()
    win.close()
