"""Video export: offscreen rendering of a scenario frame by frame into MP4, WebM, GIF or PNGs."""
