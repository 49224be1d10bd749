"""``stylize video --ray`` on a real local Ray cluster (a head and a worker node on 127.0.0.1, one CPU each, started
with `ray start` and Ray's token authentication on), shared by every test of this module: seams against a
single-machine run and audio in every output container, relative paths, a killed worker, an interrupted driver,
and one clear line for bad input."""

from __future__ import annotations

import json
import os
import re
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
from .ray_nodes import ray_environment, ray_nodes

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

SAMPLE = Path(__file__).resolve().parent.parent / "tools" / "samples" / "tears_of_steel_8s.webm"
FPS, KEYINT, FRAMES, SIZE = 24, 12, 192, (160, 90)
#: Chunks end at the first keyframe at least this long in: 8 chunks of 24 frames.
CHUNK = ["--chunk-seconds", "1"]
LOSSLESS = ["--codec", "ffv1"]
#: Every output container, with encoder options under which a frame is encoded the same in a chunk as in a single
#: run, so that seams can be compared with it frame by frame: lossless H.264 (B-frames kept, as by default), and
#: VP9 at its best quality.
CONTAINERS = {".mkv": ["--crf", "0"], ".mp4": ["--crf", "0"], ".mov": ["--crf", "0"], ".webm": ["--crf", "0"]}
#: ISO 639-2/T codes: a .mov keeps those, not every bibliographic (B) one (FFmpeg writes "fre" to .mov as no language).
LANGUAGES = ["fra", "eng"]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The home folder of the cluster's nodes and drivers: it holds their authentication token."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def cluster(home: Path) -> Iterator[str]:
    """A head and a worker node, real Ray processes bound to 127.0.0.1; yields the head's address."""
    pytest.importorskip("ray", reason="Ray is not installed (the [cluster] extra)")
    with ray_nodes(home) as address:
        yield address


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


def stylize(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``stylize video`` as a user runs it on a machine of the cluster (its token in the home folder)."""
    return subprocess.run([sys.executable, "-m", "framestyle", "video", *args], capture_output=True, text=True,
                          timeout=300, env=ray_environment(home), cwd=cwd)


@pytest.fixture(scope="module")
def on_ray(clip: Path, folder: Path, cluster: str, home: Path) -> Path:
    """The same video rendered on the cluster, lossless."""
    output = folder / "ray.mkv"
    run = stylize(home, str(clip), str(output), "--ray", cluster, *CHUNK, *LOSSLESS)
    assert run.returncode == 0, run.stderr
    assert "8 chunks on 2 node(s)" in run.stdout
    return output


@pytest.fixture(scope="module", params=list(CONTAINERS))
def container(request: pytest.FixtureRequest, clip: Path, folder: Path, cluster: str,
              home: Path) -> tuple[Path, Path]:
    """A single-machine run and a run on the cluster into one container, each with that container's default
    codecs; the cluster's run given relative paths, from another folder than the workers'."""
    suffix = request.param
    options = CONTAINERS[suffix]
    alone = folder / f"single{suffix}"
    assert main(["video", str(clip), str(alone), "--quiet", *options]) == 0
    spread = folder / f"ray{suffix}"
    run = stylize(home, clip.name, spread.name, "--ray", cluster, *CHUNK, *options, cwd=folder)
    assert run.returncode == 0, run.stderr
    assert "8 chunks on 2 node(s)" in run.stdout
    assert not work_folder(spread).exists()
    return alone, spread


def decode(path: Path) -> tuple[list[np.ndarray], list[int]]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    return [frame.to_ndarray(format="rgb24") for frame in frames], [frame.pts for frame in frames]


def psnr(first: np.ndarray, second: np.ndarray) -> float:
    error = float(np.mean((first.astype(np.float64) - second.astype(np.float64)) ** 2))
    return float("inf") if error == 0 else 10 * np.log10(255**2 / error)


def check_seams(clip: Path, single: Path, on_ray: Path) -> None:
    """The warping error over 4 frames either side of each seam within 10% of the single run's, and the frames
    from the fourth after a seam on as in the single run (45 dB or more)."""
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


def check_audio(reference: Path, on_ray: Path) -> None:
    """The audio streams of ``reference`` (codecs and languages), and the length of the clip."""
    with av.open(str(reference)) as source, av.open(str(on_ray)) as output:
        assert [(s.codec_context.name, s.language) for s in output.streams.audio] == [
            (s.codec_context.name, s.language) for s in source.streams.audio]
        assert [s.language for s in output.streams.audio] == LANGUAGES
        assert float(output.duration / 1e6) == pytest.approx(FRAMES / FPS, abs=0.1)


def test_seams_flicker_no_more_and_frames_away_from_them_match(clip: Path, single: Path, on_ray: Path) -> None:
    check_seams(clip, single, on_ray)


def test_the_audio_streams_and_their_languages_are_kept(clip: Path, on_ray: Path) -> None:
    check_audio(clip, on_ray)
    assert not work_folder(on_ray).exists()


def test_every_container_joins_with_seams_and_audio_as_a_single_run(clip: Path, container: tuple[Path, Path]) -> None:
    single, on_ray = container
    check_seams(clip, single, on_ray)
    check_audio(single, on_ray)


def test_a_killed_worker_is_retried_and_the_output_is_complete(clip: Path, folder: Path, cluster: str,
                                                               home: Path, on_ray: Path) -> None:
    output = folder / "retried.mkv"
    driver = subprocess.Popen([sys.executable, "-m", "framestyle", "video", str(clip), str(output), "--ray", cluster,
                               *CHUNK, *LOSSLESS], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=ray_environment(home))
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and driver.poll() is None and time.monotonic() < deadline:
        killed = kill_a_rendering_worker(work_folder(output))
        time.sleep(0.01)
    out, err = driver.communicate(timeout=300)
    assert killed is not None, "no worker was seen rendering"
    pid, chunk = killed
    assert driver.returncode == 0, err
    assert f"(pid {pid})" not in out  # the killed worker finished no chunk: another attempt did
    row = next(line for line in out.splitlines() if line.split()[:1] == [str(chunk)])
    assert "(pid " in row, row
    retried, _ = decode(output)
    expected, _ = decode(on_ray)
    assert len(retried) == FRAMES
    assert all(np.array_equal(a, b) for a, b in zip(retried, expected, strict=True))


def kill_a_rendering_worker(work: Path) -> tuple[int, int] | None:
    """Kill a Ray worker that is writing a chunk file now, and return its pid and chunk; None if none is. The
    worker is stopped first, and killed only if the chunk's temporary file is still open in it then, so it is
    known to be inside the chunk (a chunk file gets its name only once complete)."""
    for pid in rendering_workers():
        chunk = chunk_being_written(pid, work)
        if chunk is None:
            continue
        os.kill(pid, signal.SIGSTOP)
        if chunk_being_written(pid, work) == chunk:
            os.kill(pid, signal.SIGKILL)
            return pid, chunk
        os.kill(pid, signal.SIGCONT)
    return None


def rendering_workers() -> list[int]:
    """Pids of the Ray workers titled after the chunk task (Ray renames a worker after the task it runs)."""
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


def chunk_being_written(pid: int, work: Path) -> int | None:
    """The chunk whose temporary file (``.chunk-NNNNN.EXT.*.part`` in ``work``) process ``pid`` has open."""
    try:
        targets = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:
        return None
    for target in targets:
        name = Path(target).name
        if Path(target).parent == work and name.startswith(".chunk-") and name.endswith(".part"):
            return int(name.split("-")[1].split(".")[0])
    return None


def test_an_interrupted_driver_resumes_from_its_finished_chunks(clip: Path, folder: Path, cluster: str,
                                                                home: Path, single: Path) -> None:
    output = folder / "resumed.mkv"
    manifest = work_folder(output) / MANIFEST_NAME
    # 16 chunks of 12 frames, 8 per worker: the driver is still busy when the first one is recorded.
    command = [sys.executable, "-m", "framestyle", "video", str(clip), str(output), "--ray", cluster,
               "--chunk-seconds", "0.5", *LOSSLESS]
    # Ctrl-C as in a terminal, even when this test runs in the background (which makes children ignore SIGINT).
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=ray_environment(home),
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while driver.poll() is None and time.monotonic() < deadline and not finished_chunks(manifest):
        time.sleep(0.01)
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=120)
    assert driver.returncode == 130, err
    assert "interrupted" in err and "the same command resumes" in err
    assert not output.exists()
    deadline = time.monotonic() + 30
    while rendering_workers() and time.monotonic() < deadline:  # the tasks end with the driver
        time.sleep(0.1)
    assert not rendering_workers()
    done = finished_chunks(manifest)
    assert 0 < len(done) < 16
    again = subprocess.run(command, capture_output=True, text=True, timeout=300, env=ray_environment(home))
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
def test_bad_input_gives_one_line_before_any_work(case: str, tmp_path: Path, clip: Path, home: Path) -> None:
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
    run = stylize(home, str(source), str(output), "--ray", address)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stylize video: error:"), run.stderr
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in (source,) if p.parent == tmp_path)


def test_a_node_that_cannot_write_the_output_folder_is_named(cluster: str, clip: Path, tmp_path: Path,
                                                              home: Path) -> None:
    check = f"""
import sys
from pathlib import Path
from framestyle.cluster.connect import check_nodes, connect
from framestyle.errors import ClusterError

ray = connect({cluster!r})
try:
    try:
        check_nodes(ray, Path({str(clip)!r}), Path({str(tmp_path / "absent")!r}), None)
    except ClusterError as error:
        print(error)
    print(len(check_nodes(ray, Path({str(clip)!r}), Path({str(tmp_path)!r}), None)))
finally:
    ray.shutdown()
"""
    run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=300,
                         env=ray_environment(home))
    assert run.returncode == 0, run.stderr
    refused, nodes = run.stdout.strip().splitlines()
    assert re.match(r"node 127\.0\.0\.1: cannot write in .*absent", refused), refused
    assert nodes == "2"


def test_a_driver_without_the_clusters_token_is_told_in_one_line(cluster: str, clip: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "home"  # a machine that never got the head's token
    elsewhere.mkdir()
    run = subprocess.run([sys.executable, "-m", "framestyle", "video", str(clip), str(tmp_path / "out.mkv"), "--ray",
                          cluster], capture_output=True, text=True, timeout=300, env=ray_environment(elsewhere))
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "~/.ray/auth_token" in lines[0], run.stderr
    assert sorted(os.listdir(tmp_path)) == ["home"]
