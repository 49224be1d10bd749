"""Frames/s shown, glass-to-glass latency and dropped share of ``stylize live`` in a real Chromium.

The fake camera plays the shipped sample at 640x360 (or --size) and 30 frames/s, each frame stamped with its
number; the server runs with --measure (the stamp's corner is kept unstylized) and the page reads the stamp back from
the camera preview and from the stylized video, so latency is from the camera frame shown on the page to its stylized
frame shown on the page. Prints one line per window and the whole run.

Usage: python tools/bench_live.py [--seconds 60] [--window 10] [--style NAME] [--size 1280x720] [--json]
Needs Debian's chromium and the playwright Python package (see docs/live.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from framestyle.cli.bench import parse_size

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.live_browser import launch, live_server, make_camera_clip, missing_browser, wait_for  # noqa: E402

WARM_UP = 5.0


def summarise(latencies: list[list[float]], shown: list[float], local: list[float], start: float, end: float) -> dict:
    """Frames/s shown, latency p50/p95 and dropped share for display times in [start, end) (milliseconds)."""
    lat = np.array([ms for t, ms, _ in latencies if start <= t < end])
    frames = sum(start <= t < end for t in shown)
    camera = sum(start <= t < end for t in local)
    stamped = len(lat)
    return {"seconds": round((end - start) / 1000, 1), "fps": round(frames / ((end - start) / 1000), 1),
            "p50_ms": round(float(np.percentile(lat, 50)), 1) if stamped else None,
            "p95_ms": round(float(np.percentile(lat, 95)), 1) if stamped else None,
            "dropped": round(1 - stamped / camera, 3) if camera else None}


def save_screenshot(page: object, path: Path, max_bytes: int = 300_000) -> None:
    """The page as a PNG of at most ``max_bytes`` (scaled down until it fits), written atomically."""
    import cv2

    picture = cv2.imdecode(np.frombuffer(page.screenshot(), np.uint8), cv2.IMREAD_COLOR)
    scale = 1.0
    while True:
        small = cv2.resize(picture, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else picture
        ok, data = cv2.imencode(".png", small, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        if ok and len(data) <= max_bytes:
            break
        scale *= 0.85
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data.tobytes())
    partial.replace(path)
    print(f"saved {path} ({small.shape[1]}x{small.shape[0]}, {len(data) // 1000} KB)", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--style", help="default: the default bundled style")
    parser.add_argument("--temporal", type=float, help="default: the server's default")
    parser.add_argument("--threads", type=int, help="CPU threads per network run (default: the server's)")
    parser.add_argument("--size", type=parse_size, default=(640, 360), metavar="WxH",
                        help="the fake camera's size, asked for by the page (default 640x360)")
    parser.add_argument("--max-side", type=int, metavar="N", help="the server's --max-side (default: none)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--screenshot", type=Path, metavar="FILE.png", help="also save a picture of the page")
    args = parser.parse_args()
    if reason := missing_browser():
        print(f"bench_live: {reason}", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    server_args = ["--measure", *(["--style", args.style] if args.style else []),
                   *(["--temporal", str(args.temporal)] if args.temporal is not None else []),
                   *(["--threads", str(args.threads)] if args.threads else []),
                   *(["--max-side", str(args.max_side)] if args.max_side else []),
                   "--camera-size", "{}x{}".format(*args.size)]
    with tempfile.TemporaryDirectory() as folder, live_server(*server_args) as (_, url), \
            sync_playwright() as playwright:
        camera = make_camera_clip(Path(folder) / "camera.y4m", *args.size)
        browser = launch(playwright, camera)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 520})
            page.goto(url)
            wait_for(page, "live.state === 'streaming' && live.remoteStamps > 10")
            time.sleep(WARM_UP)
            if args.screenshot:
                save_screenshot(page, args.screenshot)
            start = page.evaluate("performance.now()")
            for elapsed in range(1, int(args.seconds) + 1):
                time.sleep(1.0)
                print(f"\r{elapsed}/{int(args.seconds)} s  {page.inner_text('#readout')}", end="", file=sys.stderr,
                      flush=True)
            print(file=sys.stderr)
            end = start + 1000 * args.seconds
            data = page.evaluate("({l: live.latencies, f: live.frameTimes, c: live.localTimes, s: live.serverStats, "
                                 "r: live.sendRate})")
        finally:
            browser.close()
    step = 1000 * args.window
    windows = [summarise(data["l"], data["f"], data["c"], t, min(t + step, end)) for t in np.arange(start, end, step)]
    whole = summarise(data["l"], data["f"], data["c"], start, end)
    if args.json:
        print(json.dumps({"windows": windows, "whole": whole, "server": data["s"], "send_rate": data["r"]}))
        return 0
    print("window  frames/s  p50 ms  p95 ms  dropped")
    for number, row in enumerate(windows):
        print(f"{number * args.window:4.0f} s  {row['fps']:8.1f}  {row['p50_ms']:6}  {row['p95_ms']:6}  "
              f"{row['dropped']:7.1%}")
    print(f"whole   {whole['fps']:8.1f}  {whole['p50_ms']:6}  {whole['p95_ms']:6}  {whole['dropped']:7.1%}  "
          f"({whole['seconds']} s at {args.size[0]}x{args.size[1]}, camera 30 frames/s, sent at {data['r']} at the "
          "end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
