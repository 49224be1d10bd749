"""Live filter in the browser: a local page that sends your camera to this machine and shows it stylized.

Open the address it prints (127.0.0.1 by default) in Chrome, Chromium, Firefox or Edge: the page asks for the
camera, streams it over WebRTC to this server and shows the stylized stream beside the original, with a style
picker (style changes fade over --fade seconds), a mixer for styles of one shared network, strength and smoothing
sliders, frames/s and latency, a snapshot button, and (with --vgg-weights) a new style trained in the background
from a picture dropped on the page. Only the newest camera frame is stylized (stale ones are dropped), so latency
stays flat on a slow machine. Several tabs can connect, each with its own settings, up to --max-pages. Needs
the [live] extra (pip install 'framestyle[live]'). Ctrl-C stops.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import ssl
from pathlib import Path

from framestyle.catalog import offered_styles
from framestyle.cli.bench import parse_size
from framestyle.cli.serve import TOKEN_VARIABLE
from framestyle.crossfade import DEFAULT_FADE
from framestyle.engine import DEVICES, EngineOptions
from framestyle.errors import InputError, StyleError
from framestyle.temporal import DEFAULT_TEMPORAL

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7620
DEFAULT_MAX_PAGES = 4
DEFAULT_CAMERA_SIZE = (640, 360)


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ``live`` arguments."""
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}; any "
                        "other address needs --token, and a browser only gives the camera to a page from another "
                        "machine over https: give --certfile and --keyfile)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"(default {DEFAULT_PORT}; 0: any free port)")
    parser.add_argument("--token", default=os.environ.get(TOKEN_VARIABLE, ""), help="a secret the page must carry "
                        f"(default: ${TOKEN_VARIABLE}; 'auto' makes one); required to listen beyond loopback")
    parser.add_argument("--certfile", type=Path, help="serve https with this certificate (PEM)")
    parser.add_argument("--keyfile", type=Path, help="the certificate's private key (PEM)")
    parser.add_argument("--style", action="append", metavar="NAME|FILE.onnx|CARD.json", help="a style to offer; "
                        "repeat for several, the first is the default (default: every bundled and user style); the "
                        "page can mix offered styles of one shared network")
    parser.add_argument("--fade", type=float, default=DEFAULT_FADE, metavar="S", help="seconds a style change on "
                        f"the page fades over (default {DEFAULT_FADE}; 0: a cut); the mixer's slider applies at once")
    parser.add_argument("--strength", type=float, default=1.0, help="starting strength, 0..1 (default 1)")
    parser.add_argument("--temporal", type=float, default=DEFAULT_TEMPORAL, metavar="0..1",
                        help=f"starting temporal smoothing (default {DEFAULT_TEMPORAL})")
    parser.add_argument("--max-side", type=int, metavar="N", help="run the network at most N pixels on the longer "
                        "side and upsample the result (default and 0: full resolution)")
    parser.add_argument("--camera-size", type=parse_size, default=DEFAULT_CAMERA_SIZE, metavar="WxH",
                        help="the camera size the page asks the browser for (default 640x360; the camera may give "
                        "the nearest it has; a page's ?camera=WxH overrides it)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="where the network runs (default auto)")
    parser.add_argument("--threads", type=int, default=0, metavar="N", help="CPU threads per network run "
                        "(default: one per core)")
    parser.add_argument("--max-pages", type=int, default=DEFAULT_MAX_PAGES, metavar="N", help="browser tabs served "
                        f"at once (default {DEFAULT_MAX_PAGES}); one more gets a message on its page")
    parser.add_argument("--vgg-weights", type=Path, metavar="FILE", help="VGG-16 features state dict (as for "
                        "stylize add-style): the page can then train a new style from a picture (needs the [train] "
                        "extra); without it the page does not offer this")
    parser.add_argument("--train-minutes", type=float, default=15.0, metavar="M", help="training time of a new "
                        "style from the page (default 15)")
    parser.add_argument("--train-steps", type=int, default=1500, metavar="N", help="at most this many training "
                        "steps of a new style from the page (default 1500)")
    parser.add_argument("--measure", action="store_true", help="keep the frame-counter stamp of a test clip "
                        "(framestyle.live.stamp) unstylized, so the page measures glass-to-glass latency")


def run(args: argparse.Namespace) -> int:
    """Serve the page until Ctrl-C or SIGTERM."""
    try:
        from framestyle.live.server import LiveConfig, LiveServer
        from framestyle.live.track import Settings
        from framestyle.live.training import TrainingOptions
    except ModuleNotFoundError as error:
        raise StyleError(f"stylize live needs the [live] extra ({error.name} is missing): "
                         "pip install 'framestyle[live]'") from None
    from framestyle.serve.server import check_exposure

    if args.max_pages < 1:
        raise InputError(f"--max-pages must be at least 1, got {args.max_pages}")
    if args.fade < 0:
        raise InputError(f"--fade takes 0 seconds or more, got {args.fade}")
    if args.train_minutes <= 0 or args.train_steps <= 0:
        raise InputError("--train-minutes and --train-steps must be positive")
    if args.vgg_weights is not None and not args.vgg_weights.is_file():
        raise InputError(f"--vgg-weights {args.vgg_weights}: no such file")
    token = secrets.token_urlsafe(16) if args.token == "auto" else args.token
    check_exposure(args.host, token)
    tls = _tls(args.certfile, args.keyfile)
    models = offered_styles(args.style)
    defaults = Settings(models[0].name, args.strength, args.temporal)
    defaults.check()
    config = LiveConfig(styles=models, defaults=defaults, token=token, max_pages=args.max_pages,
                        max_side=args.max_side, measure=args.measure, fade=args.fade, camera_size=args.camera_size,
                        engine_options=EngineOptions(device=args.device, threads=args.threads),
                        training=TrainingOptions(args.vgg_weights, args.train_minutes, args.train_steps))
    server = LiveServer(config, report=lambda line: print(f"stylize live: {line}", flush=True))
    asyncio.run(_serve(server, args.host, args.port, tls, token))
    return 0


def _tls(certfile: Path | None, keyfile: Path | None) -> ssl.SSLContext | None:
    if certfile is None and keyfile is None:
        return None
    if certfile is None or keyfile is None:
        raise InputError("https needs both --certfile and --keyfile")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as error:
        raise InputError(f"cannot load the certificate {certfile} and key {keyfile}: {error}") from None
    return context


async def _serve(server, host: str, port: int, tls: ssl.SSLContext | None, token: str) -> None:
    from aiohttp import web

    runner = web.AppRunner(server.app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=tls)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        raise StyleError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    bound = site._server.sockets[0].getsockname()[1] if site._server and site._server.sockets else port
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host  # every address: name the machine
    shown = f"[{shown}]" if ":" in shown else shown
    address = f"{'https' if tls else 'http'}://{shown}:{bound}/" + (f"?token={token}" if token else "")
    print(f"stylize live: open {address} in a browser (Ctrl-C stops); styles: "
          f"{', '.join(model.name for model in server.config.styles)}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    try:
        await stop.wait()
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)
        await runner.cleanup()
        print(f"stylize live: stopped; {server.served} page{'s' if server.served != 1 else ''} served", flush=True)
