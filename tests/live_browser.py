"""Drive ``stylize live`` from a real Chromium with a fake camera: shared by the browser tests and
tools/bench_live.py.

The camera is a Y4M clip made from the shipped sample, each frame stamped with its number
(``framestyle.live.stamp``). Chromium is Debian's (``apt-get install chromium``), driven by the Python Playwright
package pointed at that binary (Playwright's own browser download is never used). Chromium gets
``--host-resolver-rules`` that answer every name but 127.0.0.1 with NOTFOUND, so it makes no outside DNS queries.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from framestyle.live.stamp import write_y4m

SAMPLE = Path(__file__).resolve().parents[1] / "tools" / "samples" / "tears_of_steel_8s.webm"
BROWSER_FLAGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--autoplay-policy=no-user-gesture-required",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--metrics-recording-only",
]


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None when Chromium and Playwright are both present."""
    if shutil.which("chromium") is None:
        return "Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright; the [test] extra has it)"
    return None


def camera_frames(width: int = 640, height: int = 360, fps: int = 30, seconds: float | None = None
                  ) -> Iterator[np.ndarray]:
    """The sample clip cropped to width:height, scaled, and resampled to ``fps`` by its timestamps."""
    with av.open(str(SAMPLE)) as container:
        stream = container.streams.video[0]
        decoded = [(float(frame.pts * stream.time_base), frame.to_ndarray(format="rgb24"))
                   for frame in container.decode(stream)]
    length = seconds if seconds is not None else decoded[-1][0] + float(Fraction(1, 24))
    source = 0
    for index in range(round(length * fps)):
        when = index / fps
        while source + 1 < len(decoded) and decoded[source + 1][0] <= when:
            source += 1
        image = decoded[source][1]
        h, w = image.shape[:2]
        crop_w = min(w, round(h * width / height))
        crop_h = min(h, round(crop_w * height / width))
        x, y = (w - crop_w) // 2, (h - crop_h) // 2
        yield cv2.resize(image[y:y + crop_h, x:x + crop_w], (width, height), interpolation=cv2.INTER_AREA)


def make_camera_clip(path: Path, width: int = 640, height: int = 360, fps: int = 30) -> Path:
    """The stamped Y4M fake camera (made once per path)."""
    if not path.exists():
        write_y4m(camera_frames(width, height, fps), path, fps)
    return path


@contextmanager
def live_server(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen, str]]:
    """Run ``stylize live --port 0 ARGS`` and yield the process and the address it printed."""
    command = [sys.executable, "-m", "framestyle", "live", "--port", "0", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, **(env or {})})
    lines: list[str] = []
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if match := re.search(r"open (\S+) in a browser", line):
                url = match.group(1)
        if url is None:
            raise RuntimeError("stylize live did not start:\n" + "".join(lines))
        yield process, url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def launch(playwright: Any, camera: Path | None, extra: list[str] | None = None, allow_camera: bool = True) -> Any:
    """Debian's Chromium with a fake camera playing ``camera`` (a Y4M file; None: Chromium's own pattern);
    without ``allow_camera`` the camera permission is refused, as a user can."""
    flags = [flag for flag in BROWSER_FLAGS if allow_camera or flag != "--use-fake-ui-for-media-stream"]
    flags += extra or []
    if camera is not None:
        flags.append(f"--use-file-for-fake-video-capture={camera}")
    return playwright.chromium.launch(executable_path=shutil.which("chromium"), args=flags, headless=True)


def wait_for(page: Any, expression: str, timeout: float = 60.0) -> Any:
    """Poll a JavaScript expression on the page until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.evaluate(expression)
        if value:
            return value
        time.sleep(0.25)
    raise TimeoutError(f"{expression} stayed false for {timeout:.0f} s; page state: "
                       f"{page.evaluate('JSON.stringify({state: live.state, error: live.error})')}")


def grab(page: Any, selector: str) -> np.ndarray:
    """The frame a <video> shows now, as (H, W, 3) uint8 RGB (drawn into a canvas on the page)."""
    url = page.evaluate("""(selector) => {
        const video = document.querySelector(selector);
        const canvas = document.createElement('canvas');
        canvas.width = video.videoWidth; canvas.height = video.videoHeight;
        canvas.getContext('2d').drawImage(video, 0, 0);
        return canvas.toDataURL('image/png');
    }""", selector)
    png = np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8)
    return cv2.cvtColor(cv2.imdecode(png, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
