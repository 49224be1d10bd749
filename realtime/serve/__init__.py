"""The game-engine feed: a frame server (``stylize serve``), its wire protocol, and a Python client.

docs/protocol.md specifies the protocol; ``tools/clients/c/framestyle_client.h`` is a C client.
"""

from framestyle.serve.client import Client, Result, ServerError
from framestyle.serve.config import ServerConfig
from framestyle.serve.pipeline import (
    FrameJob,
    FrameProcessor,
    ProcessorFactory,
    StyleBank,
    style_entries,
    style_pipelines,
)
from framestyle.serve.protocol import Limits, Mode, Origin, PixelFormat, ProtocolError, StyleEntry
from framestyle.serve.server import Server

__all__ = [
    "Client", "FrameJob", "FrameProcessor", "Limits", "Mode", "Origin", "PixelFormat", "ProcessorFactory",
    "ProtocolError", "Result", "Server", "ServerConfig", "ServerError", "StyleBank", "StyleEntry", "style_entries",
    "style_pipelines",
]
