"""The console's Connectors page without a browser (the app in process): a connector is
stored for the signed-in creator only, shown with its status, refused with the reason beside
the field, never changed without the session's CSRF token, and disconnected. In a browser
against real chat servers: test_channels_connectors_console_browser.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from channels.connectors.store import creator_specs
from ingest.demo import DEMO_CREATOR_ID
from tests.conftest import make_settings
from tests.console_support import add_account, build_app, sign_in
from tests.irc_server import free_port

OTHER = "bruno.bakes"


@pytest.fixture
def client(demo_dir: Path) -> Iterator[TestClient]:
    settings = make_settings(demo_dir, connector_poll_s=0.2)
    app = build_app(settings, avatar=False)
    with TestClient(app, base_url="http://console.test") as test_client:
        db = test_client.app.state.services.db
        add_account(db, DEMO_CREATOR_ID)
        add_account(db, OTHER, "Bruno")
        yield test_client


def twitch_form(csrf: str, **values: str) -> dict[str, str]:
    # A closed port on loopback: the connector keeps trying without reaching any network.
    return {
        "csrf_token": csrf,
        "kind": "twitch",
        "channel": "#camille",
        "nick": "camille_bot",
        "stream_id": "twitch",
        "server": "127.0.0.1",
        "port": str(free_port()),
        **values,
    }


def test_connect_show_refuse_and_disconnect(client: TestClient) -> None:
    csrf = sign_in(client, DEMO_CREATOR_ID)
    page = client.get("/console/connectors")
    assert page.status_code == 200 and 'id="no-connectors"' in page.text
    assert 'href="/console/connectors" aria-current="page"' in page.text

    refused = client.post("/console/connectors", data=twitch_form(csrf, port="99999"))
    assert refused.status_code == 422 and 'id="err-port"' in refused.text
    assert "99999" in refused.text  # what was typed stays in the form
    no_token = client.post("/console/connectors", data=twitch_form(""), follow_redirects=False)
    assert no_token.status_code == 403
    assert creator_specs(client.app.state.services.db, DEMO_CREATOR_ID) == []

    stored = client.post("/console/connectors", data=twitch_form(csrf), follow_redirects=False)
    assert stored.status_code == 303 and stored.headers["location"].endswith("notice=connected")
    page = client.get("/console/connectors?notice=connected")
    assert "connects within a second" in page.text
    assert 'id="connector-twitch--camille"' in page.text
    # The test server has no token for the bot: the page says what that means.
    assert "no token for camille_bot" in page.text
    fragment = client.get("/console/connectors/fragment")
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="connector-twitch--camille"' in fragment.text

    # Another creator sees none of it, and cannot disconnect it.
    # (Not entered: a second lifespan of the same app would stop its services at exit.)
    other = TestClient(client.app, base_url="http://console.test")
    other_csrf = sign_in(other, OTHER)
    assert 'id="no-connectors"' in other.get("/console/connectors").text
    other.post(
        "/console/connectors/disconnect",
        data={"csrf_token": other_csrf, "connector_id": "twitch:#camille"},
    )
    assert len(creator_specs(client.app.state.services.db, DEMO_CREATOR_ID)) == 1

    gone = client.post(
        "/console/connectors/disconnect",
        data={"csrf_token": csrf, "connector_id": "twitch:#camille"},
        follow_redirects=False,
    )
    assert gone.status_code == 303 and gone.headers["location"].endswith("notice=disconnected")
    assert creator_specs(client.app.state.services.db, DEMO_CREATOR_ID) == []
    assert 'id="no-connectors"' in client.get("/console/connectors").text


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/console/connectors", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login")


def test_connect_a_youtube_live_chat(client: TestClient) -> None:
    csrf = sign_in(client, DEMO_CREATOR_ID)
    page = client.get("/console/connectors")
    assert 'id="connect-youtube"' in page.text and "www.googleapis.com" in page.text
    form = {
        "csrf_token": csrf,
        "kind": "youtube",
        "live_chat_id": "Cg0KC2xpdmVjaGF0",
        "stream_id": "",  # left empty: the spec's default
        "account": "",
        # A closed port on loopback: nothing reaches a network (no token: it does not poll).
        "api_base": f"http://127.0.0.1:{free_port()}",
    }
    refused = client.post("/console/connectors", data={**form, "live_chat_id": "has spaces"})
    assert refused.status_code == 422 and 'id="err-live_chat_id"' in refused.text
    stored = client.post("/console/connectors", data=form, follow_redirects=False)
    assert stored.status_code == 303
    [spec] = creator_specs(client.app.state.services.db, DEMO_CREATOR_ID)
    assert spec.id == "youtube:Cg0KC2xpdmVjaGF0" and spec.stream_id == "youtube"
    page = client.get("/console/connectors")
    assert 'id="connector-youtube-Cg0KC2xpdmVjaGF0"' in page.text
    assert f"no YouTube token for {DEMO_CREATOR_ID}" in page.text
