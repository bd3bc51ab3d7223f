"""The typed creator settings (`persona.settings.CreatorSettings`): the defaults are what every
reader's `settings.get(key, default)` gave before the model, what is stored survives a round
trip (unknown keys included), and the writers never store a default on the creator's behalf."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from persona.safety import Boundaries
from persona.safety.boundaries import DEFAULT_NO_ANSWER
from persona.safety.replies import no_answer_text
from persona.settings import (
    POLICY_MODELS,
    CreatorSettings,
    DMPolicy,
    LivePolicy,
    PolicyChannel,
)

# What each reader computed from a creator who never set the key (an empty `Creator.settings`),
# written as the readers wrote it before the typed model.
OLD: dict[str, Any] = {}
OLD_DEFAULTS = {
    "paused": bool(OLD.get("paused")),
    "forbidden_topics": OLD.get("forbidden_topics") or [],
    "forbidden_statements": OLD.get("forbidden_statements") or [],
    "allowed_commitments": OLD.get("allowed_commitments") or [],
    "allowed_link_domains": OLD.get("allowed_link_domains") or [],
    "topic_keywords": dict(OLD.get("topic_keywords") or {}),
    "no_answer_messages": dict(OLD.get("no_answer_messages") or {}),
    "no_answer_message": str(OLD.get("no_answer_message") or ""),
    "ai_label": str(OLD.get("ai_label") or ""),
    "label_setting": str(OLD.get("label_setting") or ""),
    "style_hint": str(OLD.get("style_hint") or ""),
    "strict_grounding": bool(OLD.get("strict_grounding", False)),
    "greeting": str(OLD.get("greeting") or ""),
    "avatar_url": str(OLD.get("avatar_url") or ""),
    "channels": dict(OLD.get("channels") or {}),
    "connectors": list(OLD.get("connectors") or []),
}


@pytest.mark.parametrize("stored", [None, {}])
def test_the_defaults_are_the_old_get_defaults(stored: dict[str, Any] | None) -> None:
    settings = CreatorSettings.from_stored(stored)
    assert {key: getattr(settings, key) for key in OLD_DEFAULTS} == OLD_DEFAULTS
    assert settings.presence.online_until is None and settings.online_until() is None
    # Every key the model knows is one of those (a new key needs its old default here).
    assert set(CreatorSettings.model_fields) == {*OLD_DEFAULTS, "presence"}
    # Nothing is stored on the creator's behalf.
    assert settings.to_stored() == {}
    # What the readers derive from the defaults did not change either.
    boundaries = Boundaries.from_settings(settings)
    assert boundaries == Boundaries.from_settings({})
    assert boundaries.no_answer_message == DEFAULT_NO_ANSWER
    assert no_answer_text(settings, "fr") == no_answer_text({}, "fr")


def test_every_channel_policy_defaults_to_its_model() -> None:
    settings = CreatorSettings()
    for channel, model in POLICY_MODELS.items():
        assert settings.policy(channel) == model()
    assert settings.policy("live").reply_delay.max_s == 0
    assert settings.policy("dm").max_chars == DMPolicy().max_chars == 400
    assert settings.policy(PolicyChannel.COMMENT).max_chars == 220
    with pytest.raises(ValueError):
        settings.policy("fax")


def test_unknown_keys_survive_a_round_trip() -> None:
    stored = {
        "paused": True,
        "forbidden_topics": ["politics"],
        "channels": {"dm": {"mode": "review"}, "future": {"whatever": [1, 2]}},
        "presence": {"online_until": "2026-12-07T10:00:00+00:00", "device": "phone"},
        "connectors": [{"kind": "twitch", "channel": "mia"}],
        "console_password": "hunter2-long",
        "someday": {"nested": [1, "two", None]},
    }
    settings = CreatorSettings.from_stored(stored)
    assert settings.to_stored() == stored
    assert CreatorSettings.from_stored(settings.to_stored()) == settings
    assert settings.model_extra == {
        "console_password": "hunter2-long",
        "someday": {"nested": [1, "two", None]},
    }
    assert settings.policy("dm").mode == "review"
    assert settings.online_until() == datetime(2026, 12, 7, 10, tzinfo=UTC)
    # A change keeps everything else, unknown keys included, and adds no default.
    changed = settings.with_changes(paused=False)
    assert changed.to_stored() == {**stored, "paused": False}
    live = LivePolicy(cadence_s=3.0)
    with_live = CreatorSettings.from_stored({"x": 1}).with_policy("live", live)
    assert with_live.to_stored() == {"x": 1, "channels": {"live": live.model_dump(mode="json")}}
    assert with_live.policy("live") == live


def test_presence_round_trip() -> None:
    now = datetime(2026, 12, 7, 10, tzinfo=UTC)
    online = CreatorSettings().with_presence(now + timedelta(seconds=60))
    assert online.to_stored() == {"presence": {"online_until": "2026-12-07T10:01:00+00:00"}}
    assert online.online_until() == now + timedelta(seconds=60)
    assert CreatorSettings().with_presence(None).online_until() is None
    # A naive time is UTC; a broken one reads as offline.
    assert (
        CreatorSettings.from_stored(
            {"presence": {"online_until": "2026-12-07T10:00:00"}}
        ).online_until()
        == now
    )
    assert (
        CreatorSettings.from_stored({"presence": {"online_until": "soon"}}).online_until() is None
    )


def test_stored_values_read_as_the_old_readers_read_them() -> None:
    settings = CreatorSettings.from_stored(
        {
            "paused": 1,
            "forbidden_topics": None,
            "topic_keywords": {"food": ("bread", 2)},
            "ai_label": None,
            "style_hint": "playful",
            "strict_grounding": "yes",
            "no_answer_message": "",
        }
    )
    assert settings.paused is True and settings.strict_grounding is True
    assert settings.forbidden_topics == [] and settings.ai_label == ""
    assert settings.topic_keywords == {"food": ["bread", "2"]}
    assert settings.style_hint == "playful" and settings.no_answer_message == ""
    assert CreatorSettings.of(settings) is settings


@pytest.mark.parametrize(
    ("stored", "key"),
    [
        ({"forbidden_topics": "politics"}, "forbidden_topics"),
        ({"allowed_commitments": ["ok", 3]}, "allowed_commitments"),
        ({"no_answer_messages": ["not", "a", "mapping"]}, "no_answer_messages"),
    ],
)
def test_malformed_boundaries_are_refused_with_the_old_message(
    stored: dict[str, Any], key: str
) -> None:
    with pytest.raises(ValueError, match=f"creator setting '{key}' must"):
        CreatorSettings.from_stored(stored)


def test_a_malformed_channel_policy_fails_only_that_channel() -> None:
    settings = CreatorSettings.from_stored({"channels": {"dm": {"max_chars": 1}}})
    with pytest.raises(ValueError, match="max_chars"):
        settings.policy("dm")
    assert settings.policy("comment").max_chars == 220


def test_a_lenient_read_keeps_a_malformed_key_as_stored() -> None:
    stored = {"forbidden_topics": "politics", "paused": True, "channels": {"dm": {"mode": "x"}}}
    with pytest.raises(ValueError, match="forbidden_topics"):
        CreatorSettings.from_stored(stored)
    settings = CreatorSettings.from_stored(stored, lenient=True)
    # Read as its default, the rest as stored; written back as it was unless changed.
    assert settings.forbidden_topics == [] and settings.paused is True
    assert settings.to_stored() == stored
    assert settings.with_changes(paused=False).to_stored() == {**stored, "paused": False}
    assert settings.with_changes(forbidden_topics=["religion"]).to_stored() == {
        **stored,
        "forbidden_topics": ["religion"],
    }
    assert "forbidden_topics" not in settings.without("forbidden_topics").to_stored()
    # A kill switch flipped over a malformed channel policy still works; that policy fails
    # alone, when read.
    with pytest.raises(ValueError, match="mode"):
        settings.policy("dm")
