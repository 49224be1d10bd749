"""Train a new style from a painting and export it (needs the [train] extra: torch).

Example: stylize train --style starry.jpg --content photos/ --name starry --out models/starry.onnx
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError, MissingExtraError


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--style", type=Path, required=True, help="the painting (an image file)")
    parser.add_argument("--content", type=Path, nargs="+", required=True, help="photo files or folders of photos")
    parser.add_argument("--video", type=Path, nargs="*", default=[], help="video clips whose frames add to the photos")
    parser.add_argument("--validation", type=Path, nargs="*", default=[],
                        help="photos not trained on; the card reports style and content distances on them")
    parser.add_argument("--name", required=True, help="the style's name (lower case, no spaces)")
    parser.add_argument("--out", type=Path, required=True, help="the fp32 model file to write (NAME.onnx)")
    parser.add_argument("--arch", choices=("fast", "johnson"), default="fast",
                        help="network: ours (default) or the Johnson et al. reference")
    parser.add_argument("--width", type=int, nargs=3, default=[16, 32, 64], metavar=("C1", "C2", "C3"),
                        help="fast network: channels at 1/2, 1/4 and 1/8 resolution")
    parser.add_argument("--blocks", type=int, default=5, help="fast network: residual blocks at 1/8 resolution")
    parser.add_argument("--detail", type=int, default=0, metavar="C",
                        help="fast network: channels of the full-resolution detail head (default 0: none)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--crop", type=int, default=192, help="training crop size in pixels")
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (cosine decay)")
    parser.add_argument("--style-weight", type=float, default=4.0)
    parser.add_argument("--content-weight", type=float, default=1.0)
    parser.add_argument("--tv-weight", type=float, default=0.5)
    parser.add_argument("--stability-weight", type=float, default=20.0, help="0 trains without the stability loss")
    parser.add_argument("--grid-weight", type=float, default=0.0,
                        help="weight of the loss against patterns locked to the pixel grid (default 0: off)")
    parser.add_argument("--face-weight", type=float, default=0.0,
                        help="extra content weight on the faces a detector finds in the training images (default 0: "
                        "off; needs facenet-pytorch)")
    parser.add_argument("--video-every", type=int, default=8, metavar="N",
                        help="take every N-th frame of the --video clips (default 8)")
    parser.add_argument("--gray-fraction", type=float, default=0.0, metavar="F",
                        help="turn this fraction of the training crops to grey, for black-and-white footage "
                             "(default 0)")
    parser.add_argument("--init", type=Path, metavar="MODEL",
                        help="start from this model's weights (an .onnx made by stylize train, or a .ckpt): "
                             "fine-tunes it with this run's weights; the architecture options must match")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vgg-weights", type=Path, help="VGG-16 features state dict (torchvision layout); "
                        "default: torchvision's ImageNet weights")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--max-minutes", type=float, help="stop (checkpoint and export) after this many minutes")
    parser.add_argument("--resume", action="store_true", help="continue from OUT's checkpoint (NAME.ckpt)")
    for field in ("title", "artist", "year", "credit", "licence"):
        parser.add_argument(f"--{field}", default="", help=f"the painting's {field}, for the model card")


def run(args: argparse.Namespace) -> int:
    try:
        from ..train.loop import TrainConfig, train
        from ..train.publish import publish
    except ImportError as error:
        raise MissingExtraError(f"training needs the [train] extra ({error.name} is missing): "
                                "pip install 'framestyle[train]'") from error
    for path in [args.style, *args.content, *args.video, *args.validation, *([args.init] if args.init else [])]:
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
    if args.vgg_weights and not args.vgg_weights.is_file():
        raise InputError(f"{args.vgg_weights}: no such file")
    if not 0.0 <= args.gray_fraction <= 1.0:
        raise InputError(f"--gray-fraction must be between 0 and 1, got {args.gray_fraction}")
    if args.out.suffix != ".onnx":
        raise InputError(f"--out must end in .onnx, got {args.out}")
    if not args.out.parent.is_dir():
        raise InputError(f"{args.out.parent}: no such folder (the model and its checkpoints are written there)")
    config = TrainConfig(
        style=args.style, content=list(args.content), name=args.name, out=args.out, videos=list(args.video),
        validation=list(args.validation), arch=args.arch, width=tuple(args.width), blocks=args.blocks,
        detail=args.detail, steps=args.steps, batch=args.batch, crop=args.crop, learning_rate=args.lr,
        content_weight=args.content_weight, style_weight=args.style_weight, tv_weight=args.tv_weight,
        stability_weight=args.stability_weight, grid_weight=args.grid_weight, face_weight=args.face_weight,
        video_every=args.video_every, gray_fraction=args.gray_fraction, init=args.init,
        seed=args.seed, vgg_weights=args.vgg_weights, device=args.device, max_minutes=args.max_minutes,
        title=args.title, artist=args.artist, year=args.year, credit=args.credit, licence=args.licence,
    )
    result = train(config, resume=args.resume)
    card = publish(config, result)
    state = "finished" if result.finished else f"stopped at step {result.steps_done} (--resume continues)"
    print(f"{args.out}: {state} after {result.seconds / 60:.1f} min")
    if card["validation"]:
        v = card["validation"]
        print(f"validation: style distance {v['style_ratio']:.3f} of the photos', content distance "
              f"{v['content_distance']:.3f}")
    return 0
