"""Video runtime: decoding (``reader``), encoding (``writer``), the threaded file pipeline (``pipeline``), live
capture (``camera``) and the camera loop (``live``)."""

from framestyle.media.live import LiveFrame, stylize_live
from framestyle.media.pipeline import run_pipeline
from framestyle.media.reader import Frame, VideoReader
from framestyle.media.writer import open_writer

__all__ = ["Frame", "LiveFrame", "VideoReader", "open_writer", "run_pipeline", "stylize_live"]
