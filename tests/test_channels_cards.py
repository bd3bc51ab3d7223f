"""Persona cards (Character Card V2): export -> import -> export, secrets, bad inputs, the API
route's auth. Real SQLite, MiniLM and Chroma; no chat model."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from channels.card_import import (
    MAX_CARD_BYTES,
    CardError,
    card_persona,
    import_persona,
    parse_examples,
    read_card_file,
)
from channels.card_png import card_to_png
from channels.cards import build_card
from channels.cli.card import card_app
from channels.deps import new_api_token
from ingest.sources import RawPost, to_record
from persona.store import Creator
from tests.conftest import make_settings
from tests.console_support import add_account, build_app, sign_in

CREATOR = "mia"
REPLIES = [
    ("your crepe recipe is the best", "aww merci!! the secret is a pinch of salt 💛"),
    ("what pan do you use?", "an old cast iron one, heavy but perfect"),
    ("tu fais un live ce soir ?", "oui à 18h, on fait des crêpes !"),
    ("any tips for fluffy pancakes?", "rest the batter for 30 min, trust me"),
    ("I burnt mine again", "happens to all of us haha, lower the heat a bit"),
]
POSTS = ["Sunday live at 6pm, bring your toppings 🥞", "New video: three pasta sauces"]
GREETING = "Hey, it's Mia's AI double! Ask me about crêpes 🥞"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = build_app(make_settings(tmp_path_factory.mktemp("cards") / "data"), avatar=False)
    with TestClient(app) as test_client:
        services = app.state.services
        raws = [RawPost(line=i, text=t, reply_to_text=f) for i, (f, t) in enumerate(REPLIES)]
        raws += [RawPost(line=99 + i, text=t) for i, t in enumerate(POSTS)]
        records = [to_record(r, creator_id=CREATOR) for r in raws]
        services.ingestor().ingest_records(records, source="test", display_names={CREATOR: "Mia"})
        with services.db.session() as session:
            creator = session.get(Creator, CREATOR)
            creator.settings = {
                "greeting": GREETING,
                "forbidden_topics": ["politics"],
                "no_answer_messages": {"en": "Not something I post about!"},
                "paused": False,
            }
            session.add(Creator(id="other", display_name="Other", settings={}))
        yield test_client


def examples_of(card: dict) -> set[tuple[str | None, str]]:
    return {(e.fan, e.reply) for e in parse_examples(card["data"]["mes_example"])}


def test_export_import_export_keeps_name_greeting_examples_and_boundaries(client, tmp_path):
    services = client.app.state.services
    card = build_card(services.db, CREATOR)
    data = card["data"]
    assert card["spec"] == "chara_card_v2" and card["spec_version"] == "2.0"
    assert data["name"] == "Mia" and data["first_mes"] == GREETING
    assert "How Mia writes:" in data["description"] and "AI double" in data["scenario"]
    assert "Never discuss: politics." in data["system_prompt"]
    assert "You are the AI double" in data["system_prompt"]
    assert ("what pan do you use?", "an old cast iron one, heavy but perfect") in examples_of(card)
    assert data["extensions"]["persona_platform"]["settings"]["forbidden_topics"] == ["politics"]

    path = tmp_path / "mia.card.json"
    path.write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")
    result = import_persona(services, card_persona(read_card_file(path)), "mia-copy", path.name)
    assert result.posts_added == len(examples_of(card)) and result.has_profile
    assert services.index.count("mia-copy") > 0  # the real ingest path built its index
    again = build_card(services.db, "mia-copy")
    assert again["data"]["name"] == data["name"]
    assert again["data"]["first_mes"] == data["first_mes"]
    assert examples_of(again) == examples_of(card)
    assert again["data"]["system_prompt"] == data["system_prompt"]
    with services.db.session() as session:
        settings = session.get(Creator, "mia-copy").settings
    assert settings["forbidden_topics"] == ["politics"] and "paused" not in settings
    with pytest.raises(FileExistsError):
        import_persona(services, card_persona(card), "mia-copy", path.name)


def test_the_card_never_carries_the_token_hash(client):
    services = client.app.state.services
    new_api_token(services, CREATOR)
    with services.db.session() as session:
        creator = session.get(Creator, CREATOR)
        token_hash = creator.api_token_sha256
        creator.settings = {**creator.settings, "console_password": "hunter2-long"}
    text = json.dumps(build_card(services.db, CREATOR))
    assert token_hash not in text and "api_token" not in text
    assert "hunter2" not in text and "password" not in text
    # and a card cannot smuggle one in
    card = build_card(services.db, CREATOR)
    card["data"]["extensions"]["persona_platform"]["settings"]["api_token_sha256"] = "x" * 64
    with pytest.raises(CardError, match="unknown key"):
        card_persona(card)


def test_the_card_route_needs_the_creators_token(client):
    services = client.app.state.services
    assert client.get(f"/api/creators/{CREATOR}/card").status_code == 401
    token = new_api_token(services, CREATOR)
    other = new_api_token(services, "other")
    denied = client.get(
        f"/api/creators/{CREATOR}/card", headers={"Authorization": f"Bearer {other}"}
    )
    assert denied.status_code == 403
    ok = client.get(f"/api/creators/{CREATOR}/card", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200, ok.text
    assert ok.headers["content-disposition"] == 'attachment; filename="mia.card.json"'
    assert ok.json()["data"]["name"] == "Mia"


def test_png_card_round_trip(client, tmp_path):
    card = build_card(client.app.state.services.db, CREATOR)
    path = tmp_path / "mia.png"
    path.write_bytes(card_to_png(card))
    assert read_card_file(path) == card
    from PIL import Image

    with Image.open(path) as image:  # still a picture any viewer opens
        assert image.size == (400, 600)


def test_v1_card_is_upgraded():
    persona = card_persona(
        {
            "name": "Old Bot",
            "description": "a V1 card",
            "first_mes": "hello!",
            "mes_example": "<START>\n<USER>: hi\n<BOT>: hey you!\nhow are you?\n"
            "<START>\n{{char}}: just a post",
        }
    )
    assert persona.upgraded_from_v1 and persona.name == "Old Bot" and persona.greeting == "hello!"
    assert [(e.fan, e.reply) for e in persona.examples] == [
        ("hi", "hey you!\nhow are you?"),
        (None, "just a post"),
    ]


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"spec": "chara_card_v3", "data": {"name": "x"}}, "spec"),
        ({"spec": "chara_card_v2", "spec_version": "2.0"}, "data"),
        ({"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": " "}}, "data.name"),
        ({"spec": "chara_card_v2", "data": {"name": "x", "first_mes": 3}}, "data.first_mes"),
        ({"spec": "chara_card_v2", "data": {"name": "x", "tags": "a,b"}}, "data.tags"),
        (
            {
                "spec": "chara_card_v2",
                "data": {
                    "name": "x",
                    "extensions": {"persona_platform": {"settings": {"forbidden_topics": "a"}}},
                },
            },
            "data.extensions.persona_platform.settings",
        ),
        (
            {
                "spec": "chara_card_v2",
                "data": {
                    "name": "x",
                    "extensions": {
                        "persona_platform": {"settings": {"forbidden_topics": ["a"] * 101}}
                    },
                },
            },
            "data.extensions.persona_platform.settings.forbidden_topics",
        ),
        ({"description": "no name, no spec"}, "spec"),
    ],
)
def test_invalid_cards_say_which_field(document, where):
    with pytest.raises(CardError) as caught:
        card_persona(document, "card.json")
    assert caught.value.where == where
    assert str(caught.value).startswith("card.json: ")


def test_malformed_and_oversized_files(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"spec": "chara_card_v2",\n "data": {"name": }}')
    with pytest.raises(CardError, match=r"line 2, column 19"):
        read_card_file(broken)
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_CARD_BYTES + 1))
    with pytest.raises(CardError, match="at most 1 MB") as caught:
        read_card_file(big)
    assert caught.value.where == "file"
    not_card = tmp_path / "photo.png"
    not_card.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x00IEND\xaeB`\x82")
    with pytest.raises(CardError, match="not a character card"):
        read_card_file(not_card)


def test_cli_import_refuses_a_bad_card_and_writes_nothing(tmp_path):
    path = tmp_path / "v3.json"
    path.write_text(json.dumps({"spec": "chara_card_v3", "data": {"name": "x"}}))
    env = {"PERSONA_DATA_DIR": str(tmp_path / "data"), "PERSONA_LOG_LEVEL": "WARNING"}
    result = CliRunner().invoke(card_app, ["import", str(path), "--creator", "x"], env=env)
    assert result.exit_code == 1
    said = " ".join(result.output.split())  # rich wraps lines to the terminal's width
    assert "spec: is 'chara_card_v3'" in said and "Nothing was written" in said
    assert not (tmp_path / "data").exists()


def test_console_settings_page_links_to_the_card(client):
    add_account(client.app.state.services.db, CREATOR, "Mia")
    browser = TestClient(client.app, base_url="http://console.test")  # its own cookies
    sign_in(browser, CREATOR)
    page = browser.get("/console/settings")
    assert 'href="/api/creators/mia/card"' in page.text and "Export persona card" in page.text
    card = browser.get("/api/creators/mia/card")
    assert card.status_code == 200 and card.json()["data"]["name"] == "Mia"
    assert browser.get("/api/creators/other/card").status_code == 403


def test_a_cards_greeting_macros_become_the_creators_name() -> None:
    from channels.card_import import fill_macros

    assert fill_macros("Hi {{user}}! I'm {{char}}'s AI double.", "Mia") == (
        "Hi! I'm Mia's AI double."
    )
    assert fill_macros("<BOT> says hello to <USER>", "Mia") == "Mia says hello to"
