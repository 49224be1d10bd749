"""``stylize video --ray`` on a real local Ray cluster (a head and a worker node on 127.0.0.1, one CPU each), shared
by every test of this module: seams against a single-machine run, audio, a killed worker, an interrupted driver,
and one clear line for bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from framestyle.cli import main
from framestyle.cluster.driver import work_folder
from framestyle.cluster.manifest import MANIFEST_NAME
from framestyle.flicker import warping_error

from .media_samples import make_silent_video_stream

SAMPLE = Path(__file__).resolve().parent.parent / "tools" / "samples" / "tears_of_steel_8s.webm"
FPS, KEYINT, FRAMES, SIZE = 24, 12, 192, (160, 90)
#: Chunks end at the first keyframe at least this long in: 8 chunks of 24 frames.
CHUNK = ["--chunk-seconds", "1"]
LOSSLESS = ["--codec", "ffv1"]
LANGUAGES = ["fre", "eng"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A head and a worker node, real Ray processes bound to 127.0.0.1; yields the head's address."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keep 127.0.0.1 as given (see connect.py)
    cluster_utils = pytest.importorskip("ray.cluster_utils", reason="Ray is not installed (the [cluster] extra)")
    node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 80 * 1024 * 1024}
    ray_cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    try:
        ray_cluster.add_node(**node)
        yield ray_cluster.address
    finally:
        ray_cluster.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cluster")


@pytest.fixture(scope="module")
def clip(folder: Path) -> Path:
    """8 s of the shipped sample at 160x90, a keyframe every 12 frames, two AAC streams tagged French and
    English."""
    pictures = []
    with av.open(str(SAMPLE)) as source:
        for frame in source.decode(video=0):
            pictures.append(cv2.resize(frame.to_ndarray(format="rgb24"), SIZE, interpolation=cv2.INTER_AREA))
    path = folder / "clip.mp4"
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS, options={"g": str(KEYINT), "preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = *SIZE, "yuv420p"
        sounds = []
        for language in LANGUAGES:
            sound = container.add_stream("aac", rate=48000)
            sound.layout = "stereo"
            sound.metadata["language"] = language
            sounds.append(sound)
        for index in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(pictures[index % len(pictures)], format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(48000 * FRAMES // FPS) / 48000)).astype(np.float32)
        for sound in sounds:
            samples = av.AudioFrame.from_ndarray(np.stack([wave, wave]), format="fltp", layout="stereo")
            samples.sample_rate, samples.pts = 48000, 0
            container.mux(sound.encode(samples))
            container.mux(sound.encode(None))
    return path


@pytest.fixture(scope="module")
def single(clip: Path, folder: Path) -> Path:
    """The single-machine output, lossless."""
    output = folder / "single.mkv"
    assert main(["video", str(clip), str(output), "--quiet", *LOSSLESS]) == 0
    return output


def stylize(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "framestyle", "video", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def on_ray(clip: Path, folder: Path, cluster: str) -> Path:
    """The same video rendered on the cluster, lossless."""
    output = folder / "ray.mkv"
    run = stylize(str(clip), str(output), "--ray", cluster, *CHUNK, *LOSSLESS)
    assert run.returncode == 0, run.stderr
    assert "8 chunks on 2 node(s)" in run.stdout
    return output


def decode(path: Path) -> tuple[list[np.ndarray], list[int]]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    return [frame.to_ndarray(format="rgb24") for frame in frames], [frame.pts for frame in frames]


def psnr(first: np.ndarray, second: np.ndarray) -> float:
    error = float(np.mean((first.astype(np.float64) - second.astype(np.float64)) ** 2))
    return float("inf") if error == 0 else 10 * np.log10(255**2 / error)


def test_seams_flicker_no_more_and_frames_away_from_them_match(clip: Path, single: Path, on_ray: Path) -> None:
    inputs, _ = decode(clip)
    alone, alone_pts = decode(single)
    spread, spread_pts = decode(on_ray)
    assert spread_pts == alone_pts and len(spread) == FRAMES
    seams = range(2 * KEYINT, FRAMES, 2 * KEYINT)
    for seam in seams:  # the warping error over 4 frames either side of each seam
        window = slice(seam - 4, seam + 4)
        reference = warping_error(inputs[window], alone[window]).output_error
        assert warping_error(inputs[window], spread[window]).output_error <= 1.1 * reference
    near = {index for seam in seams for index in range(seam, seam + 4)}
    for index in set(range(FRAMES)) - near:
        assert psnr(spread[index], alone[index]) >= 45, index
    assert min(psnr(spread[index], alone[index]) for index in near) >= 35  # a settled warm-up: no seam is far off


def test_the_audio_streams_and_their_languages_are_kept(clip: Path, on_ray: Path) -> None:
    with av.open(str(clip)) as source, av.open(str(on_ray)) as output:
        assert [(s.codec_context.name, s.language) for s in output.streams.audio] == [
            (s.codec_context.name, s.language) for s in source.streams.audio]
        assert [s.language for s in output.streams.audio] == LANGUAGES
        assert float(output.duration / 1e6) == pytest.approx(FRAMES / FPS, abs=0.1)
    assert not work_folder(on_ray).exists()


def test_a_killed_worker_is_retried_and_the_output_is_complete(clip: Path, folder: Path, cluster: str,
                                                               on_ray: Path) -> None:
    output = folder / "retried.mkv"
    driver = subprocess.Popen([sys.executable, "-m", "framestyle", "video", str(clip), str(output), "--ray", cluster,
                               *CHUNK, *LOSSLESS], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and driver.poll() is None and time.monotonic() < deadline:
        for pid in rendering_workers():
            os.kill(pid, signal.SIGKILL)
            killed = pid
            break
        time.sleep(0.01)
    out, err = driver.communicate(timeout=300)
    assert killed is not None, "no worker was seen rendering"
    assert driver.returncode == 0, err
    assert f"(pid {killed})" not in out  # the killed worker finished no chunk: another attempt did
    retried, _ = decode(output)
    expected, _ = decode(on_ray)
    assert len(retried) == FRAMES
    assert all(np.array_equal(a, b) for a, b in zip(retried, expected, strict=True))


def rendering_workers() -> list[int]:
    """Pids of the Ray workers running a chunk now (Ray titles them after the task)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if command.startswith(b"ray::_render_remote"):
                pids.append(int(entry.name))
    return pids


def test_an_interrupted_driver_resumes_from_its_finished_chunks(clip: Path, folder: Path, cluster: str,
                                                                single: Path) -> None:
    output = folder / "resumed.mkv"
    manifest = work_folder(output) / MANIFEST_NAME
    # 16 chunks of 12 frames, 8 per worker: the driver is still busy when the first one is recorded.
    command = [sys.executable, "-m", "framestyle", "video", str(clip), str(output), "--ray", cluster,
               "--chunk-seconds", "0.5", *LOSSLESS]
    # Ctrl-C as in a terminal, even when this test runs in the background (which makes children ignore SIGINT).
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while driver.poll() is None and time.monotonic() < deadline and not finished_chunks(manifest):
        time.sleep(0.01)
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=120)
    assert driver.returncode == 130, err
    assert "interrupted" in err and "the same command resumes" in err
    assert not output.exists()
    done = finished_chunks(manifest)
    assert 0 < len(done) < 16
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{len(done)} resumed" in again.stdout
    resumed_rows = {int(line.split()[0]) for line in again.stdout.splitlines() if "resumed (finished" in line}
    assert resumed_rows == done
    assert not work_folder(output).exists()
    frames, stamps = decode(output)
    expected, expected_stamps = decode(single)
    assert stamps == expected_stamps
    near = {seam + offset for seam in range(KEYINT, FRAMES, KEYINT) for offset in range(4)}
    assert all(psnr(frames[i], expected[i]) >= 45 for i in range(FRAMES) if i not in near)


def finished_chunks(manifest: Path) -> set[int]:
    try:
        return {int(key) for key in json.loads(manifest.read_text())["chunks"]}
    except (OSError, ValueError, KeyError):
        return set()


@pytest.mark.parametrize("case", ["unreadable", "no frames", "unreachable", "pictures", "missing folder"])
def test_bad_input_gives_one_line_before_any_work(case: str, tmp_path: Path, clip: Path) -> None:
    source, output, address = clip, tmp_path / "out.mp4", "127.0.0.1:9"
    if case == "unreadable":
        source = tmp_path / "noise.mp4"
        source.write_bytes(os.urandom(4096))
    elif case == "no frames":
        source = make_silent_video_stream(tmp_path / "silent.mp4")
    elif case == "pictures":
        output = tmp_path / "%05d.png"
    elif case == "missing folder":
        output = tmp_path / "absent" / "out.mp4"
    run = stylize(str(source), str(output), "--ray", address)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stylize video: error:"), run.stderr
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in (source,) if p.parent == tmp_path)


def test_a_node_that_cannot_write_the_output_folder_is_named(cluster: str, clip: Path, tmp_path: Path) -> None:
    from framestyle.cluster.connect import check_nodes, connect
    from framestyle.errors import ClusterError

    ray = connect(cluster)
    try:
        with pytest.raises(ClusterError, match=r"node 127\.0\.0\.1: cannot write in .*absent"):
            check_nodes(ray, clip, tmp_path / "absent", None)
        assert len(check_nodes(ray, clip, tmp_path, None)) == 2
    finally:
        ray.shutdown()
