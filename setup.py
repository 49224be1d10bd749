"""Package discovery for the three source folders that install under the one import root ``framestyle``.

pyproject.toml holds the metadata; this file only maps the folders to package names, finding every package below
them so that none can be forgotten: ``realtime/`` is ``framestyle``, ``kernels/`` is ``framestyle.kernels`` and
``models/`` is ``framestyle.models``. Folders of work in progress that do not ship (training checkpoints,
experimental and comparison recipes) are left out by name.
"""

from setuptools import find_namespace_packages, setup

ROOTS = {"framestyle": "realtime", "framestyle.kernels": "kernels", "framestyle.models": "models"}
NOT_SHIPPED = ["__pycache__", "*.__pycache__", "training", "training.*", "recipes.experiments", "recipes.comparisons"]


def discover() -> tuple[list[str], dict[str, str]]:
    """Every package under each root folder, and the folder of each root."""
    packages: list[str] = []
    for name, folder in ROOTS.items():
        packages += [name] + [f"{name}.{sub}" for sub in find_namespace_packages(folder, exclude=NOT_SHIPPED)]
    return packages, dict(ROOTS)


packages, package_dir = discover()
setup(packages=packages, package_dir=package_dir)
