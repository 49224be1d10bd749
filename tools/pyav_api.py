"""Records how the PyAV releases at the two ends of the ``av`` range differ, for tests/test_pyav_api.py.

Give it two Pythons, each with one end of the range installed (scratch environments away from the checkout)::

    python3.10 -m venv /tmp/oldest && /tmp/oldest/bin/pip install av==15.0.0
    python3.13 -m venv /tmp/newest && /tmp/newest/bin/pip install av==19.0.2
    python tools/pyav_api.py /tmp/oldest/bin/python /tmp/newest/bin/python tests/data/pyav_api.json

It runs itself under each (``--dump``) to list that PyAV's API by introspection: the names PyAV defines (module
members, and the attributes of its classes and of their PyAV bases), the names any of its objects answers to
(inherited ones too), and the keyword parameters of every function, class and method in the type stubs PyAV ships
(``**`` where any keyword goes; a class's are its ``__init__``'s). It writes what differs: per end, the names the other
end defines that nothing in this end answers to, and the parameters of the callables both ends have but with other
keywords (functions and classes apart from methods, as a call through ``av.`` names one and a call on an object the
other).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType


def dump() -> dict[str, object]:
    """The API of the PyAV installed here."""
    import av

    defined: set[str] = set()
    answered: set[str] = set()
    for module in _modules(av):
        for name, value in vars(module).items():
            if name.startswith("_") or not _from_av(value):
                continue
            defined.add(name)
            if inspect.isclass(value):
                defined.update(_own_attributes(value))
                answered.update(attribute for attribute in dir(value) if not attribute.startswith("_"))
    functions, methods = _stub_params(Path(av.__file__).parent)
    return {"version": av.__version__, "defined": sorted(defined), "answered": sorted(defined | answered),
            "functions": functions, "methods": methods}


def differences(oldest: dict, newest: dict) -> dict[str, object]:
    """What differs between the dumps of two PyAV releases."""
    pairs = [(oldest, newest), (newest, oldest)]
    return {
        "about": "Made by tools/pyav_api.py (see its docstring): how the PyAV releases at the ends of the av range "
                 "differ. missing: per end, the names the other end defines that nothing in it answers to; functions "
                 "(and classes) and methods: the keyword parameters of those both have that differ.",
        "ends": [oldest["version"], newest["version"]],
        "missing": {end["version"]: sorted(set(other["defined"]) - set(end["answered"])) for end, other in pairs},
        **{kind: {name: {oldest["version"]: oldest[kind][name], newest["version"]: newest[kind][name]}
                  for name in sorted(set(oldest[kind]) & set(newest[kind])) if oldest[kind][name] != newest[kind][name]}
           for kind in ("functions", "methods")},
    }


def _modules(av: ModuleType) -> list[ModuleType]:
    found = [av]
    for info in pkgutil.walk_packages(av.__path__, "av."):
        if not info.name.endswith("__main__"):
            found.append(importlib.import_module(info.name))
    return found


def _from_av(value: object) -> bool:
    """Whether a module member belongs to PyAV's API (not a class, function or module it imported from elsewhere)."""
    if inspect.ismodule(value):
        return value.__name__.startswith("av.")
    if inspect.isclass(value) or inspect.isroutine(value):
        return (getattr(value, "__module__", None) or "av").startswith("av")
    constant = isinstance(value, (bool, int, float, str, bytes, tuple, list, dict))
    return constant or type(value).__module__.startswith("av")


def _own_attributes(cls: type) -> set[str]:
    """The public attributes that the class or one of its PyAV bases defines (not those of Python's own bases)."""
    return {name for base in cls.__mro__ if (base.__module__ or "").startswith("av")
            for name in vars(base) if not name.startswith("_")}


def _stub_params(package: Path) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """``module.function`` and ``module.Class`` (its ``__init__``), and ``module.Class.method``: the keyword
    parameters the stubs declare (over every overload)."""
    functions: dict[str, set[str]] = {}
    methods: dict[str, set[str]] = {}
    for stub in sorted(package.rglob("*.pyi")):
        parts = stub.relative_to(package.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.parse(stub.read_text()).body:
            if isinstance(node, ast.FunctionDef):
                functions.setdefault(f"{module}.{node.name}", set()).update(_keywords(node))
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if not isinstance(item, ast.FunctionDef):
                        continue
                    if item.name == "__init__":
                        functions.setdefault(f"{module}.{node.name}", set()).update(_keywords(item))
                    else:
                        methods.setdefault(f"{module}.{node.name}.{item.name}", set()).update(_keywords(item))
    return ({name: sorted(keywords) for name, keywords in sorted(functions.items())},
            {name: sorted(keywords) for name, keywords in sorted(methods.items())})


def _keywords(function: ast.FunctionDef) -> set[str]:
    arguments = function.args
    keywords = {argument.arg for argument in arguments.args + arguments.kwonlyargs} - {"self", "cls"}
    return keywords | {"**"} if arguments.kwarg else keywords


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dump", action="store_true", help="print the API of the PyAV installed here, and stop")
    parser.add_argument("oldest", nargs="?", help="a Python with the oldest PyAV of the range installed")
    parser.add_argument("newest", nargs="?", help="a Python with the newest PyAV of the range installed")
    parser.add_argument("out", nargs="?", type=Path, help="where to write the differences (JSON)")
    args = parser.parse_args()
    if args.dump:
        json.dump(dump(), sys.stdout)
        return
    if args.out is None:
        parser.error("give the oldest end's Python, the newest end's and the output file")
    oldest, newest = (json.loads(subprocess.run([python, __file__, "--dump"], capture_output=True, text=True,
                                                check=True).stdout) for python in (args.oldest, args.newest))
    args.out.write_text(json.dumps(differences(oldest, newest), indent=1) + "\n")


if __name__ == "__main__":
    main()
