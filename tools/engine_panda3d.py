"""A real engine feeding ``stylize serve``: Panda3D renders a moving 3D scene headless, reads back the colour
(BGRA, bottom-up, as engines read back OpenGL buffers) and a float render target where a GLSL shader writes
per-pixel motion vectors and linear depth, sends them to the server, and saves the stylized frames.

    pip install panda3d
    stylize serve --unix /tmp/framestyle.sock --style STYLE &
    python tools/engine_panda3d.py --connect unix:/tmp/framestyle.sock --frames 300 --out /tmp/stylized

With ``--display tiny`` Panda3D's software renderer (p3tinydisplay: faster here, no shaders) renders colour only;
the frames then go without motion vectors and depth, and the server falls back to optical flow.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from framestyle.serve.client import Client, Result
from framestyle.serve.protocol import Dropped, ErrorMessage, Mode, Origin, PixelFormat

VERTEX = """
#version 330
uniform mat4 p3d_ModelViewProjectionMatrix;
uniform mat3 p3d_NormalMatrix;
uniform mat4 cur_mvp;   // this frame's model-view-projection, as Panda3D computes it for this node
uniform mat4 prev_mvp;  // the previous frame's
in vec4 p3d_Vertex;
in vec3 p3d_Normal;
in vec4 p3d_Color;
in vec2 p3d_MultiTexCoord0;
out vec4 v_cur;
out vec4 v_prev;
out vec3 v_normal;
out vec4 v_color;
out vec2 v_uv;
void main() {
    gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
    v_cur = cur_mvp * p3d_Vertex;
    v_prev = prev_mvp * p3d_Vertex;
    v_normal = p3d_NormalMatrix * p3d_Normal;
    v_color = p3d_Color;
    v_uv = p3d_MultiTexCoord0;
}
"""

FRAGMENT = """
#version 330
uniform sampler2D p3d_Texture0;
uniform vec4 p3d_ColorScale;
uniform vec2 screen_size;
in vec4 v_cur;
in vec4 v_prev;
in vec3 v_normal;
in vec4 v_color;
in vec2 v_uv;
layout(location = 0) out vec4 o_color;
layout(location = 1) out vec4 o_aux;
void main() {
    vec4 texel = texture(p3d_Texture0, v_uv);
    if (texel.a * v_color.a < 0.5) discard;  // cut-out foliage: no colour, motion or depth where transparent
    float light = 0.5 + 0.5 * max(dot(normalize(v_normal), normalize(vec3(0.3, 0.4, 0.85))), 0.0);
    o_color = vec4(texel.rgb * v_color.rgb * p3d_ColorScale.rgb * light, 1.0);
    // Backward motion in window pixels (x right, y up: the row order of a bottom-up read-back), and the
    // linear view depth (clip w): the protocol's conventions with a motion scale of 1.
    vec2 motion = (v_prev.xy / v_prev.w - v_cur.xy / v_cur.w) * 0.5 * screen_size;
    o_aux = vec4(motion, v_cur.w, 1.0);
}
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connect", required=True, metavar="ADDRESS", help="the server: HOST:PORT or unix:PATH")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", default="640x360", metavar="WxH")
    parser.add_argument("--out", type=Path, help="folder for the stylized frames (PNG)")
    parser.add_argument("--save-every", type=int, default=1, metavar="N", help="save one stylized frame in N")
    parser.add_argument("--save-input", action="store_true", help="also save the rendered frames")
    parser.add_argument("--style", help="a style the server offers (default: the server's default)")
    parser.add_argument("--mode", choices=("ordered", "latest"), default="ordered")
    parser.add_argument("--in-flight", type=int, default=2)
    parser.add_argument("--shm", action="store_true", help="send frames through shared memory")
    parser.add_argument("--token", default="")
    parser.add_argument("--display", choices=("headless", "tiny"), default="headless",
                        help="headless: EGL OpenGL with shaders (motion vectors, depth); tiny: software, colour only")
    return parser.parse_args(argv)


class Scene:
    """A terrain, teapots and boxes in motion, and an orbiting camera, rendered into an offscreen buffer."""

    def __init__(self, width: int, height: int, display: str) -> None:
        from panda3d.core import loadPrcFileData

        settings = "load-display p3headlessgl\ntextures-power-2 none\n" if display == "headless" else (
            "load-display p3tinydisplay\n")
        loadPrcFileData("", f"{settings}window-type offscreen\nwin-size {width} {height}\naudio-library-name null\n"
                            "sync-video false\nnotify-level-device fatal\nnotify-level-display error\n"
                            "notify-level-x11display fatal\n")
        from direct.showbase.ShowBase import ShowBase
        from panda3d.core import (
            FrameBufferProperties,
            GraphicsOutput,
            GraphicsPipe,
            Shader,
            Texture,
            Vec2,
            WindowProperties,
        )

        self.base = base = ShowBase(windowType="offscreen")
        self.width, self.height = width, height
        self.shaders = display == "headless"
        properties = FrameBufferProperties()
        properties.set_rgba_bits(8, 8, 8, 8)
        properties.set_depth_bits(24)
        if self.shaders:
            properties.set_aux_float(1)
        self.buffer = base.graphicsEngine.make_output(
            base.pipe, "frames", -2, properties, WindowProperties.size(width, height),
            GraphicsPipe.BF_refuse_window | GraphicsPipe.BF_refuse_parasite, base.win.get_gsg(), base.win)
        if self.buffer is None:
            raise SystemExit("engine_panda3d: cannot make an offscreen buffer with this display")
        self.color = Texture("color")
        self.buffer.add_render_texture(self.color, GraphicsOutput.RTM_copy_ram, GraphicsOutput.RTP_color)
        if self.shaders:
            self.aux = Texture("aux")
            # copy-to-RAM would clamp the float target to 8 bits: bind it, and extract its data after each frame
            self.buffer.add_render_texture(self.aux, GraphicsOutput.RTM_bind_or_copy,
                                           GraphicsOutput.RTP_aux_float_0)
            self.buffer.set_clear_value(GraphicsOutput.RTP_aux_float_0, (0, 0, 0, 0))
            self.buffer.set_clear_active(GraphicsOutput.RTP_aux_float_0, True)
        self.buffer.set_clear_color((0.55, 0.7, 0.9, 1))
        self.camera = base.make_camera(self.buffer, lens=base.camLens)
        base.camLens.set_fov(60)
        base.camLens.set_near_far(0.5, 500)
        base.win.set_active(False)

        self.movers = []
        terrain = base.loader.load_model("environment")
        terrain.reparent_to(base.render)
        terrain.set_scale(0.25)
        terrain.set_pos(-8, 42, 0)
        self.roots = [terrain]
        for index, (name, scale) in enumerate([("teapot", 1.2), ("box", 2.0), ("teapot", 0.8), ("box", 1.0)]):
            model = base.loader.load_model(name)
            model.reparent_to(base.render)
            model.set_scale(scale)
            model.set_color((0.9, 0.5 + 0.1 * index, 0.3 + 0.15 * index, 1))
            self.movers.append(model)
            self.roots.append(model)
        for root in self.roots:
            root.flatten_strong()  # one transform per object: its root's, which the shader gets each frame
        if self.shaders:
            base.render.set_shader(Shader.make(Shader.SL_GLSL, VERTEX, FRAGMENT))
            base.render.set_shader_input("screen_size", Vec2(width, height))
        self._previous: dict[int, object] = {}

    def pose(self, t: float) -> None:
        """Place the camera and the moving objects at time ``t`` (seconds)."""
        self.camera.set_pos(30 * math.sin(0.25 * t), -30 * math.cos(0.25 * t) + 10, 6 + 2 * math.sin(0.5 * t))
        self.camera.look_at(0, 10, 2)
        for index, model in enumerate(self.movers):
            phase = t * (0.8 + 0.3 * index) + index * 1.6
            model.set_pos(8 * math.cos(phase), 10 + 8 * math.sin(phase), 1.5 + index)
            model.set_hpr(60 * t * (index + 1), 20 * index, 0)
        if self.shaders:
            projection = self.base.camLens.get_projection_mat()
            for root in self.roots:
                current = root.get_mat(self.camera) * projection
                root.set_shader_input("cur_mvp", current)
                root.set_shader_input("prev_mvp", self._previous.get(id(root), current))
                self._previous[id(root)] = type(current)(current)

    def render(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Render one frame: (H, W, 4) BGRA bottom-up colour, and (H, W, 2) motion and (H, W) depth, float32."""
        self.base.graphicsEngine.render_frame()
        color = np.frombuffer(self.color.get_ram_image(), np.uint8).reshape(self.height, self.width, 4)
        if not self.shaders:
            return color, None, None
        self.base.graphicsEngine.extract_texture_data(self.aux, self.buffer.get_gsg())
        aux = np.frombuffer(self.aux.get_ram_image_as("RGBA"), np.float32).reshape(self.height, self.width, 4)
        return color, np.ascontiguousarray(aux[..., :2]), np.ascontiguousarray(aux[..., 2])


def save(path: Path, bgra_bottom_up: np.ndarray) -> None:
    cv2.imwrite(str(path), np.ascontiguousarray(bgra_bottom_up[::-1, :, :3]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    width, height = (int(side) for side in args.size.lower().split("x"))
    scene = Scene(width, height, args.display)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    slot_bytes = width * height * 16 + 64
    client = Client(args.connect, token=args.token, mode=Mode.LATEST if args.mode == "latest" else Mode.ORDERED,
                    in_flight=args.in_flight, shared_memory=args.shm, slot_bytes=slot_bytes if args.shm else 0,
                    name="panda3d")
    print(f"connected to {args.connect}: styles {', '.join(client.styles)}; "
          f"{'shared memory' if client.shared_memory else 'socket'}; display {args.display}"
          f"{'' if scene.shaders else ' (no motion vectors or depth)'}")
    sent_at: dict[int, tuple[int, float]] = {}  # frame id -> (render index, send time)
    round_trips: list[float] = []
    server_times: list[float] = []
    counts = {"stylized": 0, "dropped": 0, "failed": 0}
    start = time.perf_counter()

    def take(reply: Result | Dropped | ErrorMessage | None) -> None:
        if reply is None:
            raise SystemExit(f"engine_panda3d: no reply from the server within {client.timeout:g} s")
        index, sent = sent_at.pop(reply.frame_id)
        if isinstance(reply, Result):
            round_trips.append(time.perf_counter() - sent)
            server_times.append((reply.queue_us + reply.process_us) / 1e6)
            counts["stylized"] += 1
            if args.out and index % args.save_every == 0:
                save(args.out / f"stylized_{index:05d}.png", reply.image)
        elif isinstance(reply, ErrorMessage):
            counts["failed"] += 1
            print(f"frame {reply.frame_id}: {reply.message}", file=sys.stderr)
        else:
            counts["dropped"] += 1

    with client:
        for index in range(args.frames):
            scene.pose(index / 30.0)
            color, motion, depth = scene.render()
            if args.out and args.save_input and index % args.save_every == 0:
                save(args.out / f"input_{index:05d}.png", color)
            while client.pending >= client.in_flight:
                take(client.receive())
            frame_id = client.submit(color, pixel_format=PixelFormat.BGRA8, origin=Origin.BOTTOM_UP, motion=motion,
                                     depth=depth, style=args.style, reset=index == 0)
            sent_at[frame_id] = index, time.perf_counter()
            while client.pending and (reply := client.receive(timeout=0.0)) is not None:
                take(reply)
        while client.pending:
            take(client.receive())
    elapsed = time.perf_counter() - start
    p50, p95 = np.percentile(np.array(round_trips) * 1000, [50, 95]) if round_trips else (0.0, 0.0)
    server = np.median(server_times) * 1000 if server_times else 0.0
    print(f"{args.frames} frames of {width}x{height} in {elapsed:.1f} s ({args.frames / elapsed:.1f} frames/s): "
          f"{counts['stylized']} stylized, {counts['dropped']} dropped, {counts['failed']} failed; reply taken by the "
          f"render loop after p50 {p50:.1f} ms, p95 {p95:.1f} ms; server time p50 {server:.1f} ms")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
