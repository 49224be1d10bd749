"""framestyle: real-time style transfer for video files, cameras and game engines.

Data path: source (video file, camera, engine socket) -> frames -> style network (ONNX Runtime) -> temporal
smoothing -> sink. Start with :class:`framestyle.stylizer.Stylizer`, or the ``stylize`` command.
"""

__version__ = "0.1.0"
