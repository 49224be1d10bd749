"""Temporal smoothing of served game frames: the engine's motion vectors and depth against optical flow.

Renders a moving Panda3D scene (the one tools/engine_panda3d.py sends to ``stylize serve``) with per-pixel motion
vectors and depth, stylizes each frame once with the server's network, then smooths the stylized frames the two ways
the server's ``TemporalFilter`` can (by the engine's motion and depth when a client sends them, by optical flow when
it does not) and reports, for each, the warping error of the output and the smoothing's time per frame (median wall
time, and mean CPU time of all threads).

    pip install panda3d
    python tools/bench_motion.py [--frames 120] [--size 640x360] [--style NAME] [--json]

Two warping errors are printed: Lai et al.'s (``stylize flicker``: optical flow of the input frames, DIS MEDIUM,
and its occlusion mask), and the same error with the engine's exact motion and a depth-tested mask instead of
estimated flow, which does not favour either method's motion.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_panda3d import Scene  # noqa: E402

from framestyle.catalog import resolve_style  # noqa: E402
from framestyle.flicker import warping_error  # noqa: E402
from framestyle.kernels.occlusion import depth_confidence  # noqa: E402
from framestyle.kernels.warp import warp  # noqa: E402
from framestyle.stylizer import Stylizer  # noqa: E402
from framestyle.temporal import DEFAULT_TEMPORAL, TemporalFilter  # noqa: E402


def render(scene: Scene, frames: int) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """RGB frames, backward motion and depth, top-down, in the server's conventions (as serve.planes reads them
    from a bottom-up client: rows flipped, the motion's y negated)."""
    rgbs, motions, depths = [], [], []
    for index in range(frames):
        scene.pose(index / 30.0)
        bgra, motion, depth = scene.render()
        if motion is None or depth is None:
            raise SystemExit("bench_motion: the renderer gave no motion vectors (needs Panda3D's headless GL)")
        rgbs.append(np.ascontiguousarray(bgra[::-1, :, 2::-1]))
        top_down = np.ascontiguousarray(motion[::-1])
        top_down[..., 1] *= -1
        motions.append(top_down)
        depths.append(np.ascontiguousarray(depth[::-1]))
    return rgbs, motions, depths


def exact_warping_error(outputs: list[np.ndarray], motions: list[np.ndarray], depths: list[np.ndarray]) -> float:
    """Mean over frame pairs of the masked squared RGB error (floats in [0, 1]) between each output and the previous
    output moved along the engine's motion; the mask keeps pixels seen in both frames (inside the frame, at a
    depth within the reprojection's tolerance)."""
    errors = []
    for t in range(1, len(outputs)):
        mask = depth_confidence(depths[t], depths[t - 1], motions[t]) > 0.5
        if not mask.any():
            continue
        current = outputs[t].astype(np.float32) / 255
        moved = warp(outputs[t - 1].astype(np.float32) / 255, motions[t])
        errors.append(float(((current - moved) ** 2).sum(axis=2)[mask].mean()))
    return float(np.mean(errors))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--size", default="640x360", metavar="WxH")
    parser.add_argument("--style", help="bundled style name or .onnx file (default: the default style)")
    parser.add_argument("--temporal", type=float, default=DEFAULT_TEMPORAL)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    width, height = (int(side) for side in args.size.lower().split("x"))
    rgbs, motions, depths = render(Scene(width, height, "headless"), args.frames)
    network = Stylizer(resolve_style(args.style), temporal=0.0)
    stylized = [network.stylize_only(rgb) for rgb in rgbs]

    flow_filter = TemporalFilter(args.temporal)
    reprojection = TemporalFilter(args.temporal)
    methods = {
        "none (frame by frame)": lambda i: stylized[i],
        "optical flow": lambda i: flow_filter(rgbs[i], stylized[i]),
        "engine motion + depth": lambda i: reprojection(rgbs[i], stylized[i], motions[i], depths[i]),
    }
    rows = []
    for name, smooth in methods.items():
        outputs, seconds, cpu = [], [], []
        for index in range(args.frames):
            start, start_cpu = time.perf_counter(), time.process_time()
            outputs.append(smooth(index))
            seconds.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        rows.append({"method": name, "warping_error": warping_error(rgbs, outputs).output_error,
                     "exact_warping_error": exact_warping_error(outputs, motions, depths),
                     "wall_ms": 1000 * float(np.median(seconds[1:])), "cpu_ms": 1000 * float(np.mean(cpu[1:]))})
    if args.json:
        print(json.dumps({"frames": args.frames, "size": f"{width}x{height}", "rows": rows}))
        return 0
    print(f"{args.frames} rendered frames of {width}x{height}, style {network.model.name}, temporal {args.temporal}")
    print(f"{'smoothing':24s} {'warping error (flow)':>21s} {'(exact motion)':>15s} {'ms/frame (wall)':>16s} "
          f"{'CPU ms/frame':>13s}")
    for row in rows:
        print(f"{row['method']:24s} {row['warping_error']:21.5f} {row['exact_warping_error']:15.5f} "
              f"{row['wall_ms']:16.2f} {row['cpu_ms']:13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
