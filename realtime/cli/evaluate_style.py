"""Measure a style on photos: style distance relative to the unstylized photo's, content distance, grid texture,
pasted motifs, and (with --faces) face survival on videos or pictures with people.

Needs the [train] extra (torch) and VGG-16 weights (--vgg-weights FILE, or torchvision's cached ImageNet weights);
--faces also needs facenet-pytorch (pip install --no-deps facenet-pytorch==2.6.0).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from ..catalog import resolve_style
from ..engine import EngineOptions, StyleEngine
from ..errors import InputError, MissingExtraError, ModelError
from ..imageio import read_rgb
from ..motif import MAX_INVENTED_STRUCTURE, MAX_MOTIF_AMPLITUDE, MOTIF_SIZE, motif_scores


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", type=Path, nargs="+", help="photos to stylize and measure")
    parser.add_argument("--style", help="bundled style name or .onnx file (default: the default style)")
    parser.add_argument("--painting", type=Path, help="the style's painting (default: the card's file, looked up "
                        "in --paintings)")
    parser.add_argument("--paintings", type=Path, default=Path("."), help="folder holding the card's painting file")
    parser.add_argument("--vgg-weights", type=Path, help="VGG-16 features state dict (torchvision layout)")
    parser.add_argument("--faces", type=Path, nargs="+", default=[], metavar="VIDEO|PICTURE|FOLDER",
                        help="also measure face survival on these, stylized as stylize video / stylize image do "
                        "with default settings")
    parser.add_argument("--photo-side", type=int, metavar="PIXELS",
                        help="measure the photos at this size on their long side (default 512, as the cards; the "
                             "painting stays at 512)")
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    try:
        from ..train.evaluate import EVAL_SIDE, face_survival_by_source, load_photos, score_style
        from ..train.faces import FaceDetector, FaceSurvival
        from ..train.vgg import load_vgg
    except ImportError as error:
        raise MissingExtraError(f"evaluate-style needs the [train] extra ({error.name} is missing): "
                                "pip install 'framestyle[train]'") from error
    side = args.photo_side or EVAL_SIDE
    if side < 32:
        raise InputError(f"--photo-side must be at least 32 pixels, got {side}")
    style = resolve_style(args.style)
    painting = args.painting
    if painting is None:
        name = style.card.get("painting", {}).get("file")
        if not name:
            raise ModelError(f"{style.name}: its card names no painting; give --painting")
        painting = args.paintings / name
    for path in [painting, *args.images]:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
    for path in args.faces:
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
    detector = None
    if args.faces:
        try:
            detector = FaceDetector()
        except ImportError as error:
            raise MissingExtraError(str(error)) from error
    if args.vgg_weights is not None and not args.vgg_weights.is_file():
        raise InputError(f"{args.vgg_weights}: no such file")
    engine = StyleEngine(style, EngineOptions(device="cpu"))
    photos = load_photos(args.images)
    scores = score_style(load_vgg(args.vgg_weights), read_rgb(painting), photos, engine, side)
    motif = motif_scores(photos, engine) if len(photos) > 1 else None
    by_source = face_survival_by_source(args.style or style.name, args.faces, detector) if detector else None
    faces = FaceSurvival.together(by_source) if by_source is not None else None
    if args.json:
        report: dict[str, object] = {"style": style.name, "photo_side": side, **asdict(scores)}
        if motif is not None:
            report["motif"] = asdict(motif)
        if faces is not None:
            report["face_survival"] = {
                "kept": faces.kept, "total": faces.total, "share": faces.share,
                "sources": [{"path": str(path), "kept": one.kept, "total": one.total}
                            for path, one in zip(args.faces, by_source, strict=True)]}
        print(json.dumps(report, indent=2))
        return 0
    print(f"{style.name}: style distance {scores.style_distance:.4g} vs photos' {scores.photo_style_distance:.4g} "
          f"(ratio {scores.style_ratio:.3f}, mean of per-photo ratios); content distance "
          f"{scores.content_distance:.3f}; grid texture {scores.grid_amplitude:.2f} grey levels "
          f"(photos {scores.photo_grid_amplitude:.2f}); {scores.photos} photos at {side} px")
    layers = ", ".join(f"{name} {out:.3g}/{photo:.3g}" for name, (out, photo) in scores.layers.items())
    print(f"{style.name}: style distance per layer, output/photos: {layers}")
    if motif is not None:
        print(f"{style.name}: pasted motif {motif.motif_amplitude:.1f} grey levels at a fixed place (limit "
              f"{MAX_MOTIF_AMPLITUDE:g}), invented structure {motif.invented_structure:.1f} (limit "
              f"{MAX_INVENTED_STRUCTURE:g}); {motif.pictures} photos at {MOTIF_SIZE[0]}x{MOTIF_SIZE[1]}")
    if faces is not None:
        share = f"{faces.share:.0%}" if faces.share is not None else "no face in the input"
        each = "; ".join(f"{path.name} {one.kept}/{one.total}" for path, one in zip(args.faces, by_source, strict=True))
        per_source = f": {each}" if len(args.faces) > 1 else ""
        print(f"{style.name}: faces kept {faces.kept}/{faces.total} ({share}){per_source}")
    return 0
