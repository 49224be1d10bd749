"""Serve stylized frames to game engines and other programs, many clients at once.

Clients connect over TCP (127.0.0.1 by default), a Unix socket, or a Unix socket with the frames in shared
memory, and send frames with optional motion vectors and depth; each client has its own style settings (a style,
or a per-frame mix of styles of one shared network; a change fades over --fade seconds) and temporal history.
The protocol is docs/protocol.md; framestyle.serve.client and tools/clients/c are clients.
Per-client frames/s and latency are printed every --stats-interval seconds and on exit (Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import signal
import threading

from framestyle.catalog import offered_styles
from framestyle.crossfade import DEFAULT_FADE
from framestyle.engine import DEVICES, EngineOptions
from framestyle.errors import InputError
from framestyle.kernels.occlusion import DEFAULT_DEPTH_TOLERANCE
from framestyle.serve.config import ServerConfig
from framestyle.serve.pipeline import StyleBank, style_entries, style_pipelines
from framestyle.serve.protocol import Limits
from framestyle.serve.server import Server, check_exposure
from framestyle.temporal import DEFAULT_TEMPORAL

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7610
TOKEN_VARIABLE = "FRAMESTYLE_TOKEN"


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` arguments."""
    defaults = ServerConfig()
    limits = Limits()
    listen = parser.add_argument_group("where to listen")
    listen.add_argument("--host", help=f"TCP address (default {DEFAULT_HOST}; any other address needs --token)")
    listen.add_argument("--port", type=int, help=f"TCP port (default {DEFAULT_PORT}; 0: any free port)")
    listen.add_argument("--unix", metavar="PATH", help="listen on a Unix socket (only there, unless --host or --port "
                        "is also given)")
    listen.add_argument("--token", default=os.environ.get(TOKEN_VARIABLE, ""), help="a secret clients must "
                        f"present (default: ${TOKEN_VARIABLE}); required to listen beyond loopback")
    style = parser.add_argument_group("styles")
    style.add_argument("--style", action="append", metavar="NAME|FILE.onnx", help="a style to offer; repeat for "
                       "several, the first is the default (default: every bundled style)")
    style.add_argument("--temporal", type=float, default=DEFAULT_TEMPORAL, metavar="W", help="temporal smoothing "
                       f"weight for frames that ask for it, 0..1 (default {DEFAULT_TEMPORAL})")
    style.add_argument("--depth-tolerance", type=float, default=DEFAULT_DEPTH_TOLERANCE, metavar="R",
                       help="relative depth change beyond which a reprojected pixel counts as disoccluded "
                       f"(default {DEFAULT_DEPTH_TOLERANCE})")
    style.add_argument("--fade", type=float, default=DEFAULT_FADE, metavar="S", help="seconds a client's change of "
                       f"style or mix fades over (default {DEFAULT_FADE}; 0: a cut)")
    style.add_argument("--max-side", type=int, metavar="N", help="run the network at most N pixels on the longer "
                       "side and upsample the result (default and 0: full resolution)")
    style.add_argument("--device", choices=DEVICES, default="auto", help="where the network runs (default auto)")
    style.add_argument("--threads", type=int, default=0, metavar="N", help="CPU threads per network run "
                       "(default: one per core)")
    caps = parser.add_argument_group("limits")
    caps.add_argument("--workers", type=int, default=defaults.workers, metavar="N",
                      help=f"frames stylized at once across clients (default {defaults.workers})")
    caps.add_argument("--max-clients", type=int, default=defaults.max_clients, metavar="N",
                      help=f"(default {defaults.max_clients})")
    caps.add_argument("--max-in-flight", type=int, default=defaults.max_in_flight, metavar="N",
                      help=f"frames a client may have awaiting replies (default {defaults.max_in_flight})")
    caps.add_argument("--max-width", type=int, default=limits.max_width, metavar="PX",
                      help=f"(default {limits.max_width})")
    caps.add_argument("--max-height", type=int, default=limits.max_height, metavar="PX",
                      help=f"(default {limits.max_height})")
    caps.add_argument("--max-pixels", type=int, default=limits.max_pixels, metavar="N",
                      help=f"width x height (default {limits.max_pixels})")
    caps.add_argument("--idle-timeout", type=float, default=defaults.idle_timeout, metavar="S",
                      help=f"close clients silent this long while owed nothing (default {defaults.idle_timeout:g})")
    caps.add_argument("--message-timeout", type=float, default=defaults.message_timeout, metavar="S",
                      help="close clients that take longer to send a message or to take a reply (default "
                      f"{defaults.message_timeout:g})")
    caps.add_argument("--handshake-timeout", type=float, default=defaults.handshake_timeout, metavar="S",
                      help=f"(default {defaults.handshake_timeout:g})")
    caps.add_argument("--no-shared-memory", action="store_true", help="do not offer shared-memory transport")
    parser.add_argument("--stats-interval", type=float, default=10.0, metavar="S", help="seconds between "
                        "per-client statistics lines (default 10; 0: only on exit)")


def _report(line: str) -> None:
    print(f"stylize serve: {line}", flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the server until interrupted (Ctrl-C or SIGTERM)."""
    if not args.fade >= 0:  # NaN too
        raise InputError(f"--fade takes 0 seconds or more, got {args.fade}")
    config = ServerConfig(
        limits=Limits(args.max_width, args.max_height, args.max_pixels), token=args.token,
        max_clients=args.max_clients, max_in_flight=args.max_in_flight, workers=args.workers,
        idle_timeout=args.idle_timeout, message_timeout=args.message_timeout,
        handshake_timeout=args.handshake_timeout, shared_memory=not args.no_shared_memory)
    tcp = not args.unix or args.host is not None or args.port is not None
    if tcp:
        check_exposure(args.host or DEFAULT_HOST, args.token)
    bank = StyleBank(offered_styles(args.style), max_side=args.max_side,
                     engine_options=EngineOptions(device=args.device, threads=args.threads))
    entries = style_entries(bank)
    server = Server(entries, style_pipelines(bank, args.temporal, args.depth_tolerance, args.fade), config,
                    report=_report, stats_interval=args.stats_interval)
    try:
        if args.unix:
            server.listen_unix(args.unix)
        if tcp:
            server.listen_tcp(args.host or DEFAULT_HOST, DEFAULT_PORT if args.port is None else args.port)
        server.start()
        _report(f"listening on {', '.join(server.addresses)}; styles: {', '.join(e.name for e in entries)}; "
                f"shared memory {'off' if args.no_shared_memory else 'offered to local clients'}")
        _wait_for_stop()
    finally:
        server.close()  # each client's summary line is reported as it ends, those ended by the close included
    clients = server.clients()
    _report(f"stopped; {len(clients)} client{'s' if len(clients) != 1 else ''} served")
    return 0


def _wait_for_stop() -> None:
    stop = threading.Event()
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(1.0):
            pass
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
