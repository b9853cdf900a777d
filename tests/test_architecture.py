"""The domain stays pure: no web framework, no SDK, no cloud client."""

import ast
import pathlib

FORBIDDEN = ("flask", "werkzeug", "fyers_apiv3", "google", "requests", "os", "app.adapters", "app.web", "app.services")


def test_domain_imports_no_framework_or_sdk():
    domain = pathlib.Path(__file__).resolve().parent.parent / "app" / "domain"
    offenders = []
    for path in domain.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {name}"
                for name in names
                if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
            ]
    assert offenders == []
