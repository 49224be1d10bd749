"""Stylized frames to a virtual camera that video-call apps (Zoom, Meet, Teams, OBS) can pick, through
``pyvirtualcam``: v4l2loopback on Linux, OBS Studio's virtual camera on Windows and macOS."""

from __future__ import annotations

import sys

import cv2
import numpy as np

from framestyle.errors import OutputError

#: What to install, per platform, when there is no virtual camera device.
INSTALL_HINTS = {
    "linux": "install v4l2loopback (Debian/Ubuntu: sudo apt install v4l2loopback-dkms, then sudo modprobe "
             "v4l2loopback exclusive_caps=1 card_label=framestyle)",
    "darwin": "install OBS Studio 30 or newer and start its virtual camera once",
    "win32": "install OBS Studio 30 or newer and start its virtual camera once",
}


def install_hint(platform: str = sys.platform) -> str:
    """The one line that says what to install for a virtual camera on ``platform``."""
    return INSTALL_HINTS.get(platform, "this platform has no virtual camera that pyvirtualcam supports")


class VirtualCamera:
    """A virtual camera device of a fixed size and nominal rate; frames of another size are scaled to it.

    Args:
        device: a device name (``/dev/video10`` on Linux), or None for the first one available.
        backend: a pyvirtualcam backend name (``v4l2loopback``, ``obs``, ``unitycapture``), or None for any.
    """

    def __init__(self, width: int, height: int, fps: float, device: str | None = None,
                 backend: str | None = None) -> None:
        try:
            import pyvirtualcam
        except ImportError:
            raise OutputError("--virtual-camera needs pyvirtualcam: pip install 'framestyle[live]'") from None
        try:
            self._camera = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB,
                                               device=device, backend=backend)
        except (RuntimeError, ValueError) as error:
            if device is None:
                raise OutputError(f"no virtual camera device found: {install_hint()}") from None
            detail = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise OutputError(f"cannot open the virtual camera {device} ({detail}); {install_hint()}") from None
        self.width, self.height = width, height
        self.device: str = self._camera.device
        self.sent = 0

    def send(self, frame: np.ndarray) -> None:
        """Hand one (H, W, 3) uint8 RGB frame to the device (scaled to the device's size if it differs)."""
        if frame.shape[:2] != (self.height, self.width):
            frame = cv2.resize(frame, (self.width, self.height), interpolation=cv2.INTER_AREA)
        self._camera.send(np.ascontiguousarray(frame))
        self.sent += 1

    def close(self) -> None:
        """Release the device (apps that show it see it stop)."""
        self._camera.close()
