"""Dependencies point inward: the domain is pure, services know no technology, adapters know no use case."""

import ast
import pathlib

APP = pathlib.Path(__file__).resolve().parent.parent / "app"

DOMAIN_FORBIDDEN = (
    "flask", "werkzeug", "fyers_apiv3", "google", "requests", "os", "app.adapters", "app.web", "app.services",
)
SERVICES_FORBIDDEN = ("app.adapters", "app.web", "flask", "werkzeug")
ADAPTERS_FORBIDDEN = ("app.services", "app.web")


def imported_names(path: pathlib.Path, package: str) -> list[str]:
    """Every module `path` imports, at the top or inside a function, relative imports made absolute."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            names += [module] if node.module else [f"{module}.{alias.name}" for alias in node.names]
    return names


def forbidden_imports(folder: pathlib.Path, package: str, forbidden: tuple[str, ...]) -> list[str]:
    """`file: module` for each import under `folder` (the package `package`) of a forbidden module."""
    offenders = []
    for path in sorted(folder.rglob("*.py")):
        for name in imported_names(path, package):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                offenders.append(f"{path.relative_to(folder)}: {name}")
    return offenders


def test_domain_imports_no_framework_or_sdk():
    assert forbidden_imports(APP / "domain", "app.domain", DOMAIN_FORBIDDEN) == []


def test_services_import_no_adapter_web_or_flask():
    assert forbidden_imports(APP / "services", "app.services", SERVICES_FORBIDDEN) == []


def test_adapters_import_no_service_or_web():
    assert forbidden_imports(APP / "adapters", "app.adapters", ADAPTERS_FORBIDDEN) == []


def test_the_check_finds_a_forbidden_import_wherever_it_hides(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text(
        "from app.domain.orders import Side\n"
        "from app.adapters.paper_broker import PaperBroker\n"
        "def lazy():\n"
        "    import flask\n"
        "    from ..web import webhook\n"
        "    from .. import adapters\n"
    )
    assert forbidden_imports(tmp_path, "app.services", SERVICES_FORBIDDEN) == [
        "planted.py: app.adapters.paper_broker",
        "planted.py: flask",
        "planted.py: app.web",
        "planted.py: app.adapters",
    ]
    assert forbidden_imports(tmp_path, "app.services", ("app.services",)) == []
