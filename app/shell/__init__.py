"""The window every mode shares: menus, playback, themes, files, export and long work."""
