"""Train a new style from a painting and export it (needs the [train] extra: torch).

Example: stylize train --style starry.jpg --content photos/ --name starry --out models/starry.onnx
"""

from __future__ import annotations

import argparse

from ..errors import MissingExtraError
from ..train.config import TrainConfig, add_arguments, config_from_args

#: Makes ``vgg16.pth``, torchvision's ImageNet VGG-16 features in the layout ``--vgg-weights`` takes, with torch alone.
VGG_COMMAND = ("python -c \"import torch; s = torch.hub.load_state_dict_from_url('https://download.pytorch.org/models/"
               "vgg16-397923af.pth'); torch.save({k[9:]: v for k, v in s.items() if k.startswith('features.')}, "
               "'vgg16.pth')\"")


def register(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser)
    parser.add_argument("--resume", action="store_true", help="continue from OUT's checkpoint (NAME.ckpt)")


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    config.check()
    if config.vgg_weights is None and not torchvision_works():
        raise MissingExtraError("no --vgg-weights given, and torchvision, whose ImageNet VGG-16 is the default, is not "
                                f"installed or does not work beside this torch; make the file once with {VGG_COMMAND} "
                                "and add --vgg-weights vgg16.pth")
    return train_style(config, resume=args.resume)


def train_style(config: TrainConfig, resume: bool) -> int:
    """Train (or resume) one style, export it with its card, and print where it stands."""
    try:
        from ..train.loop import train
        from ..train.publish import publish
    except ImportError as error:
        raise MissingExtraError(f"training needs the [train] extra ({error.name} is missing): "
                                "pip install 'framestyle[train]'") from error
    result = train(config, resume=resume)
    card = publish(config, result)
    state = "finished" if result.finished else f"stopped at step {result.steps_done} (--resume continues)"
    print(f"{config.out}: {state} after {result.seconds / 60:.1f} min")
    if card["validation"]:
        v = card["validation"]
        print(f"validation: style distance {v['style_ratio']:.3f} of the photos', content distance "
              f"{v['content_distance']:.3f}")
    return 0


def torchvision_works() -> bool:
    """True when torchvision imports beside the installed torch (a torchvision built for another torch fails)."""
    try:
        import torchvision.models  # noqa: F401
    except Exception:  # ImportError, or RuntimeError from its compiled operators
        return False
    return True
