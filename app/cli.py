"""The ``optirace`` command line (argparse); later modes add their options here."""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="optirace", description="Optimizer race simulator for teaching deep learning.")
    return p


def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication(sys.argv[:1])
    w = QLabel("OptiRace")
    w.resize(640, 400)
    w.show()
    return app.exec()
