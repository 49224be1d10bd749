"""Stylize a video file, keeping its sound, timestamps, size and length.

The output's extension picks the format: .mp4, .mov and .mkv get H.264, .webm gets VP9 with Opus sound, and a name
with a number pattern such as frames/%05d.png gets one picture per frame (its folder is made if missing).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import signal
import sys
from pathlib import Path

from framestyle.engine import DEVICES
from framestyle.errors import InputError, OutputError
from framestyle.media.pipeline import run_pipeline
from framestyle.media.reader import VideoReader
from framestyle.media.writer import open_writer
from framestyle.stylizer import StyleOptions, Stylizer
from framestyle.temporal import DEFAULT_TEMPORAL

#: ``--ray`` without an address: a local Ray instance.
_LOCAL = "local"
#: Frames rendered before each chunk to settle the temporal smoothing (measured: docs/cluster.md).
DEFAULT_WARMUP = 8


def add_style_options(parser: argparse.ArgumentParser, *, temporal: bool = True) -> None:
    """The options that choose and tune the style, shared by ``video``, ``image`` and ``webcam``; ``temporal``
    adds ``--temporal`` (sequences of frames only)."""
    if temporal:
        parser.add_argument("--temporal", type=float, default=DEFAULT_TEMPORAL, metavar="0..1",
                            help=f"flow-guided smoothing against flicker (0: frame by frame; "
                            f"default {DEFAULT_TEMPORAL})")
    parser.add_argument("--style", metavar="NAME|MIX|FILE", help="a style's name, a mix of styles of the shared "
                        "network (starry_night=0.7,the_scream=0.3), or a model file or style card (default: the "
                        "default style)")
    parser.add_argument("--strength", type=float, default=1.0, help="0..1, how much of the style to blend in "
                        "(default 1)")
    parser.add_argument("--preserve-color", action="store_true", help="keep the original colours, take only the "
                        "style's light and texture")
    parser.add_argument("--max-side", type=int, metavar="N", help="run the network at most N pixels on the longer "
                        "side and upsample the result (faster on large frames; default and 0: full resolution)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="where the network runs (default auto)")
    parser.add_argument("--threads", type=int, default=0, metavar="N", help="CPU threads for the network (default: "
                        "one per core; video files: a single-threaded network per core, each on its own frame)")


def style_options(args: argparse.Namespace) -> StyleOptions:
    """The options of :func:`add_style_options` (no smoothing without ``--temporal``)."""
    return StyleOptions(args.style, strength=args.strength, preserve_color=args.preserve_color,
                        max_side=args.max_side, temporal=getattr(args, "temporal", 0.0), device=args.device,
                        threads=args.threads)


def make_stylizer(args: argparse.Namespace, throughput: bool = False) -> Stylizer:
    """A :class:`Stylizer` from the options of :func:`add_style_options`.

    With ``throughput`` (files, where latency does not matter) and no ``--threads``, the network runs single-threaded
    on one frame per core at once: on two cores that gave 77-85 frames/s at 640x360 against 54-57 for one frame on
    both cores, whose threads wait on each other between the small operators of these networks."""
    options = style_options(args)
    if throughput and not args.threads:
        return dataclasses.replace(options, threads=1).stylizer(in_flight=os.cpu_count() or 1)
    return options.stylizer()


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ``video`` arguments."""
    parser.add_argument("input", metavar="IN", type=Path, help="the video file to stylize")
    parser.add_argument("output", metavar="OUT", type=Path, help="the file to write (.mp4, .mov, .mkv, .webm), or a "
                        "picture pattern like frames/%%05d.png (its folder is made if missing)")
    add_style_options(parser)
    parser.add_argument("--crf", type=int, metavar="N", help="quality for H.264/H.265 (0..51, default 18) and VP9 "
                        "(0..63, default 32): lower is better and bigger")
    parser.add_argument("--codec", metavar="NAME", help="video encoder instead of the format's default (e.g. "
                        "libx265, libvpx-vp9, ffv1)")
    parser.add_argument("--preset", metavar="NAME", help="H.264/H.265 speed preset, from ultrafast to veryslow "
                        "(default veryfast for H.264, fast for H.265): faster presets cost less CPU for bigger files")
    parser.add_argument("--keep-partial", action="store_true", help="when the input breaks off midway, keep the "
                        "frames before the break instead of failing")
    parser.add_argument("--quiet", action="store_true", help="no progress line and no notes")
    cluster = parser.add_argument_group("on a Ray cluster (the [cluster] extra; see docs/cluster.md)")
    cluster.add_argument("--ray", nargs="?", const=_LOCAL, metavar="ADDRESS", help="cut the video into chunks at "
                         "keyframes and render them as Ray tasks: on the cluster whose head is ADDRESS (HOST:PORT), "
                         "or on a local Ray instance without ADDRESS; IN and OUT's folder must be on a file system "
                         "every node shares")
    cluster.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, metavar="N", help="frames rendered before "
                         f"each chunk to settle the temporal smoothing (default {DEFAULT_WARMUP})")
    cluster.add_argument("--chunk-seconds", type=float, metavar="S", help="chunks end at the first keyframe at "
                         "least S seconds in (default: three chunks per CPU of the cluster, 10 to 120 s each)")


def run(args: argparse.Namespace) -> int:
    """Stylize IN into OUT; print the end-to-end frames per second."""
    if args.ray is not None:
        return run_on_ray(args)
    made = _make_sequence_folder(args.output)
    try:
        return _run_here(args)
    except BaseException:
        for folder in made:  # deepest first; a folder that holds anything stays
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _make_sequence_folder(output: Path) -> list[Path]:
    """Create the missing folders of a picture sequence's pattern (``frames/%05d.png``); returns them, deepest
    first, to be removed again if the run fails."""
    if not re.search(r"%0?\d*d", output.name):
        return []
    missing = [folder for folder in [output.parent, *output.parent.parents] if not folder.exists()]
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{output.parent}: cannot make this folder ({error.strerror})") from error
    return missing


def _run_here(args: argparse.Namespace) -> int:
    """``stylize video`` on this machine."""
    stylizer = make_stylizer(args, throughput=True)
    # With the network on the CPU, one decoder and one encoder thread keep up and leave the cores to inference
    # (their defaults, a thread or more per core each, fought with it: 44 against 52 frames/s end to end at 640x360).
    codec_threads = 1 if stylizer.engine.device == "cpu" else 0
    with VideoReader(args.input, keep_partial=args.keep_partial, decoder_threads=codec_threads) as reader:
        writer = open_writer(args.output, width=reader.width, height=reader.height, time_base=reader.time_base,
                             frame_rate=reader.frame_rate, audio_streams=reader.audio_streams, source=args.input,
                             crf=args.crf, codec=args.codec, preset=args.preset, encoder_threads=codec_threads)
        with writer:  # the pipeline finishes the output; this removes it if anything fails before
            if not args.quiet:
                for note in writer.notes:
                    print(f"stylize video: note: {note}", file=sys.stderr)
            stats = run_pipeline(reader, stylizer.stream, writer, progress=False if args.quiet else None)
    if stats.truncated:
        print(f"stylize video: warning: {args.input} breaks off after {stats.frames} frames; {args.output} holds "
              "those", file=sys.stderr)
    print(f"{args.output}: {stats.frames} frames in {stats.seconds:.1f} s, {stats.fps:.1f} frames/s end to end")
    return 0


def run_on_ray(args: argparse.Namespace) -> int:
    """``stylize video --ray``: the same output, rendered chunk by chunk on a Ray cluster."""
    from framestyle.cluster.driver import JobOptions, render_video
    from framestyle.cluster.task import RenderSettings

    if args.keep_partial:
        raise InputError("--keep-partial applies to single-machine runs, not to --ray")
    if args.threads:
        raise InputError("--threads applies to single-machine runs: with --ray each task runs the network on one "
                         "thread")
    settings = RenderSettings(**dataclasses.asdict(style_options(args)), crf=args.crf, codec=args.codec,
                              preset=args.preset)
    options = JobOptions(None if args.ray == _LOCAL else args.ray, warmup=args.warmup if args.temporal else 0,
                         chunk_seconds=args.chunk_seconds)
    # A batch system stops a job with SIGTERM: handled as Ctrl-C, so the finished chunks are kept for a rerun.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        report = render_video(args.input, args.output, settings, options,
                              progress=not args.quiet and sys.stderr.isatty())
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not args.quiet:
        print("\n".join(report.lines))
    print(f"{args.output}: {report.frames} frames in {report.seconds:.1f} s, {report.fps:.1f} frames/s end to end "
          f"({report.chunks} chunks on {report.nodes} node(s), {report.resumed} resumed; scan "
          f"{report.scan_seconds:.1f} s, Ray start {report.connect_seconds:.1f} s, join {report.join_seconds:.1f} s)")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
