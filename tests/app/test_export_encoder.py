"""The video writers without Qt: each format decodes back with the frames, size and rate asked
for; checks before rendering name the problem; a cancelled or failed export leaves nothing."""
from __future__ import annotations

import os
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from app.export import encoder as E

W, H = 96, 64


def frame(i: int) -> np.ndarray:
    """An opaque BGRA frame: dark blue background with a green square that moves right."""
    a = np.zeros((H, W, 4), np.uint8)
    a[..., 0] = 160  # blue
    a[..., 3] = 255
    a[20:36, 8 + 8 * i: 24 + 8 * i, :3] = (0, 220, 0)
    return a


def decode(path: Path) -> tuple[list[np.ndarray], Fraction]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [f.to_ndarray(format="rgb24") for f in c.decode(s)], s.average_rate


def write(path: Path, fmt: str, n: int = 6, fps: int = 20, threaded: bool = True) -> Path:
    f = E.get_format(fmt)
    E.check_target(path, f, (W, H), n)
    w = E.open_writer(path, f, (W, H), fps)
    w = E.ThreadedWriter(w) if threaded else w
    for i in range(n):
        w.write(frame(i))
    return w.close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("fmt", ["mp4", "webm", "gif"])
def test_each_video_format_decodes_with_the_frames_size_and_rate_asked(tmp_path, fmt):
    path = write(tmp_path / f"clip.{fmt}", fmt, n=6, fps=20)
    frames, rate = decode(path)
    assert len(frames) == 6
    assert frames[0].shape == (H, W, 3)
    assert rate == 20
    assert leftovers(tmp_path) == [path.name]  # no temporary file left beside it
    # The square moved: the first and last frames differ where it was and where it went.
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).max() > 150
    green_at = (28, 16 + 8 * 5)
    assert frames[-1][green_at][1] > 180 and frames[-1][green_at][0] < 60
    assert frames[0][10, 80][2] > 120 and frames[0][10, 80][1] < 40  # background stays blue


def test_mp4_is_h264_yuv420p_with_the_index_at_the_front(tmp_path):
    path = write(tmp_path / "clip.mp4", "mp4")
    with av.open(str(path)) as c:
        cc = c.streams.video[0].codec_context
        assert (cc.name, cc.pix_fmt) == ("h264", "yuv420p")
    head = path.read_bytes()[:4096]
    # faststart moves the index (moov) before the media data (mdat).
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))


def test_webm_is_vp9(tmp_path):
    path = write(tmp_path / "clip.webm", "webm")
    with av.open(str(path)) as c:
        assert c.streams.video[0].codec_context.name == "vp9"


def test_gif_uses_a_palette_and_keeps_colours(tmp_path):
    path = write(tmp_path / "clip.gif", "gif", fps=10, threaded=False)
    frames, rate = decode(path)
    assert rate == 10
    colours = {tuple(c) for f in frames for c in f.reshape(-1, 3)}
    assert len(colours) <= 256
    assert np.allclose(frames[2][28, 32], (0, 220, 0), atol=12)
    assert np.allclose(frames[2][5, 5], (0, 0, 160), atol=12)


def test_gif_rate_is_whole_hundredths_of_a_second(tmp_path):
    assert E.gif_rate(25) == 25 and E.gif_rate(10) == 10
    assert E.gif_rate(30) == Fraction(100, 3)
    frames, rate = decode(write(tmp_path / "clip.gif", "gif", n=5, fps=15))
    assert len(frames) == 5 and rate == E.gif_rate(15) == Fraction(100, 7)


def test_png_sequence_is_a_folder_of_numbered_frames(tmp_path):
    path = write(tmp_path / "frames", "png", n=4)
    names = leftovers(path)
    assert names == [f"frame_{i:05d}.png" for i in range(4)]
    frames, _ = decode(path / names[3])
    assert frames[0].shape == (H, W, 3)
    assert tuple(frames[0][28, 8 + 8 * 3 + 4]) == (0, 220, 0)  # lossless
    assert leftovers(tmp_path) == ["frames"]


@pytest.mark.parametrize("fmt,name", [("mp4", "a.mp4"), ("gif", "a.gif"), ("png", "seq")])
def test_abort_midway_leaves_nothing_and_keeps_an_existing_file(tmp_path, fmt, name):
    target = tmp_path / name
    if fmt != "png":
        target.write_bytes(b"the previous video")
    f = E.get_format(fmt)
    w = E.ThreadedWriter(E.open_writer(target, f, (W, H), 10))
    for i in range(3):
        w.write(frame(i))
    w.abort()
    if fmt == "png":
        assert leftovers(tmp_path) == []
    else:
        assert leftovers(tmp_path) == [name]
        assert target.read_bytes() == b"the previous video"


def test_an_exception_while_writing_removes_the_temporary_file(tmp_path):
    f = E.get_format("mp4")
    with pytest.raises(E.ExportError, match="expected 96x64"):
        with E.open_writer(tmp_path / "a.mp4", f, (W, H), 10) as w:
            w.write(frame(0))
            w.write(np.zeros((10, 10, 4), np.uint8))  # wrong size
    assert leftovers(tmp_path) == []


def test_an_encoder_failure_in_the_worker_reaches_the_caller_and_cleans_up(tmp_path):
    w = E.ThreadedWriter(E.open_writer(tmp_path / "a.mp4", E.get_format("mp4"), (W, H), 10))
    w.write(frame(0))
    w.write(np.zeros((H, W, 3), np.uint8))  # three channels: the worker rejects it
    with pytest.raises(E.ExportError, match="4 channels"):
        for i in range(20):
            w.write(frame(1))
        w.close()
    w.abort()
    assert leftovers(tmp_path) == []


def test_unknown_extension_is_refused_with_the_known_ones():
    with pytest.raises(E.ExportError, match=r"unknown extension '\.avi'.*\.mp4"):
        E.format_for("clip.avi")
    assert E.format_for("CLIP.MP4").id == "mp4"
    assert E.format_for("frames", "png").id == "png"


def test_odd_size_is_refused_for_h264_and_vp9_but_not_gif(tmp_path):
    for fmt in ("mp4", "webm"):
        with pytest.raises(E.ExportError, match=r"even width and height.*try 322x240"):
            E.check_target(tmp_path / f"a.{fmt}", E.get_format(fmt), (321, 240), 10)
    E.check_target(tmp_path / "a.gif", E.get_format("gif"), (321, 241), 10)


def test_missing_folder_and_empty_range_are_refused(tmp_path):
    with pytest.raises(E.ExportError, match="does not exist"):
        E.check_target(tmp_path / "nope" / "a.mp4", E.get_format("mp4"), (320, 240), 10)
    with pytest.raises(E.ExportError, match="no frames"):
        E.check_target(tmp_path / "a.mp4", E.get_format("mp4"), (320, 240), 0)


def _unwritable_folder(tmp_path: Path) -> Path:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    for folder in (ro, Path("/sys")):  # root ignores permission bits; /sys refuses new files
        try:
            (folder / ".probe").write_bytes(b"")
        except OSError:
            return folder
        (folder / ".probe").unlink()
    pytest.skip("no unwritable folder available to this user")


def test_unwritable_folder_is_refused_before_anything_renders(tmp_path):
    folder = _unwritable_folder(tmp_path)
    with pytest.raises(E.ExportError, match="cannot write in the folder"):
        E.check_target(folder / "a.mp4", E.get_format("mp4"), (320, 240), 10)


def test_not_enough_disk_space_is_refused(tmp_path, monkeypatch):
    class Usage:
        free = 1000

    monkeypatch.setattr(E.shutil, "disk_usage", lambda p: Usage)
    with pytest.raises(E.ExportError, match="not enough disk space"):
        E.check_target(tmp_path / "a.mp4", E.get_format("mp4"), (1920, 1080), 300)


def test_png_sequence_needs_a_new_or_empty_folder(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(E.ExportError, match="new or empty folder"):
        E.check_target(tmp_path / "full", E.get_format("png"), (320, 240), 10)


def test_the_finished_file_has_ordinary_permissions(tmp_path):
    path = write(tmp_path / "clip.mp4", "mp4", n=2)
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_a_cancel_that_comes_after_the_file_is_finished_still_leaves_nothing(tmp_path):
    w = E.ThreadedWriter(E.open_writer(tmp_path / "a.mp4", E.get_format("mp4"), (W, H), 10))
    w.write(frame(0))
    w.finish()
    while not w.done:  # the worker renames the file into place
        time.sleep(0.01)
    assert (tmp_path / "a.mp4").is_file()
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_abort_after_the_path_was_handed_out_keeps_the_file(tmp_path):
    w = E.ThreadedWriter(E.open_writer(tmp_path / "a.mp4", E.get_format("mp4"), (W, H), 10))
    w.write(frame(0))
    path = w.close()
    w.abort()
    assert path.is_file()


@pytest.mark.parametrize("fmt,name", [("mp4", "a.mp4"), ("png", "seq")])
def test_parts_a_killed_export_left_are_swept_and_live_ones_kept(tmp_path, fmt, name):
    """A SIGKILLed export cannot clean up: the next export of the same target removes its
    hidden part once it is old, but never the part of an export still running elsewhere."""
    old = time.time() - 2 * E.STALE_PART_S
    dead_file = tmp_path / f".{name}.k1ll3d.part"
    dead_file.write_bytes(b"half a video")
    dead_dir = tmp_path / f".{name}.d1r.part"
    dead_dir.mkdir()
    (dead_dir / "frame_00000.png").write_bytes(b"png")
    for p in (dead_dir / "frame_00000.png", dead_dir, dead_file):
        os.utime(p, (old, old))
    live = tmp_path / f".{name}.l1ve.part"
    live.write_bytes(b"being written")
    other = tmp_path / ".b.mp4.k1ll3d.part"  # another target's: not ours to judge
    other.write_bytes(b"x")
    os.utime(other, (old, old))
    write(tmp_path / name, fmt, n=2)
    assert leftovers(tmp_path) == sorted([other.name, live.name, name])
