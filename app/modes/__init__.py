"""The modes of the window, each a folder; the shell knows them only through this table."""
