"""The package layout rules, read from the source: one Keras boundary, imports downhill."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dynalyze"

#: Packages allowed to import keras / tensorflow: the one boundary.
KERAS_USERS = ("dynalyze.keras",)


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    """Every imported module name (absolute), at any depth of the file, with its line."""
    is_package = path.name == "__init__.py"
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            # ``from dynalyze.systems import _weights`` imports a module too.
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
    return found


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_modules_are_found() -> None:
    modules = _modules()
    assert {"dynalyze", "dynalyze.keras.autodiff", "dynalyze.classifier"} <= set(modules)


def test_only_the_keras_package_imports_keras_or_tensorflow() -> None:
    offenders = [
        f"{module}:{line} imports {name}"
        for module, path in _modules().items()
        if not any(_inside(module, allowed) for allowed in KERAS_USERS)
        for line, name in _imports(module, path)
        if name.split(".")[0] in ("keras", "tensorflow")
    ]
    assert offenders == []


def test_the_rule_catches_a_keras_import(tmp_path: Path) -> None:
    fake = tmp_path / "dynalyze" / "analyses" / "bad.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("def f():\n    import tensorflow as tf\n    from keras import ops\n")
    names = [name for _, name in _imports("dynalyze.analyses.bad", fake)]
    assert "tensorflow" in names and "keras" in names


def _imports_of(modules: dict[str, Path], package: str, forbidden: str) -> list[str]:
    """Imports of ``forbidden`` (or anything in it) by modules of ``package``, at any depth."""
    return [
        f"{module}:{line} imports {name}"
        for module, path in modules.items()
        if _inside(module, package)
        for line, name in _imports(module, path)
        if _inside(name, forbidden)
    ]


def test_systems_never_import_the_keras_package() -> None:
    """Systems are NumPy maps; building them from Keras objects is the Keras package's job."""
    assert _imports_of(_modules(), "dynalyze.systems", "dynalyze.keras") == []


def test_the_rule_catches_an_import_of_the_keras_package(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from dynalyze import keras\n"
        "def jacobians():\n"
        "    from dynalyze.keras.autodiff import tape_functions\n"
        "    import dynalyze.keras.registry\n"
    )
    modules = {"dynalyze.systems.bad": bad, "dynalyze.analyses.fine": bad}
    assert _imports_of(modules, "dynalyze.systems", "dynalyze.keras") == [
        "dynalyze.systems.bad:1 imports dynalyze.keras",
        "dynalyze.systems.bad:3 imports dynalyze.keras.autodiff",
        "dynalyze.systems.bad:3 imports dynalyze.keras.autodiff.tape_functions",
        "dynalyze.systems.bad:4 imports dynalyze.keras.registry",
    ]


def _private_imports(modules: dict[str, Path]) -> list[str]:
    offenders = []
    for module, path in modules.items():
        if any(part.startswith("_") for part in module.split(".")):
            continue  # private modules may use their neighbours' internals
        for line, name in _imports(module, path):
            parts = name.split(".")
            if parts[0] != "dynalyze" or name not in modules:
                continue
            private = [i for i, part in enumerate(parts) if part.startswith("_")]
            if not private:
                continue
            owner = ".".join(parts[: private[0]])  # the package holding the private part
            if not _inside(module, owner):
                offenders.append(f"{module}:{line} imports {name}")
    return offenders


def test_no_public_module_imports_a_private_module_of_another_package() -> None:
    assert _private_imports(_modules()) == []


def test_the_rule_catches_a_private_import(tmp_path: Path) -> None:
    bad = tmp_path / "checks.py"
    bad.write_text("from dynalyze.keras import _introspect\nfrom dynalyze._atomic import x\n")
    modules = {
        "dynalyze.testing.checks": bad,
        "dynalyze.keras._introspect": bad,
        "dynalyze._atomic": bad,
    }
    assert _private_imports(modules) == [
        "dynalyze.testing.checks:1 imports dynalyze.keras._introspect"
    ]


@pytest.mark.parametrize("module", ["dynalyze", "dynalyze.keras", "dynalyze.sentiment"])
def test_importing_does_not_import_tensorflow(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _public_definitions() -> list[tuple[str, object]]:
    """Functions and classes listed in ``__all__`` of a public module that defines them."""
    import importlib
    import inspect
    import pkgutil

    import dynalyze

    found = []
    for info in pkgutil.walk_packages(dynalyze.__path__, "dynalyze."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and (
                getattr(obj, "__module__", None) == info.name
            ):
                found.append((f"{info.name}.{name}", obj))
    return found


def test_every_public_function_and_class_has_an_example() -> None:
    import inspect

    definitions = _public_definitions()
    assert len(definitions) > 150  # the walk found the package
    missing = []
    for name, obj in definitions:
        doc = inspect.getdoc(obj) or ""
        _, found, examples = doc.partition("Examples\n--------\n")
        if not found or ">>> " not in examples:  # a header with runnable doctest lines
            missing.append(name)
    assert missing == []
