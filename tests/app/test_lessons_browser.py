"""The lesson browser: every lesson listed and opened in one click or Enter, the topic filter,
the teacher's notes beside the cards, lessons from a user's folder (a bad file named, the rest
listed), and thumbnails drawn from the lesson itself and cached."""
import shutil

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage

from app.export.lessons import lesson_dir, lesson_ids
from app.lessons_browser import thumbnails as T
from app.theme import PALETTE
from app.lessons_browser.catalog import load_catalog, summary
from app.presenter import prefs

from .conftest import make_window


@pytest.fixture
def win(qtbot):
    w = make_window(qtbot)
    yield w
    w.close()


def click_card(qtbot, page, row):
    lst = page.cards_list
    rect = lst.visualItemRect(lst.item(row))
    qtbot.mouseClick(lst.viewport(), Qt.LeftButton, pos=rect.center())


def test_the_catalog_lists_every_built_in_lesson_in_lecture_order():
    cat = load_catalog()
    assert sorted(e.id for e in cat.entries) == sorted(lesson_ids()) and not cat.problems
    orders = [e.order for e in cat.entries]
    assert orders == sorted(orders)
    for e in cat.entries:
        assert e.title and e.topic and e.summary and e.builtin and "\n" not in e.summary
    long = "Same start, six optimizers, one surface, and one learning rate tuned for each of them."
    assert summary(f"{long} On the slope, Adam trails. Then more.") == long
    third = "Short. Second one. The third sentence here, which makes it more than long enough."
    assert len(third) >= 80 and summary(f"{third} Fourth.") == third


def test_the_browser_opens_every_lesson_in_one_click_or_enter(win, qtbot):
    n = len(win.lessons.catalog.entries)
    for row in range(n):
        page = win.lessons.show_page()
        assert page.isVisible()
        entry = page.catalog.entries[page.cards_list.item(row).data(Qt.UserRole)]
        if row % 2:
            click_card(qtbot, page, row)
        else:
            page.cards_list.setCurrentRow(row)
            qtbot.keyClick(page.cards_list, Qt.Key_Return)
        qtbot.waitUntil(lambda: win.model.scenario.lesson is not None and win.model.scenario.lesson.id == entry.id,
                        timeout=30_000)
        assert not page.isVisible() and win.mode.id == entry.mode and win.path == str(entry.path)
        assert win.lessons.current_index() == row
        assert prefs.last_lesson() == str(entry.path)


def test_the_topic_filter_shows_one_topic_and_the_notes_follow_the_selection(win, qtbot):
    page = win.lessons.show_page()
    cat = page.catalog
    assert page.topic_box.count() == len(cat.topics()) + 1
    for topic in cat.topics():
        page.set_topic(topic)
        shown = page.visible_entries()
        assert shown and all(e.topic == topic for e in shown)
        assert len(shown) == sum(e.topic == topic for e in cat.entries)
        current = cat.entries[page.cards_list.currentItem().data(Qt.UserRole)]
        assert current.topic == topic
        assert current.notes.split("\n")[0][:40] in page.notes.toPlainText()
    page.set_topic("")
    assert len(page.visible_entries()) == len(cat.entries)
    assert page.notes.isVisible()
    page.set_presenting(True)  # presenter mode's browser is projected: no notes, larger cards
    assert not page.notes.isVisible() and not page.folder_button.isVisible()
    qtbot.keyClick(page.cards_list, Qt.Key_Escape)
    assert not page.isVisible()


def test_a_user_folder_lists_beside_the_built_in_lessons_and_a_bad_file_is_named(win, qtbot, tmp_path):
    folder = tmp_path / "my lessons"
    folder.mkdir()
    text = (lesson_dir() / "saddle_escape.toml").read_text(encoding="utf-8")
    (folder / "my_saddle.toml").write_text(text.replace('id = "saddle_escape"', 'id = "my_saddle"')
                                           .replace("order = 30", "order = 31"), encoding="utf-8")
    (folder / "broken.toml").write_text("schema = 2\n[lesson\nid = 'broken'\n", encoding="utf-8")
    (folder / "bad_value.toml").write_text(text.replace('id = "saddle_escape"', 'id = "bad_value"')
                                           .replace('optimizer = "adam"', 'optimizer = "adamm"'), encoding="utf-8")
    cat = win.lessons.add_folder(str(folder))
    page = win.lessons.browser
    assert page.isVisible()
    mine = cat.find("my_saddle")
    assert mine is not None and not mine.builtin and cat.entries.index(mine) == cat.entries.index(cat.find("saddle_escape")) + 1
    assert {e.id for e in cat.entries} >= set(lesson_ids())  # the built-in ones still list
    bad = {p.path.name: str(p) for p in cat.problems}
    assert set(bad) == {"broken.toml", "bad_value.toml"}
    assert "broken.toml" in bad["broken.toml"] and "adamm" in bad["bad_value.toml"]
    assert page.problems.isVisible() and "broken.toml" in page.problems.text() and "adamm" in page.problems.text()
    assert "broken.toml" in win.statusBar().currentMessage()
    assert prefs.lesson_folders() == [str(folder)]
    row = next(r for r in range(page.cards_list.count())
               if page.catalog.entries[page.cards_list.item(r).data(Qt.UserRole)].id == "my_saddle")
    click_card(qtbot, page, row)
    qtbot.waitUntil(lambda: win.model.scenario.lesson.id == "my_saddle")
    win.close()
    again = make_window(qtbot)  # the folder is remembered
    assert again.lessons.catalog.find("my_saddle") is not None
    again.close()


def test_the_lessons_menu_lists_every_lesson_by_topic(win):
    menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Lessons")
    menu.aboutToShow.emit()
    cat = win.lessons.catalog
    topics = [a.menu() for a in menu.actions() if a.menu() and a.text() in cat.topics()]
    titles = [a.text() for sub in topics for a in sub.actions()]
    assert titles and sorted(titles) == sorted(f"{i + 1}. {e.title}" for i, e in enumerate(cat.entries))
    texts = [a.text() for a in menu.actions()]
    assert "Presenter mode" in texts and "Browse lessons…" in texts


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTIRACE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "thumbnails"


def _colours(image: QImage) -> set[str]:
    image = image.convertToFormat(QImage.Format_RGB32)
    a = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine() // 4, 4)
    return {QColor(int(r), int(g), int(b)).name() for b, g, r, _ in a[:, :image.width()].reshape(-1, 4)[::7]}


def test_thumbnails_are_drawn_from_the_lesson_and_cached(qtbot, cache, tmp_path):
    from engine import scenario as io

    lesson = tmp_path / "saddle_escape.toml"
    shutil.copy(lesson_dir() / "saddle_escape.toml", lesson)
    thumbs = T.Thumbnails("dark")
    assert thumbs.get(lesson) is None  # not drawn yet: the card shows a placeholder
    with qtbot.waitSignal(thumbs.ready, timeout=120_000) as got:
        pass
    assert got.args == [str(lesson)] and thumbs.renders == 1
    path = T.cached_path(lesson, "dark")
    assert path.parent == cache and path.is_file()
    image = QImage(str(path))
    assert (image.width(), image.height()) == T.SIZE
    # The lesson's own racers are in it: their palette colours (the map is grey).
    sc = io.load(lesson)
    palette = {c.lower() for c in PALETTE[:len(sc.racers)]}
    assert len(palette & _colours(image)) >= 2
    qtbot.waitUntil(lambda: thumbs.worker is None)
    pix = thumbs.get(lesson)  # the second request: from the cache, nothing drawn
    assert pix is not None and pix.width() == T.SIZE[0] and thumbs.renders == 1 and thumbs.worker is None
    # Another theme, or a changed file, is another picture.
    assert T.cached_path(lesson, "light") != path
    lesson.write_text(lesson.read_text(encoding="utf-8").replace("Escaping", "Leaving"), encoding="utf-8")
    assert T.cached_path(lesson, "dark") != path
    thumbs.shutdown()


def test_a_lesson_that_cannot_be_drawn_is_reported_and_not_asked_again(qtbot, cache, tmp_path):
    bad = tmp_path / "gone.toml"
    bad.write_text("schema = 2\n[surface\n", encoding="utf-8")  # broken since it was listed
    thumbs = T.Thumbnails("light")
    assert thumbs.get(bad) is None
    with qtbot.waitSignal(thumbs.failed, timeout=120_000) as got:
        pass
    assert got.args[0] == str(bad)
    qtbot.waitUntil(lambda: thumbs.worker is None)
    assert thumbs.get(bad) is None and thumbs.worker is None and thumbs.renders == 1
    thumbs.shutdown()


def test_the_browser_shows_a_placeholder_then_the_thumbnail(win, qtbot, cache):
    page = win.lessons.show_page()
    card = next(iter(page.cards.values()))
    assert not card.has_picture and card.picture.text()  # a placeholder while it is drawn
    qtbot.waitUntil(lambda: card.has_picture, timeout=180_000)
    win.lessons.thumbnails.shutdown()
