"""framestyle: real-time style transfer for video files, cameras and game engines.

The data path, and the modules that hold each step, top to bottom:

- source: ``media.reader`` (video files), ``media.camera`` (cameras, latest frame wins), ``serve`` (an engine's
  frames over a socket or shared memory), ``live`` (a browser's camera over WebRTC);
- frames: (H, W, 3) uint8 RGB arrays, checked by ``limits``;
- network: ``catalog`` (the styles and their cards) -> ``engine`` (one ONNX Runtime session) -> ``bank`` (sessions
  shared between users, one cap on concurrent runs);
- temporal: ``temporal`` (one filter, by optical flow or an engine's motion vectors and depth), then the look
  options (``kernels.blend``); ``stylizer.Stylizer`` runs network, temporal and look for one stream of frames;
- sink: ``media.writer`` (video files and image sequences, written atomically by ``atomic``), ``media.virtualcam``,
  the engine feed's replies, the live page's track. ``media.pipeline`` joins source, stylizer and sink in threads.

Start with :class:`framestyle.stylizer.Stylizer`, or the ``stylize`` command.
"""

__version__ = "0.1.0"
