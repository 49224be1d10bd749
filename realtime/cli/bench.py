"""Measure frames/s and p50/p95 latency per frame size: the network alone, and the whole per-frame pipeline.

The pipeline is what every source runs per frame: the network plus temporal smoothing (and the strength, colour
and max-side options given). Frames are a synthetic scene panning 2 pixels a frame, so the smoothing has real
motion to follow. The smoothing's added cost is reported as a share of the network's frame time. A last column gives
the network's frames/s with one frame per core in flight on single-threaded sessions, as ``stylize video`` runs it
(throughput, not latency).

``--video [CLIP ...]`` adds the whole job: ``stylize video`` with default settings (decode, network, smoothing,
encode) on each CLIP, or on a generated 12-second clip of each size, in frames/s end to end, beside its ceiling:
decoding the same clip and encoding it with the same codec settings with nothing between (codec threads on), in
the same run, and the ratio of the two. ``--video-only`` skips the network and pipeline rows.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from ..engine import DEVICES, EngineOptions
from ..errors import InputError
from ..stylizer import Stylizer
from ..temporal import DEFAULT_TEMPORAL


@dataclass(frozen=True)
class Timing:
    """Frames/s and latency percentiles (milliseconds) of one stage at one size."""

    fps: float
    p50_ms: float
    p95_ms: float


def parse_size(text: str) -> tuple[int, int]:
    """'640x360' -> (640, 360)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 640x360, got {text!r}") from None
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise argparse.ArgumentTypeError(f"size {text} is outside 16..8192 pixels a side")
    return width, height


def panning_frames(width: int, height: int, count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` RGB frames of a smooth random scene with edges, panning 2 pixels a frame to the right."""
    rng = np.random.default_rng(seed)
    scene_w = width + 2 * count
    scene = rng.integers(0, 256, size=(height // 8 + 1, scene_w // 8 + 1, 3), dtype=np.uint8)
    scene = cv2.resize(scene, (scene_w, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(12):
        x, y, r = int(rng.integers(0, scene_w)), int(rng.integers(0, height)), int(rng.integers(8, height // 3 + 9))
        cv2.circle(scene, (x, y), r, tuple(int(c) for c in rng.integers(0, 256, 3)), -1)
    return [np.ascontiguousarray(scene[:, 2 * (count - i) : 2 * (count - i) + width]) for i in range(count)]


def time_frames(steps: Sequence[Callable[[np.ndarray], object]], frames: list[np.ndarray],
                warmup: int = 3) -> list[Timing]:
    """Run each of ``steps`` on each frame, the steps taking turns frame by frame so that a change in the machine's
    speed during the run affects them alike, and summarise each step's per-frame times (after ``warmup`` frames)."""
    times: list[list[float]] = [[] for _ in steps]
    for index, frame in enumerate(frames):
        for step, spent in zip(steps, times, strict=True):
            start = time.perf_counter()
            step(frame)
            if index >= warmup:
                spent.append(time.perf_counter() - start)
    timings = []
    for spent in times:
        ms = np.array(spent) * 1e3
        timings.append(Timing(len(spent) / sum(spent), float(np.percentile(ms, 50)), float(np.percentile(ms, 95))))
    return timings


def stream_fps(stylizer: Stylizer, frames: list[np.ndarray], warmup: int = 3) -> float:
    """Frames/s of ``stylizer.stream`` over ``frames`` (the first ``warmup`` frames untimed)."""
    for _ in stylizer.stream(frames[:warmup]):
        pass
    start = time.perf_counter()
    for _ in stylizer.stream(frames[warmup:]):
        pass
    return (len(frames) - warmup) / (time.perf_counter() - start)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--style", help="a style, a mix or a model file (default: the default style)")
    parser.add_argument("--compare", nargs="+", default=[], metavar="STYLE", help="also time these styles' (or "
                        "mixes') networks, taking turns with --style's frame by frame, and print their frames/s "
                        "ratio to it")
    parser.add_argument("--size", type=parse_size, nargs="+", default=[(640, 360), (1280, 720)], metavar="WxH")
    parser.add_argument("--frames", type=int, default=40, help="timed frames per size and stage")
    parser.add_argument("--temporal", type=float, default=DEFAULT_TEMPORAL, help="smoothing weight in the pipeline")
    parser.add_argument("--max-side", type=int, help="run the network at this longer side (guided upsampling)")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for inference (0: one per core)")
    parser.add_argument("--video", nargs="*", metavar="CLIP", help="also time `stylize video` end to end on each "
                        "CLIP (default: a generated 12-second clip of each --size) against decoding + encoding alone")
    parser.add_argument("--video-only", action="store_true", help="with --video: only the end-to-end rows")
    parser.add_argument("--json", action="store_true")


#: Length of the generated clip of ``--video``.
CLIP_SECONDS, CLIP_FPS = 12, 24


def write_panning_clip(path: Path, width: int, height: int, frames: int, fps: int = CLIP_FPS) -> None:
    """An H.264 clip of :func:`panning_frames` (high quality, so decoding costs what a real clip's does)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "18", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for image in panning_frames(width, height, frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


def count_frames(path: Path) -> int:
    """Video frames of a clip, counted from its packets (no decoding)."""
    import av

    with av.open(str(path)) as container:
        return sum(1 for packet in container.demux(video=0) if packet.size)


def codec_fps(clip: Path, output: Path, threads: int = 0) -> float:
    """Frames/s of decoding ``clip`` and encoding its frames unchanged to ``output`` with ``stylize video``'s codec
    settings and sound (``threads``: decoder and encoder threads, 0 for the codecs' own choice): the ceiling."""
    from ..media.pipeline import run_pipeline
    from ..media.reader import VideoReader
    from ..media.writer import open_writer

    with VideoReader(clip, decoder_threads=threads) as reader:
        writer = open_writer(output, width=reader.width, height=reader.height, time_base=reader.time_base,
                             frame_rate=reader.frame_rate, audio_streams=reader.audio_streams, source=clip,
                             encoder_threads=threads)
        with writer:
            stats = run_pipeline(reader, lambda images: images, writer, progress=False)
    return stats.fps


def video_fps(clip: Path | None, size: tuple[int, int], style: str | None, device: str) -> dict[str, object]:
    """Frames/s end to end of ``stylize video`` with default settings on ``clip`` (or a generated clip of
    ``size``), its ceiling (:func:`codec_fps`, measured just before) and their ratio."""
    from . import main

    label = str(clip) if clip is not None else f"generated {size[0]}x{size[1]}, {CLIP_SECONDS} s"
    with tempfile.TemporaryDirectory(prefix="framestyle-bench-") as work:
        if clip is None:
            clip = Path(work) / "panning.mp4"
            write_panning_clip(clip, *size, CLIP_SECONDS * CLIP_FPS)
        frames = count_frames(clip)
        ceiling = codec_fps(clip, Path(work) / "codec.mp4")
        arguments = ["video", str(clip), str(Path(work) / "out.mp4"), "--quiet", "--device", device]
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            status = main(arguments + (["--style", style] if style else []))
        seconds = time.perf_counter() - start
    if status:
        raise InputError(f"stylize video failed on {clip}")
    fps = frames / seconds
    return {"clip": label, "frames": frames, "seconds": seconds, "fps": fps, "ceiling_fps": ceiling,
            "ratio": fps / ceiling}


def run(args: argparse.Namespace) -> int:
    if args.frames < 5:
        raise InputError("--frames must be at least 5")
    if args.video_only and args.video is None:
        raise InputError("--video-only needs --video")
    clips = [Path(clip) for clip in args.video or []]
    for clip in clips:
        if not clip.is_file():
            raise InputError(f"{clip}: no such file")
    options = EngineOptions(device=args.device, threads=args.threads)
    plain = Stylizer(args.style, temporal=0.0, max_side=args.max_side, engine_options=options)
    smooth = Stylizer(plain.model, temporal=args.temporal, max_side=args.max_side, engine_options=options)
    cores = os.cpu_count() or 1
    in_flight = Stylizer(plain.model, temporal=0.0, max_side=args.max_side, in_flight=cores,
                         engine_options=EngineOptions(device=args.device, threads=1))
    compared = [Stylizer(style, temporal=0.0, max_side=args.max_side, engine_options=options) for style in args.compare]
    rows = []
    for width, height in [] if args.video_only else args.size:
        frames = panning_frames(width, height, args.frames + 3)
        smooth.reset()
        network, pipeline, *others = time_frames([plain.engine, smooth, *(s.engine for s in compared)], frames)
        added = (pipeline.p50_ms - network.p50_ms) / network.p50_ms
        rows.append({"size": f"{width}x{height}", "network": asdict(network), "pipeline": asdict(pipeline),
                     "smoothing_added_share": added, "network_in_flight_fps": stream_fps(in_flight, frames),
                     "compared": [{"style": s.model.name, "fps": t.fps, "ratio": t.fps / network.fps}
                                  for s, t in zip(compared, others, strict=True)]})
    report = {"style": plain.model.name, "device": plain.engine.device, "provider": plain.engine.provider,
              "temporal": args.temporal, "max_side": args.max_side, "frames_in_flight": cores, "rows": rows}
    if args.video is not None:
        jobs = [(clip, args.size[0]) for clip in clips] or [(None, size) for size in args.size]
        report["video"] = [video_fps(clip, size, args.style, args.device) for clip, size in jobs]
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"style {report['style']} on {report['provider']}; pipeline = network + temporal {args.temporal}"
          + (f" + max-side {args.max_side}" if args.max_side else ""))
    print(f"{'size':>10} | {'network fps':>11} {'p50 ms':>7} {'p95 ms':>7} | {'pipeline fps':>12} {'p50 ms':>7} "
          f"{'p95 ms':>7} | {'smoothing adds':>14} | {f'{cores} in flight fps':>16}")
    for r in rows:
        n, p = r["network"], r["pipeline"]
        print(f"{r['size']:>10} | {n['fps']:11.1f} {n['p50_ms']:7.1f} {n['p95_ms']:7.1f} | {p['fps']:12.1f} "
              f"{p['p50_ms']:7.1f} {p['p95_ms']:7.1f} | {r['smoothing_added_share']:13.0%} | "
              f"{r['network_in_flight_fps']:16.1f}")
        for c in r["compared"]:
            print(f"{'':>10} | {c['style']}: network {c['fps']:.1f} frames/s, {c['ratio']:.2f}x {report['style']}'s")
    if "video" in report:
        print("stylize video end to end (default settings) against decoding + encoding alone (the ceiling):")
        for v in report["video"]:
            print(f"  {v['clip']}: {v['frames']} frames, end to end {v['fps']:.1f} frames/s, ceiling "
                  f"{v['ceiling_fps']:.1f} frames/s, ratio {v['ratio']:.2f}")
    return 0
