"""The package uses only PyAV API that both ends of its ``av`` range have, unless a ``PYAV_MAJOR`` test guards the use.

A static check of the source against tests/data/pyav_api.json, which tools/pyav_api.py made by introspecting the
PyAV releases at both ends (its docstring says how): every attribute used in a module that imports av, and every
keyword passed to a PyAV callable. The attributes are not typed, so any ``.name`` in such a module that one end
lacks altogether is taken for PyAV's, unless the package defines an attribute of that name itself (a class member,
``self.name``, a command-line option). The av names used (``av.open``, ``av.error.FFmpegError``, ...) must also exist
in the PyAV installed here, which CI installs at both ends.
"""

from __future__ import annotations

import ast
import importlib
import json
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
from packaging.requirements import Requirement
from packaging.version import Version

try:
    import tomllib
except ImportError:  # Python 3.10: pytest brings tomli
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
#: The folders the package installs from.
SOURCES = ("realtime", "kernels", "models")
RECORD = json.loads((Path(__file__).parent / "data" / "pyav_api.json").read_text())
COMPARISONS: dict[type, Callable[[int, int], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Eq: operator.eq,
    ast.NotEq: operator.ne}


def major(version: str) -> int:
    """The major version of a release (``"19.0.2"`` -> 19)."""
    return int(version.split(".", 1)[0])


@dataclass(frozen=True)
class Guard:
    """``PYAV_MAJOR <op> value`` held (or, when not ``holds``, failed) where the use is."""

    op: Callable[[int, int], bool]
    value: int
    holds: bool

    def admits(self, version: str) -> bool:
        """Whether code under this guard runs with that PyAV release."""
        return self.op(major(version), self.value) == self.holds


@dataclass(frozen=True)
class Use:
    """One use of PyAV's API: an attribute, a keyword passed to a callable, or an av name (``av.x.y``)."""

    where: str
    kind: str  # "attribute", "function keyword", "method keyword" or "name"
    name: str
    function: str = ""  # for a keyword: the name of the function, class or method called
    guards: tuple[Guard, ...] = ()

    def at(self, version: str) -> bool:
        """Whether the code runs with this PyAV release."""
        return all(guard.admits(version) for guard in self.guards)


class Uses(ast.NodeVisitor):
    """The uses of PyAV in one module, with the version guards around each."""

    def __init__(self, tree: ast.Module, where: str) -> None:
        self.where = where
        self.aliases = aliases(tree)
        self.guards: tuple[Guard, ...] = ()
        self.found: list[Use] = []
        if self.aliases:
            self.visit(tree)

    def add(self, node: ast.AST, kind: str, name: str, function: str = "") -> None:
        self.found.append(Use(f"{self.where}:{node.lineno}", kind, name, function, self.guards))

    def visit_If(self, node: ast.If | ast.IfExp) -> None:
        guard = version_guard(node.test)
        if guard is None:
            self.generic_visit(node)
            return
        self.visit(node.test)
        outer = self.guards
        for holds, branch in ((True, node.body), (False, node.orelse)):
            self.guards = (*outer, Guard(guard[0], guard[1], holds))
            for child in branch if isinstance(branch, list) else [branch]:
                self.visit(child)
        self.guards = outer

    visit_IfExp = visit_If

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and node.module.split(".")[0] == "av":
            for alias in node.names:
                self.add(node, "name", f"{node.module}.{alias.name}")
                for part in [*node.module.split(".")[1:], alias.name]:
                    self.add(node, "attribute", part)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.add(node, "attribute", node.attr)
        dotted = self.av_name(node)
        if dotted:
            self.add(node, "name", dotted)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        keywords = [keyword.arg for keyword in node.keywords if keyword.arg]
        dotted = self.av_name(node.func)
        for keyword in keywords:
            if dotted:
                self.add(node, "function keyword", keyword, dotted.rsplit(".", 1)[-1])
            elif isinstance(node.func, ast.Attribute):
                self.add(node, "method keyword", keyword, node.func.attr)
        self.generic_visit(node)

    def av_name(self, node: ast.expr) -> str | None:
        """``av.x.y`` for an expression that names something in PyAV through the module's imports."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.insert(0, node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in self.aliases:
            return ".".join([self.aliases[node.id], *parts])
        return None


def aliases(tree: ast.Module) -> dict[str, str]:
    """The names a module binds to PyAV, each with what it stands for (``{"SideDataType": "av.sidedata..."}``)."""
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "av":
                    bound[alias.asname or "av"] = alias.name if alias.asname else "av"
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "av":
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def version_guard(test: ast.expr) -> tuple[Callable[[int, int], bool], int] | None:
    """``(operator, N)`` for a test ``PYAV_MAJOR <op> N``."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in COMPARISONS):
        return None
    left, right = test.left, test.comparators[0]
    name = left.id if isinstance(left, ast.Name) else left.attr if isinstance(left, ast.Attribute) else None
    if name == "PYAV_MAJOR" and isinstance(right, ast.Constant) and isinstance(right.value, int):
        return COMPARISONS[type(test.ops[0])], right.value
    return None


def uses_in(source: str, where: str) -> list[Use]:
    return Uses(ast.parse(source), where).found


def package_sources() -> Iterator[tuple[str, str]]:
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield str(path.relative_to(ROOT)), path.read_text()


def package_uses() -> Iterator[Use]:
    for where, source in package_sources():
        yield from uses_in(source, where)


def own_attributes(source: str) -> set[str]:
    """The attribute names a module defines: its classes' members, ``self.name = ...``, and ``--option`` dests."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(item.name)
                targets = item.targets if isinstance(item, ast.Assign) else [getattr(item, "target", None)]
                names.update(target.id for target in targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(target.attr for target in targets if isinstance(target, ast.Attribute)
                         and isinstance(target.value, ast.Name) and target.value.id == "self")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument":
            names.update(arg.value.lstrip("-").replace("-", "_") for arg in node.args
                         if isinstance(arg, ast.Constant) and str(arg.value).startswith("--"))
            names.update(keyword.value.value for keyword in node.keywords
                         if keyword.arg == "dest" and isinstance(keyword.value, ast.Constant))
    return names


#: The attribute names the package itself defines: a ``.name`` among them is taken for the package's own.
OWN = set().union(*(own_attributes(source) for _, source in package_sources()))


def problems(uses: list[Use], record: dict = RECORD, own: set[str] = OWN) -> list[str]:
    """What the uses need that an end of the range lacks."""
    found = []
    for use in uses:
        for end in record["ends"]:
            if not use.at(end):
                continue
            if use.kind == "attribute" and use.name in record["missing"][end] and use.name not in own:
                found.append(f"{use.where}: .{use.name} is missing from PyAV {end}")
            elif use.kind.endswith("keyword"):
                table = record["functions" if use.kind == "function keyword" else "methods"]
                accepted = [params[end] for name, params in table.items() if name.rsplit(".", 1)[-1] == use.function]
                if accepted and not any(use.name in params or "**" in params for params in accepted):
                    found.append(f"{use.where}: {use.function}({use.name}=...) is not accepted by PyAV {end}")
    return found


def resolves(dotted: str) -> bool:
    """Whether ``av.x.y`` names something in the PyAV installed here."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            if not hasattr(found, part):
                return False
            found = getattr(found, part)
        return True
    return False


def test_the_package_uses_only_pyav_api_that_both_ends_have() -> None:
    uses = list(package_uses())
    assert any(use.kind == "function keyword" and use.function == "open" for use in uses)  # the check sees av.open
    assert problems(uses) == []


def test_the_av_names_the_package_uses_exist_in_the_installed_pyav() -> None:
    names = {use.name for use in package_uses() if use.kind == "name" and use.at(av.__version__)}
    assert "av.error.FFmpegError" in names
    assert [name for name in sorted(names) if not resolves(name)] == []


def test_the_record_is_of_the_ends_of_the_range() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (requirement,) = [Requirement(text) for text in dependencies if Requirement(text).name == "av"]
    oldest, newest = RECORD["ends"]
    assert oldest in requirement.specifier and newest in requirement.specifier
    assert [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="] == [Version(oldest)]


def test_a_keyword_or_attribute_one_end_lacks_is_caught_unless_guarded() -> None:
    opening = "import av\n\ndef read(path):\n    return av.open(path, metadata_errors='replace')\n"
    assert problems(uses_in(opening, "reader.py")) == [
        "reader.py:4: open(metadata_errors=...) is not accepted by PyAV 19.0.2"]
    guarded = ("import av\nfrom framestyle.media.container import PYAV_MAJOR\n\ndef read(path):\n"
               "    if PYAV_MAJOR < 19:\n        return av.open(path, metadata_errors='replace')\n"
               "    return av.open(path)\n")
    assert problems(uses_in(guarded, "reader.py")) == []
    rotating = "import av\n\ndef rotate(stream):\n    stream.set_display_rotation(90)\n"
    assert problems(uses_in(rotating, "writer.py")) == [
        "writer.py:4: .set_display_rotation is missing from PyAV 15.0.0"]
    assert problems(uses_in(rotating.replace("import av\n", ""), "other.py")) == []  # a module without PyAV
