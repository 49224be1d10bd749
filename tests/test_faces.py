"""Face survival with the real detector (MTCNN from facenet-pytorch, installed by `make test`) on a shipped
portrait that no style was trained on."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
if importlib.util.find_spec("facenet_pytorch") is None:
    pytest.skip("facenet-pytorch is not installed (pip install --no-deps facenet-pytorch==2.6.0; `make test` does)",
                allow_module_level=True)

from framestyle.catalog import default_style  # noqa: E402
from framestyle.cli import main  # noqa: E402
from framestyle.imageio import read_rgb  # noqa: E402
from framestyle.train.evaluate import face_survival  # noqa: E402
from framestyle.train.faces import FaceDetector  # noqa: E402

from .tiny_models import write_flat_model  # noqa: E402

PORTRAIT = Path(__file__).parent / "data" / "grace_hopper_200.jpg"


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def test_the_detector_finds_the_one_face_of_the_portrait(detector: FaceDetector) -> None:
    faces = detector.detect(read_rgb(PORTRAIT))
    assert len(faces) == 1
    x1, y1, x2, y2 = faces[0]
    assert 40 < (x1 + x2) / 2 < 130 and 30 < (y1 + y2) / 2 < 120  # the face is in the upper middle


def test_an_unchanged_picture_keeps_its_face(detector: FaceDetector) -> None:
    image = read_rgb(PORTRAIT)
    assert detector.survival([(image, image)]).share == 1.0


def test_a_blank_output_loses_the_face(detector: FaceDetector) -> None:
    image = read_rgb(PORTRAIT)
    assert detector.survival([(image, image * 0 + 128)]).share == 0.0


def test_the_default_style_keeps_the_face_of_a_portrait_it_never_saw(detector: FaceDetector) -> None:
    survival = face_survival(default_style().name, [PORTRAIT], detector)
    assert survival.total == 1 and survival.kept == 1


@pytest.mark.slow
@pytest.mark.parametrize(("flat", "kept"), [(False, 1), (True, 0)], ids=["default style", "painted over"])
def test_evaluate_style_reports_face_survival(tmp_path: Path, capsys: pytest.CaptureFixture, flat: bool,
                                              kept: int) -> None:
    import numpy as np
    import torch

    from framestyle.imageio import write_image
    from framestyle.train.vgg import Vgg16

    torch.manual_seed(0)
    vgg = tmp_path / "vgg.pth"
    torch.save(Vgg16().features.state_dict(), vgg)
    painting = tmp_path / "painting.png"
    write_image(painting, np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8))
    # The default style keeps the portrait's face (as the test above finds); a style that paints everything grey
    # loses it.
    style = ["--style", str(write_flat_model(tmp_path / "flat.onnx"))] if flat else []
    assert main(["evaluate-style", str(PORTRAIT), *style, "--painting", str(painting), "--vgg-weights", str(vgg),
                 "--faces", str(PORTRAIT), str(PORTRAIT), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    each = {"path": str(PORTRAIT), "kept": kept, "total": 1}
    assert report["face_survival"] == {"kept": 2 * kept, "total": 2, "share": float(kept), "sources": [each, each]}


def test_the_face_keeping_loss_finds_the_faces_of_a_crop_from_its_mask() -> None:
    import numpy as np
    import torch

    from framestyle.train.data import box_mask
    from framestyle.train.facekeep import faces_in_crops

    mask = box_mask((100, 120), [(30, 20, 60, 60), (100, 50, 130, 90)])  # the second is cut by the right edge
    (face,) = faces_in_crops(torch.from_numpy(mask / 255.0)[None, None].float())
    assert face[0] == 0 and np.allclose(face[1:], (30, 20, 60, 60), atol=1.5)


def test_the_face_keeping_loss_is_low_on_the_face_and_high_when_it_is_painted_over(detector: FaceDetector) -> None:
    import torch

    from framestyle.train.data import box_mask
    from framestyle.train.facekeep import FaceKeepLoss

    image = read_rgb(PORTRAIT)
    (box,) = detector.detect(image)
    photo = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0
    mask = torch.from_numpy(box_mask(image.shape[:2], [box]) / 255.0)[None, None].float()
    loss = FaceKeepLoss()
    assert float(loss(photo, mask)) < 0.1
    washed = (0.5 + 0.1 * (photo - 0.5)).requires_grad_(True)  # a tenth of the contrast
    painted = loss(washed, mask)
    assert float(painted) > 4 * float(loss(photo, mask)) + 0.3
    painted.backward()
    assert washed.grad is not None and float(washed.grad.abs().sum()) > 0
    assert loss(photo, torch.zeros_like(mask)) is None  # no face marked: no loss
