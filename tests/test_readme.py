"""Every shell and Python block of README.md runs here as written. Each block is preceded by a line
``<!-- readme-test: KIND[, slow]; how -->`` that names the runner below and says in a few words how the test stands
in for what a test machine cannot have (a browser, a second machine, the training data kit, a download); a block
without one, or of an unknown kind, fails. ``pip install`` lines are never run: the extras they name must be ones
pyproject.toml declares. The cluster block runs on two Ray nodes on 127.0.0.1 (tests/ray_nodes.py): each `ray
start` line gets the port of a free one for 6379, ``--node-ip-address=127.0.0.1 --num-cpus=1 --block`` (and the
head ``--include-dashboard=false``), and runs in the background with Ray's swap of loopback addresses off."""

from __future__ import annotations

import importlib.util
import re
import shlex
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

try:
    import tomllib
except ImportError:  # Python 3.10: pytest brings tomli
    import tomli as tomllib

from .ray_nodes import RAY, ray_environment, start_node, stop_nodes

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SAMPLE = ROOT / "tools" / "samples" / "tears_of_steel_8s.webm"
PORTRAIT = Path(__file__).parent / "data" / "grace_hopper_200.jpg"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Block:
    """A fenced block of README.md: its language, code, the readme-test line's kind, flags and words, and where."""

    language: str
    code: str
    kind: str
    flags: frozenset[str]
    line: int

    @property
    def commands(self) -> list[str]:
        """The shell lines without comments or blank lines, continuations joined."""
        joined = self.code.replace("\\\n", " ")
        return [line.split(" #")[0].strip() for line in joined.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]


def readme_blocks() -> list[Block]:
    """The ```sh and ```python blocks of README.md."""
    lines = README.read_text(encoding="utf-8").splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        fence = re.fullmatch(r"```(\w+)\s*", lines[index])
        if fence:
            end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
            if fence.group(1) in ("sh", "python"):
                note = re.fullmatch(r"<!-- readme-test: ([\w, ]+);.* -->", lines[index - 1])
                names = [name.strip() for name in note.group(1).split(",")] if note else [""]
                blocks.append(Block(fence.group(1), "\n".join(lines[index + 1:end]) + "\n", names[0],
                                    frozenset(names[1:]), index + 1))
            index = end
        index += 1
    return blocks


def shell(script: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run ``script`` with bash (stopping at the first failing line) with this environment's commands first on
    the PATH; returns its output."""
    env = dict(env or ray_environment(cwd))
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=timeout)
    assert run.returncode == 0, f"{script}\n{run.stdout}\n{run.stderr}"
    return run.stdout


def without_installs(block: Block) -> list[str]:
    """The block's commands but its `pip install -e '.[...]'` lines, whose extras are checked."""
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    rest = []
    for command in block.commands:
        words = shlex.split(command)
        if words[:3] == ["pip", "install", "-e"]:
            extras = re.fullmatch(r"\.\[([\w,]+)\]", words[3])
            assert extras, command
            assert set(extras.group(1).split(",")) <= declared, command
        else:
            rest.append(command)
    return rest


def sample_frames(count: int, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """The first ``count`` frames of the sample clip (RGB), resized to ``size`` if given."""
    frames = []
    with av.open(str(SAMPLE)) as container:
        for frame in container.decode(video=0):
            picture = frame.to_ndarray(format="rgb24")
            frames.append(cv2.resize(picture, size, interpolation=cv2.INTER_AREA) if size else picture)
            if len(frames) == count:
                break
    return frames


def write_picture(path: Path, seed: int, size: tuple[int, int] = (96, 64)) -> Path:
    """A smooth random picture (a stand-in photo or painting)."""
    noise = np.random.default_rng(seed).integers(0, 256, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.resize(noise, size, interpolation=cv2.INTER_CUBIC))
    return path


def write_clip(path: Path, pictures: list[np.ndarray], *, fps: int = 24, keyint: int = 48, sound: bool = True) -> Path:
    """A clip of ``pictures`` (VP9 in .webm, else H.264; a keyframe every ``keyint``), with a stereo AAC sound if
    ``sound``."""
    height, width = pictures[0].shape[:2]
    with av.open(str(path), "w") as container:
        codec = "libvpx-vp9" if path.suffix == ".webm" else "libx264"
        video = container.add_stream(codec, rate=fps, options={"g": str(keyint)})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=48000, layout="stereo") if sound else None
        for index, picture in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            wave = (0.2 * np.sin(np.arange(48000 * len(pictures) // fps) / 10)).astype(np.float32)
            samples = av.AudioFrame.from_ndarray(np.stack([wave, wave]), format="fltp", layout="stereo")
            samples.sample_rate, samples.pts = 48000, 0
            container.mux(audio.encode(samples))
            container.mux(audio.encode(None))
    return path


def count_frames(path: Path) -> tuple[int, int]:
    """Video frames and audio streams of a file."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0)), len(container.streams.audio)


# --- the runners, one per kind ------------------------------------------------------------------------------------

def run_demo(block: Block, tmp_path: Path) -> None:
    """`make demo` as the commands of its Makefile recipe, in an empty folder holding the sample; `make test` is
    this suite."""
    assert block.commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    sample = re.search(r"^SAMPLE := (\S+)$", makefile, re.MULTILINE).group(1)
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE).group(1)
    script = recipe.replace("\t", "").replace("$(BIN)/", "").replace("$(SAMPLE)", sample)
    (tmp_path / Path(sample).parent).mkdir(parents=True)
    (tmp_path / sample).symlink_to(ROOT / sample)
    out = shell(script, tmp_path)
    output = re.search(r"into (\S+), sound kept", block.code).group(1)
    assert "frames/s end to end" in out
    frames, sounds = count_frames(tmp_path / output)
    assert frames == count_frames(SAMPLE)[0] and sounds == 1


def run_install(block: Block, tmp_path: Path) -> None:
    assert without_installs(block) == []


def run_api(block: Block, tmp_path: Path) -> None:
    namespace = {"frames": sample_frames(8)}
    exec(compile(block.code, f"README.md:{block.line}", "exec"), namespace)
    assert namespace["out"].shape == namespace["frames"][0].shape


def run_live(block: Block, tmp_path: Path) -> None:
    """`stylize live` on a free port; the page its comment names is fetched from there, then Ctrl-C."""
    pytest.importorskip("aiortc", reason="the [live] extra is not installed")
    from framestyle.cli.live import DEFAULT_PORT

    from .ray_nodes import free_port

    (command,) = without_installs(block)
    url = re.search(r"open (http://\S+) in", block.code).group(1)
    assert url == f"http://127.0.0.1:{DEFAULT_PORT}/", "the README's address is not the default one"
    port = free_port()
    server = subprocess.Popen([*shlex.split(command.replace("stylize", str(BIN / "stylize"), 1)), "--port",
                               str(port)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "open http://127.0.0.1" in server.stdout.readline()
        with urllib.request.urlopen(url.replace(str(DEFAULT_PORT), str(port)), timeout=30) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, err
    assert "stylize live: stopped;" in out


def run_cluster(block: Block, tmp_path: Path) -> None:
    """The recipe with two nodes on 127.0.0.1 (see the module's docstring), /shared/film a folder with a 40 s
    clip whose keyframes fall every 2 s, and the home folder the test's own (for the token)."""
    pytest.importorskip("ray", reason="the [cluster] extra is not installed")
    from framestyle.cluster.driver import work_folder

    from .ray_nodes import LOOPBACK, free_port

    home, film = tmp_path / "home", tmp_path / "shared" / "film"
    home.mkdir()
    film.mkdir(parents=True)
    source = write_clip(film / "in.mkv", sample_frames(80, (64, 36)) * 12)  # 40 s
    env = ray_environment(home)
    port = free_port()
    nodes: list[subprocess.Popen] = []
    out = ""
    try:
        for command in without_installs(block):
            command = command.replace("HEAD:6379", f"{LOOPBACK}:{port}").replace("--port=6379", f"--port={port}")
            command = command.replace("/shared/film", str(film))
            assert "HEAD" not in command and "6379" not in command, command
            words = shlex.split(command)
            assigned = dict(word.split("=", 1) for word in words if re.fullmatch(r"[A-Z_]+=\S*", word))
            words = words[len(assigned):]
            if words[:2] == ["ray", "start"]:
                head = ["--include-dashboard=false"] if "--head" in words else []
                nodes.append(start_node([*words[2:], *head], {**env, **assigned}))
            elif words[:1] == ["ray"]:
                shell(shlex.join([*RAY, *words[1:]]), tmp_path, {**env, **assigned})
            else:
                out = shell(command, tmp_path, {**env, **assigned})
    finally:
        stop_nodes(nodes)
    assert len(nodes) == 2
    chunks = re.search(r"(\d+) chunks on 2 node\(s\)", out)
    assert chunks and int(chunks.group(1)) > 1, out
    assert count_frames(film / "out.mkv") == count_frames(source)
    assert not work_folder(film / "out.mkv").exists()


def run_client(block: Block, tmp_path: Path) -> None:
    """The server the block's comment names, on a socket in a temporary folder; ``frame`` a sample frame."""
    server_command, socket_path = re.search(r"# server: (stylize serve --unix (\S+))", block.code).groups()
    here = str(tmp_path / "framestyle.sock")
    server = subprocess.Popen(shlex.split(server_command.replace(socket_path, here).replace(
        "stylize", str(BIN / "stylize"), 1)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "listening on" in server.stdout.readline()
        namespace = {"frame": sample_frames(1)[0]}
        exec(compile(block.code.replace(socket_path, here), f"README.md:{block.line}", "exec"), namespace)
        assert namespace["stylized"].shape == namespace["frame"].shape
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=60)


def run_evaluate(block: Block, tmp_path: Path) -> None:
    """The reproduction of a style row with NAME the default style, on a stand-in for the data: random pictures
    for the painting and the photos, the shipped portrait as both clips, and random VGG-16 weights."""
    pytest.importorskip("torch", reason="the [train] extra is not installed")
    if importlib.util.find_spec("facenet_pytorch") is None:  # imported through framestyle.train.faces only
        pytest.skip("facenet-pytorch is not installed")
    from framestyle.catalog import resolve_style

    write_vgg_features(tmp_path / "vgg16.pth")
    (command,) = block.commands
    command = command.replace("--style NAME", "--style composition_vii")
    write_picture(tmp_path / "paintings" / resolve_style("composition_vii").card["painting"]["file"], 0)
    for seed, name in enumerate(re.search(r"photos/\{([^}]+)\}", command).group(1).split(","), 1):
        write_picture(tmp_path / "photos" / name, seed)
    portrait = cv2.cvtColor(cv2.imread(str(PORTRAIT)), cv2.COLOR_BGR2RGB)[:192, :192]
    for clip in re.search(r"--faces (.*)$", command).group(1).split():
        write_clip(tmp_path / clip, [portrait] * 8, sound=False)
    out = shell(command, tmp_path)
    assert "composition_vii: style distance" in out and "composition_vii: faces kept" in out


def run_train(block: Block, tmp_path: Path) -> None:
    """The first line with torch's download cache holding a random VGG-16 of torchvision's layout; a painting and
    photos made up; a short training."""
    torch = pytest.importorskip("torch", reason="the [train] extra is not installed")
    from framestyle.train.vgg import load_vgg

    fetch, train = block.commands
    url = re.search(r"load_state_dict_from_url\('([^']+)'\)", fetch).group(1)
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    full = {f"features.{key}": value for key, value in vgg_features().items()}
    full["classifier.0.weight"] = torch.zeros(4, 4)  # the file's classifier, left out by the line
    torch.save(full, cache / url.rsplit("/", 1)[1])
    env = {**ray_environment(tmp_path), "TORCH_HOME": str(tmp_path / "torch")}
    shell(fetch, tmp_path, env)
    load_vgg(tmp_path / "vgg16.pth")
    write_picture(tmp_path / "painting.jpg", 0)
    for seed in range(1, 4):
        write_picture(tmp_path / "photos" / f"{seed}.jpg", seed)
    out = shell(f"{train} --steps 2 --batch 1 --crop 64", tmp_path, env)
    assert "mine.onnx: finished" in out
    assert (tmp_path / "mine.onnx").is_file() and (tmp_path / "mine.json").is_file()


def run_mix(block: Block, tmp_path: Path) -> None:
    """A mix on the sample clip, a new style from a made-up picture with a random VGG-16 and 2 steps (for the 15
    minutes), and a mix of it on the shipped portrait."""
    pytest.importorskip("torch", reason="the [train] extra is not installed")
    mix, add, image = block.commands
    (tmp_path / "clip.webm").symlink_to(SAMPLE)
    (tmp_path / "photo.jpg").symlink_to(PORTRAIT)
    write_picture(tmp_path / "lilies.jpg", 0)
    write_vgg_features(tmp_path / "vgg16.pth")
    shell(f"{mix} --quiet\n{add} --steps 2\n{image}", tmp_path)
    assert count_frames(tmp_path / "mixed.mp4") == count_frames(SAMPLE)
    assert cv2.imread(str(tmp_path / "photo_lilies.jpg")).shape == cv2.imread(str(PORTRAIT)).shape


#: torchvision's VGG-16 ``features``: the index of each convolution, its input and output channels.
VGG16_CONVOLUTIONS = [(0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256),
                      (14, 256, 256), (17, 256, 512), (19, 512, 512), (21, 512, 512), (24, 512, 512), (26, 512, 512),
                      (28, 512, 512)]


def vgg_features() -> dict:
    """Random weights of torchvision's VGG-16 ``features``, keyed as in its state dict."""
    import torch

    state = {}
    for index, inputs, outputs in VGG16_CONVOLUTIONS:
        state[f"{index}.weight"] = torch.randn(outputs, inputs, 3, 3) * 0.05
        state[f"{index}.bias"] = torch.zeros(outputs)
    return state


def write_vgg_features(path: Path) -> None:
    import torch

    torch.save(vgg_features(), path)


RUNNERS: dict[str, Callable[[Block, Path], None]] = {
    "demo": run_demo, "install": run_install, "api": run_api, "live": run_live, "cluster": run_cluster,
    "client": run_client, "evaluate": run_evaluate, "train": run_train, "mix": run_mix,
}


def block_params() -> list:
    """One test case per block, marked slow (and cluster) as its readme-test line says."""
    params = []
    for block in readme_blocks():
        marks = [pytest.mark.slow] if "slow" in block.flags else []
        if block.kind == "cluster":
            marks.append(pytest.mark.cluster)
        params.append(pytest.param(block, marks=marks, id=f"line {block.line} {block.kind or 'unmarked'}"))
    return params


@pytest.mark.parametrize("block", block_params())
def test_the_readme_block_runs_as_written(block: Block, tmp_path: Path) -> None:
    assert block.kind in RUNNERS, (f"README.md line {block.line}: a ```{block.language} block needs a line "
                                   "`<!-- readme-test: KIND; how -->` before it, KIND one of "
                                   f"{', '.join(RUNNERS)}")
    RUNNERS[block.kind](block, tmp_path)


def test_every_kind_of_block_is_in_the_readme() -> None:
    assert sorted(block.kind for block in readme_blocks()) == sorted(RUNNERS)
