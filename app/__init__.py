"""OptiRace desktop application (PySide6 + pyqtgraph); numerics live in ``engine``."""
