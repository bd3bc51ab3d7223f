"""The HTTP API's schema stays what clients know: every operation and component schema of
the reference (`tests/data/openapi_reference.json`, dumped from the app before the single
composition root of issue 15) is still there, unchanged; new ones may be added."""

from __future__ import annotations

import json
from pathlib import Path

from channels.app import create_app
from tests.conftest import make_settings

REFERENCE = Path(__file__).parent / "data" / "openapi_reference.json"


def test_the_openapi_schema_is_the_reference_or_a_superset(tmp_path: Path) -> None:
    reference = json.loads(REFERENCE.read_text())
    app = create_app(make_settings(tmp_path / "data"), warm_up=False)
    # Through JSON like the reference, so that tuples and lists compare alike.
    schema = json.loads(json.dumps(app.openapi()))
    for path, operations in reference["paths"].items():
        assert path in schema["paths"], f"{path} is gone"
        for method, operation in operations.items():
            assert schema["paths"][path].get(method) == operation, f"{method} {path} changed"
    for kind, entries in reference.get("components", {}).items():
        for name, entry in entries.items():
            assert schema["components"][kind].get(name) == entry, f"{kind} {name} changed"
    assert schema["info"] == reference["info"]
