"""The house keeps its shape: no import circles, no long rooms, and a wheel that holds every room.

Read from the source with ``ast``, so the limits hold for every later change
without anyone having to remember them. Imports inside functions (which the
package uses to keep start-up lean) are edges too; imports under
``if TYPE_CHECKING:`` are not, since they never run.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "xai_oauth"
#: what a copy of the checkout leaves behind to build a wheel
NOT_SOURCE = (".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests", "bench")
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 250


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, Path]:
    found = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
    found["exports"] = ROOT / "exports.py"
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(name: str, path: Path, known: set[str], *, type_only: bool = True) -> set[str]:
    """Every module of ours that ``name`` imports, wherever in the file the import stands.

    Imports under ``if TYPE_CHECKING:`` count unless ``type_only`` is False: they never run, but a type-only
    import that closes a circle still means two modules know each other (then the shared type moves down).
    """
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    edges: set[str] = set()

    def resolve(base: str, names: list[str]) -> None:
        for alias in names:
            candidate = f"{base}.{alias}" if base else alias
            if candidate in known:
                edges.add(candidate)
            elif base in known:
                edges.add(base)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test) and not type_only:
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                for end in range(len(parts), 0, -1):  # `import a.b.c` runs a, a.b and a.b.c
                    if ".".join(parts[:end]) in known:
                        edges.add(".".join(parts[:end]))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            resolve(base, [alias.name for alias in node.names])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    edges.discard(name)
    return edges


def import_graph(*, type_only: bool = True) -> dict[str, set[str]]:
    found = sources()
    known = set(found)
    graph = {name: imported_modules(name, path, known, type_only=type_only) for name, path in found.items()}
    # A package's __init__ runs before any of its modules: importing a.b imports a too.
    for name in list(graph):
        parent = name.rpartition(".")[0]
        if parent in graph:
            graph[name].discard(parent)  # the parent's own imports are its edges, not the child's
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_import_graph_has_no_circle() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    """The check above can fail: a planted circle through a function-level import is found."""
    graph = import_graph()
    graph["xai_oauth._exceptions"] = {*graph["xai_oauth._exceptions"], "exports"}
    assert any("exports" in circle for circle in cycles(graph))


def test_imports_inside_functions_and_under_type_checking_count(tmp_path: Path) -> None:
    planted = tmp_path / "xai_oauth" / "_planted.py"
    planted.parent.mkdir()
    planted.write_text(
        "TYPE_CHECKING = False\nif TYPE_CHECKING:\n    from .api._client import Client\n"
        "def later():\n    from .auth import _account\n    from .transport._http import Http\n"
    )
    known = {"xai_oauth", "xai_oauth.api._client", "xai_oauth.auth._account", "xai_oauth.transport._http"}
    runs = {"xai_oauth.auth._account", "xai_oauth.transport._http"}
    assert imported_modules("xai_oauth._planted", planted, known, type_only=False) == runs
    assert imported_modules("xai_oauth._planted", planted, known) == {*runs, "xai_oauth.api._client"}


#: The house from the ground up: a room (a folder directly in the package, or a module directly in it) may import
#: only rooms below it. The shared leaves stand lowest; ``store`` is the first folder (the settings read files
#: through it); the faces (the package's lazy public names, ``exports``, the command) stand on top, the emulator
#: beside them; a ``__main__`` is an entry point nothing imports.
FLOORS = (
    "_version",
    "_numbers",
    "_redact",
    "_tiers",
    "_exceptions",
    "_models",
    "_routes",
    "store",
    "_settings",
    "_config",
    "wire",
    "transport",
    "auth",
    "api",
    "xai_oauth",
    "server",
    "emulator",
    "exports",
    "cli",
    "__main__",
    "emulator.__main__",
)
MAX_FLOORS = 12
MAX_TOP_MODULES = 15


def room_of(module: str) -> str:
    """The room a module stands in: its folder under the package, or itself when it stands in the package."""
    parts = module.split(".")
    if parts[0] != "xai_oauth" or len(parts) == 1:
        return module
    if parts[-1] == "__main__":
        return ".".join(parts[1:])
    return parts[1]


def room_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    rooms: dict[str, set[str]] = {}
    for module, imported in graph.items():
        here = room_of(module)
        rooms.setdefault(here, set()).update(room_of(other) for other in imported if room_of(other) != here)
    return rooms


def floors(rooms: dict[str, set[str]]) -> int:
    """The longest chain of imports between rooms, counted in rooms (the graph has no circle)."""
    depth: dict[str, int] = {}

    def of(room: str) -> int:
        if room not in depth:
            depth[room] = 1 + max((of(below) for below in rooms.get(room, ())), default=0)
        return depth[room]

    return max(of(room) for room in rooms)


def test_no_circle_between_rooms_and_each_imports_only_rooms_below_it() -> None:
    rooms = room_graph(import_graph())
    assert cycles(rooms) == []
    assert set(rooms) <= set(FLOORS), f"rooms with no floor yet: {sorted(set(rooms) - set(FLOORS))}"
    upward = {
        f"{room} -> {other}"
        for room, imported in rooms.items()
        for other in imported
        if FLOORS.index(other) > FLOORS.index(room)
    }
    assert upward == set(), "a room imports one above it: move the shared piece down"


def test_the_house_has_few_floors_and_few_rooms_in_the_hall() -> None:
    rooms = room_graph(import_graph())
    assert floors(rooms) <= MAX_FLOORS
    top = [path for path in PACKAGE.glob("*.py")]
    assert len(top) <= MAX_TOP_MODULES, sorted(path.name for path in top)


def test_the_room_checks_can_fail() -> None:
    """A planted upward import is found, and so is a room with no floor."""
    graph = import_graph()
    graph["xai_oauth.store._files"] = {*graph["xai_oauth.store._files"], "xai_oauth.auth._session"}
    rooms = room_graph(graph)
    assert any(other == "auth" for other in rooms["store"])
    assert FLOORS.index("auth") > FLOORS.index("store")
    chain = {"a": {"b"}, "b": {"c"}, "c": set()}
    assert floors(chain) == 3


def test_no_module_is_a_long_room() -> None:
    long = {name: n for name, path in sources().items() if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}, f"modules over {MAX_MODULE_LINES} lines: split them along their seams"


def test_no_class_is_a_long_room() -> None:
    long = {}
    for name, path in sources().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if (size := node.end_lineno - start + 1) > MAX_CLASS_LINES:
                    long[f"{name}.{node.name}"] = size
    assert long == {}, f"classes over {MAX_CLASS_LINES} lines"


def test_every_module_says_which_question_it_answers() -> None:
    missing = [name for name, path in sources().items() if not ast.get_docstring(ast.parse(path.read_text()))]
    assert missing == []


def test_httpx2_is_imported_in_exactly_one_module() -> None:
    importers = set()
    for name, path in sources().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "httpx2" for a in node.names):
                importers.add(name)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "httpx2":
                importers.add(name)
    assert importers == {"xai_oauth.transport._http"}


@pytest.mark.slow
def test_a_plain_install_holds_and_imports_every_module(tmp_path: Path) -> None:
    """A wheel (not an editable install, which hides a package missing from pyproject) has every module of the
    source tree, and each one imports from a fresh venv with the checkout off ``sys.path``."""
    # Built from a copy: pip builds a folder in place, and its build/ and egg-info in the checkout would be in
    # the way of tests that copy the checkout alongside. setuptools is the lock's (no build isolation: no network).
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet"]
        + ["--disable-pip-version-check", "--wheel-dir", str(tmp_path / "wheels"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if built.returncode != 0 and "Could not find a version" in built.stderr + built.stdout:
        pytest.skip(f"no build backend can be had here: {built.stderr[-300:]}")
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "wheels").glob("xai_oauth-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    in_wheel = {module_name(ROOT / name) for name in names if name.endswith(".py")}
    assert set(sources()) <= in_wheel, sorted(set(sources()) - in_wheel)
    pages = {p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*") if p.suffix in (".html", ".css", ".js")}
    assert pages and pages <= set(names), sorted(pages - set(names))  # the console's templates and static files

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    target = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True
    ).stdout.strip()
    with zipfile.ZipFile(wheel) as archive:  # what pip does for a pure wheel, without its network or cache
        archive.extractall(target)
    # The dependencies come from this test's own environment; its editable hook (a .pth) is not read from
    # PYTHONPATH, so the only xai_oauth the fresh interpreter can find is the wheel's.
    env = {**os.environ, "PYTHONPATH": sysconfig.get_path("purelib")}
    code = (
        "import importlib, json, sys\n"
        f"names = {sorted(name for name in sources() if not name.endswith('__main__'))!r}\n"
        "for name in names: importlib.import_module(name)\n"
        "from xai_oauth.server.console import Console\n"
        "assert Console().templates.get_template('overview.html') and Console().files\n"
        "import xai_oauth\n"
        "print(xai_oauth.__file__)\n"
    )
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().startswith(target), done.stdout
