"""Presenter mode: the lesson full screen on the chosen screen, driven by the keyboard or a presentation clicker."""
