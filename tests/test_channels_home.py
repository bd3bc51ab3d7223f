"""The landing page at `/` and the offline API docs (`/docs`, `/redoc` from packaged assets)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from channels.app import create_app
from ingest.demo import DEMO_CREATOR_ID, DEMO_DISPLAY_NAME
from tests.conftest import make_settings


@pytest.fixture
def client(demo_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(demo_dir), warm_up=False)) as test_client:
        yield test_client


def test_home_links_each_space_the_console_and_the_docs(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert f'href="/space/{DEMO_CREATOR_ID}"' in html and DEMO_DISPLAY_NAME in html
    for link in ("/console", "/docs", "/redoc"):
        assert f'href="{link}"' in html
    assert "persona admin create-creator" in html  # how to get a console account
    # Its stylesheet is served, and nothing inline runs on it.
    css = re.search(r'href="(/home\.css\?v=\w+)"', html)
    assert css and client.get(css.group(1)).status_code == 200
    assert "script" not in page.headers["content-security-policy"]


def test_home_names_no_secret(demo_dir: Path) -> None:
    url = f"sqlite:///{demo_dir / 'persona.db'}"
    settings = make_settings(demo_dir, database_url=url)
    with TestClient(create_app(settings, warm_up=False)) as client:
        html = client.get("/").text
    assert str(demo_dir) not in html and "SQLite" in html


def test_docs_and_redoc_load_only_local_assets(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        html = client.get(path).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets, path
        for asset in assets:
            assert asset.startswith("/"), f"{path} loads {asset} from elsewhere"
            assert client.get(asset).status_code == 200, asset
