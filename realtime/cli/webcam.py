"""Stylize a live camera, a stream URL or a video file played in real time.

Only the newest frame is stylized (late frames are dropped, never queued), so latency stays low. With --show a
window shows the result with frames/s and latency; keys: n / p next / previous bundled style, + / - strength,
q quits. Without it the same readout is printed every second. With --virtual-camera the stylized frames go to a
virtual camera that video-call apps can pick. Ctrl-C ends the session (a recording is kept).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from fractions import Fraction
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np

from framestyle.bank import StyleBank
from framestyle.catalog import all_styles
from framestyle.cli.video import add_style_options, make_stylizer
from framestyle.crossfade import DEFAULT_FADE
from framestyle.errors import InputError, OutputError
from framestyle.media.live import LiveFrame, Readout, stylize_live
from framestyle.media.reader import Frame
from framestyle.media.virtualcam import VirtualCamera
from framestyle.media.writer import FrameWriter, open_writer
from framestyle.stylizer import Stylizer

#: The virtual camera's nominal rate when the source does not tell its own.
VIRTUAL_FPS = 30.0
#: pyvirtualcam backend for --virtual-camera (None: the first that works on this platform).
VIRTUAL_BACKEND: str | None = None
_RECORD_TIME_BASE = Fraction(1, 1_000_000)
_WINDOW = "stylize webcam"


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ``webcam`` arguments."""
    parser.add_argument("--camera", default="0", metavar="N|URL|FILE", help="camera index (default 0), stream URL, "
                        "or a video file played at its own rate")
    parser.add_argument("--show", action="store_true", help="show the result in a window (needs a desktop)")
    parser.add_argument("--output", type=Path, metavar="FILE", help="also record the stylized frames to FILE")
    parser.add_argument("--virtual-camera", action="store_true", help="send the stylized frames to a virtual camera "
                        "that video-call apps can pick (v4l2loopback on Linux, OBS on Windows and macOS; needs the "
                        "[live] extra)")
    parser.add_argument("--virtual-device", metavar="NAME", help="the virtual camera device to use (e.g. "
                        "/dev/video10; default: the first one found)")
    add_style_options(parser)
    parser.add_argument("--fade", type=float, default=DEFAULT_FADE, metavar="S", help="seconds a style switch (keys n "
                        f"and p) fades over (default {DEFAULT_FADE}; 0: a cut)")
    parser.add_argument("--max-frames", type=int, metavar="N", help="stop after N stylized frames")
    parser.add_argument("--seconds", type=float, metavar="S", help="stop after S seconds")


def run(args: argparse.Namespace) -> int:
    """The live loop: capture (latest frame wins), stylize, show or print, record."""
    if args.fade < 0:
        raise InputError(f"--fade takes 0 seconds or more, got {args.fade}")
    session = _Session(args, make_stylizer(args))
    if args.show:
        _open_window()
    dropped = 0
    try:
        for live in stylize_live(args.camera, lambda image: session.stylizer(image), max_frames=args.max_frames,
                                 seconds=args.seconds, readout=session.readout):
            dropped = live.dropped
            if not session.handle(live):
                break
    except KeyboardInterrupt:
        pass  # Ctrl-C is the usual way to end a live session: keep what was recorded
    except BaseException:
        if session.recorder:
            session.recorder.abort()
        raise
    finally:
        if session.virtual:
            session.virtual.close()
    if session.recorder:
        session.recorder.close()
    frames, elapsed = session.readout.frames, time.monotonic() - session.readout.start
    print(f"{frames} frames in {elapsed:.1f} s ({frames / elapsed:.1f} frames/s), {dropped} dropped"
          + (f"; recorded to {args.output}" if session.recorder else "")
          + (f"; {session.virtual.sent} sent to {session.virtual.device}" if session.virtual else ""))
    return 0


class _Session:
    """One live run: the stylizer (keys may switch its style), the readout and the recording."""

    def __init__(self, args: argparse.Namespace, stylizer: Stylizer) -> None:
        self.args, self.stylizer = args, stylizer
        self.readout = Readout()
        self.recorder: FrameWriter | None = None
        self.virtual: VirtualCamera | None = None
        self._origin: float | None = None
        self._bank: StyleBank | None = None

    def handle(self, live: LiveFrame) -> bool:
        """Record, send, show or print one stylized frame; False when the user quits."""
        if self.args.output:
            self._record(live.image, live.captured, live.fps)
        if self.args.virtual_camera:
            self._send_virtual(live.image, live.fps)
        if self.args.show:
            return self._show(live.image, self.readout.line(live.dropped))
        if self.readout.due():
            print(self.readout.line(live.dropped), flush=True)
        return True

    def _record(self, frame: np.ndarray, captured: float, fps: float | None) -> None:
        if self.recorder is None:
            self._origin = captured
            rate = Fraction(fps).limit_denominator(1001) if fps else None
            self.recorder = open_writer(self.args.output, width=frame.shape[1], height=frame.shape[0],
                                        time_base=_RECORD_TIME_BASE, frame_rate=rate, source=self.args.camera)
        pts = round((captured - self._origin) / _RECORD_TIME_BASE)
        self.recorder.write(Frame(image=frame, pts=pts, time_base=_RECORD_TIME_BASE))

    def _send_virtual(self, frame: np.ndarray, fps: float | None) -> None:
        if self.virtual is None:
            self.virtual = VirtualCamera(frame.shape[1], frame.shape[0], fps or VIRTUAL_FPS,
                                         device=self.args.virtual_device, backend=VIRTUAL_BACKEND)
            print(f"sending to the virtual camera {self.virtual.device}: pick it as the camera in the video-call "
                  "app", flush=True)
        self.virtual.send(frame)

    def _show(self, frame: np.ndarray, readout: str) -> bool:
        """Show a frame with the readout and handle a key; False when the user quits."""
        picture = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        text = f"{readout}  {self.stylizer.model.name} {self.stylizer.strength:.1f}"
        cv2.putText(picture, text, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.imshow(_WINDOW, picture)
        key = chr(cv2.waitKey(1) & 0xFF)
        if key in "+-":
            self.stylizer.strength = min(1.0, max(0.0, self.stylizer.strength + (0.1 if key == "+" else -0.1)))
        elif key in "np":
            self._switch_style(1 if key == "n" else -1)
        return key != "q"

    def _switch_style(self, step: int) -> None:
        """Fade to the next or previous style (``--fade`` seconds), its network shared by a bank of the bundled and
        user styles (each network loaded once; the styles of a shared network need none)."""
        current = self.stylizer
        if self._bank is None:
            others = [style for style in all_styles() if style.name != current.model.name]
            self._bank = StyleBank([current.model, *others], max_side=current.max_side,
                                   engine_options=current.engine.options)
            self._bank.adopt(current.engine)
        names = list(self._bank.models)
        model = self._bank.style(names[(names.index(current.model.name) + step) % len(names)])
        current.set_style(model, engine=self._bank.engine_for(model), fade=self.args.fade)


def _open_window() -> None:
    """Open the --show window, or say in one line why it cannot be."""
    if re.search(r"^\s*GUI:\s*NONE\s*$", cv2.getBuildInformation(), re.MULTILINE):
        raise OutputError(no_gui_message())
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise OutputError("--show needs a desktop, and none is running here (no DISPLAY); without --show the "
                          "readout is printed")
    try:
        cv2.namedWindow(_WINDOW)
    except cv2.error:
        raise OutputError(no_gui_message()) from None


def no_gui_message() -> str:
    """Why --show cannot work with a headless OpenCV, and the exact commands that swap it for the GUI build."""
    try:
        pin = f"=={metadata.version('opencv-python-headless')}"
    except metadata.PackageNotFoundError:
        pin = ""
    return ("--show needs OpenCV with windows, and the installed opencv-python-headless (what framestyle installs) "
            "has none; the desktop build installs the same cv2 module, so replace one with the other, never both: "
            f"pip uninstall -y opencv-python-headless && pip install 'opencv-python{pin}' (without --show the "
            "readout is printed)")
