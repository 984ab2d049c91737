"""One way to run long work off the GUI thread: a task in a Python thread that reports
progress and checks for Cancel, with its result or error delivered on the GUI thread."""
from __future__ import annotations

import sys
import threading
import warnings
from typing import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QProgressDialog, QWidget

# Workers whose owner stopped listening, kept alive until their thread ends.
_ABANDONED: set = set()
# The longest a thread running Python keeps the GIL from one that asks for it.  The GUI thread
# asks at every return from Qt into Python (hundreds of times a repaint); at Python's default,
# 5 ms, a worker in its Python glue stretched a 20 ms repaint past 100 ms.
GIL_SWITCH_S = 0.0005


class Cancelled(Exception):
    """Raised by ``Job.check`` inside a task when Cancel was pressed."""


class Job:
    """What a task sees: ``progress(done, total)`` and ``cancelled`` (or ``check()``)."""

    def __init__(self, report: Callable[[int, int], None]):
        self._report = report
        self._cancel = threading.Event()

    def progress(self, done: int, total: int) -> None:
        self._report(int(done), int(total))

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled


class Worker(QObject):
    """Runs ``task(job)`` in a plain Python thread (not a QThread: Python code in a QThread
    registers a never-ending dummy thread with the threading module).  Exactly one of
    ``finished(result)``, ``failed(message)`` or ``cancelled()`` arrives on the GUI thread,
    after the thread has ended."""

    progress = Signal(int, int)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    _ended = Signal()

    def __init__(self, task: Callable[[Job], object], name: str = "worker", parent: QObject | None = None,
                 errors: tuple[type[BaseException], ...] = (Exception,)):
        super().__init__(parent)
        self.job = Job(self.progress.emit)
        self._task = task
        self._errors = errors
        self._outcome: tuple[str, object] | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ended.connect(self._deliver, Qt.QueuedConnection)

    def start(self) -> "Worker":
        if sys.getswitchinterval() > GIL_SWITCH_S:
            sys.setswitchinterval(GIL_SWITCH_S)
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def cancel(self) -> None:
        """Ask the task to stop at its next check; ``cancelled`` follows once it has."""
        self.job._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def abandon(self) -> None:
        """Stop listening without waiting: for work that cannot be interrupted (a numba
        compile, a subprocess), which then finishes unseen (and fills a cache)."""
        self.job._cancel.set()
        with warnings.catch_warnings():  # PySide warns when a signal had no receiver to drop
            warnings.simplefilter("ignore", RuntimeWarning)
            for sig in (self.finished, self.failed, self.cancelled, self.progress):
                try:
                    sig.disconnect()
                except (RuntimeError, TypeError):
                    pass
        if self._thread.is_alive():
            self.setParent(None)
            _ABANDONED.add(self)
            self._ended.connect(lambda: _ABANDONED.discard(self))

    def _run(self) -> None:
        try:
            result = self._task(self.job)
            self._outcome = ("cancelled", None) if self.job.cancelled else ("finished", result)
        except Cancelled:
            self._outcome = ("cancelled", None)
        except self._errors as e:
            self._outcome = ("failed", str(e) or type(e).__name__)
        except Exception as e:  # never lose the window to an unexpected failure: say what it was
            self._outcome = ("failed", f"internal error: {type(e).__name__}: {e}")
        try:
            self._ended.emit()
        except RuntimeError:  # "Signal source has been deleted": its owner went first, nobody listens
            pass

    def _deliver(self) -> None:
        self._thread.join()
        kind, value = self._outcome
        if kind == "finished":
            self.finished.emit(value)
        elif kind == "failed":
            self.failed.emit(value)
        else:
            self.cancelled.emit()


class OneWorkerAtATime:
    """For a view that computes in one Worker at a time: ``_worker`` is the one whose result is
    wanted (None when idle); cancelled ones end unseen and are joined at shutdown.  The view
    sets both attributes in its ``__init__``."""

    _worker: Worker | None
    _cancelled: list[Worker]
    _pending: bool = False  # asked again while one ran: ``request()`` once it has ended

    @property
    def running(self) -> bool:
        return self._worker is not None

    def _ask(self):
        """The view's session to compute for now, or None: none shown, or one running (then
        asked again once it has ended); marks what was asked (its step and selected racer)."""
        s = self.session
        self._pending = self._worker is not None
        if s is None or self._pending:
            return None
        self._asked = (s.race.t, s.selected)
        return s

    def _start_worker(self, task, name: str, session) -> None:
        """Run ``task`` as the current worker; ``_done(worker, session, result)`` gets its result."""
        self._worker = w = Worker(task, name, self)
        w.finished.connect(lambda res: self._done(w, session, res))
        w.failed.connect(lambda msg: self._ended(w))
        w.cancelled.connect(lambda: self._ended(w))
        w.start()

    def _ended(self, w: Worker) -> bool:
        """Whether ``w`` is the current worker (its result is wanted); clears it."""
        if w is not self._worker:
            return False
        self._worker = None
        if self._pending:
            self.request()
        return True

    def _drop_worker(self) -> Worker | None:
        """Cancel the current worker, no longer waiting for it; returns it (or None)."""
        w, self._worker = self._worker, None
        if w is not None:
            w.cancel()
            w.abandon()
            self._cancelled = [x for x in self._cancelled if x.running] + [w]
        return w

    def cancel(self) -> None:
        self._drop_worker()

    def settle(self) -> None:
        """Wait for the work under way to be drawn (a picture's, never the live window's)."""
        while self._worker is not None:
            self._worker.wait()
            QApplication.processEvents()

    def shutdown(self) -> None:
        self.cancel()
        for w in self._cancelled:
            w.wait()
        self._cancelled = []


def with_progress_dialog(worker: Worker, parent: QWidget, label: str, title: str = "") -> QProgressDialog:
    """A window-modal progress dialog with Cancel for ``worker`` (shown after 300 ms), closed
    when the worker ends; Cancel cancels it."""
    dlg = QProgressDialog(label, "Cancel", 0, 0, parent)
    dlg.setWindowTitle(title or label)
    dlg.setWindowModality(Qt.WindowModal)
    dlg.setMinimumDuration(300)
    dlg.setAutoReset(False)
    dlg.setAutoClose(False)

    def progress(done: int, total: int) -> None:
        dlg.setRange(0, max(total, 1))
        dlg.setValue(min(done, max(total, 1)))

    worker.progress.connect(progress)
    dlg.canceled.connect(worker.cancel)
    for sig in (worker.finished, worker.failed, worker.cancelled):
        sig.connect(dlg.close)
    return dlg
