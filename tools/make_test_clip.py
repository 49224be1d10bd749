"""Make a WebM clip (VP9 + Opus) the project has never seen, for end-to-end benchmarks of ``stylize video``.

    python tools/make_test_clip.py ../shared/data/video/mdn_flower_cc0.mp4 /tmp/unseen_640x360.webm
        [--size 640x360] [--frames 240] [--fps 24]

The source's frames are resized to ``--size`` and played forward then backward until ``--frames`` frames are
written at ``--fps``; its first audio stream is re-encoded to Opus and repeated to cover the same length.
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2

from framestyle.cli.bench import parse_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=parse_size, default=(640, 360))
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--fps", type=int, default=24)
    args = parser.parse_args()
    width, height = args.size
    pictures, sound = [], []
    with av.open(str(args.source)) as source:  # one pass over the file for both streams
        for frame in source.decode(*source.streams.video[:1], *source.streams.audio[:1]):
            if isinstance(frame, av.VideoFrame):
                pictures.append(cv2.resize(frame.to_ndarray(format="rgb24"), (width, height),
                                           interpolation=cv2.INTER_AREA))
            else:
                sound.append(frame)
    loop = pictures + pictures[::-1]
    with av.open(str(args.out), "w") as out:
        video = out.add_stream("libvpx-vp9", rate=args.fps, options={"crf": "32", "b:v": "0", "deadline": "realtime",
                                                                      "cpu-used": "8"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = out.add_stream("libopus", rate=48000, layout="stereo") if sound else None  # streams before packets
        for index in range(args.frames):
            frame = av.VideoFrame.from_ndarray(loop[index % len(loop)], format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, args.fps)
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if audio is not None:
            resampler = av.AudioResampler(format="s16", layout="stereo", rate=48000)
            seconds = args.frames / args.fps
            played = 0.0
            while played < seconds:
                for frame in sound:
                    for chunk in resampler.resample(frame):
                        chunk.pts = None
                        out.mux(audio.encode(chunk))
                    played += frame.samples / frame.sample_rate
                    if played >= seconds:
                        break
            out.mux(audio.encode())
    print(f"{args.out}: {args.frames} frames of {width}x{height} at {args.fps} frames/s"
          + (", Opus sound" if sound else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
