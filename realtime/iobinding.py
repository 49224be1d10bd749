"""Running a session through ONNX Runtime's IO binding: the input frame lives in a buffer on the provider's device
that is allocated once per frame size and refilled in place, and the output is allocated by ONNX Runtime on that
device and copied back once. On a GPU this saves an allocation and a staging copy per frame; on the CPU the same
code runs (device "cpu"), which is how the tests check it.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

#: The ``device_type`` ONNX Runtime's OrtValue and IOBinding use for each ``--device``.
DEVICE_TYPES = {"tensorrt": "cuda", "cuda": "cuda", "cpu": "cpu"}


class BoundRunner:
    """Runs a session on (1, H, W, 3) uint8 frames (one output; small extra inputs allowed) with IO binding on
    ``device``.

    Safe to call from several threads at once (``stylize serve`` shares one session between its workers): each
    thread has its own binding and input buffer.
    """

    def __init__(self, session: Any, ort: Any, device: str, device_id: int = 0) -> None:
        self._session, self._ort = session, ort
        self._device_type, self._device_id = DEVICE_TYPES[device], device_id
        self._input = session.get_inputs()[0].name
        self._output = session.get_outputs()[0].name
        self._local = threading.local()  # per thread: binding, input buffer on the device, its shape

    def __call__(self, batch: np.ndarray, extra: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """The model's output for ``batch``, a C-contiguous (1, H, W, 3) uint8 array, as a new host array;
        ``extra``: further (small) inputs by name, e.g. a shared network's style vector, bound from the host."""
        local = self._local
        if getattr(local, "shape", None) != batch.shape:
            # An ORT-owned buffer: on the CPU, ortvalue_from_numpy would wrap (and later overwrite) the caller's array.
            local.buffer = self._ort.OrtValue.ortvalue_from_shape_and_type(batch.shape, np.uint8, self._device_type,
                                                                           self._device_id)
            local.binding = self._session.io_binding()
            local.binding.bind_ortvalue_input(self._input, local.buffer)
            local.shape = batch.shape
        local.buffer.update_inplace(batch)
        for name, value in (extra or {}).items():
            local.binding.bind_cpu_input(name, value)
        local.binding.bind_output(self._output, self._device_type, self._device_id)
        self._session.run_with_iobinding(local.binding)
        (result,) = local.binding.copy_outputs_to_cpu()
        return result
