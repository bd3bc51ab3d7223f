"""The settings page's forms <-> the creator's settings (`Creator.settings`).

The settings are read and written through the typed `persona.settings.CreatorSettings`.
Channel policies are its `ChannelPolicy` models, validated by them and stored with
`with_policy`; fields this form does not show keep their stored values. Boundaries and the
AI label are the keys the reply engine and the safety guard read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import Any

from pydantic import ValidationError

from channels.inbox.policy import (
    POLICY_MODELS,
    ChannelPolicy,
    LivePolicy,
    PolicyChannel,
)
from channels.list_limits import MAX_ITEM_CHARS, MAX_LIST_ITEMS
from persona.safety.language import guess_lang
from persona.safety.replies import no_answer_text
from persona.settings import CreatorSettings

CHANNEL_NAMES: dict[str, str] = {
    "dm": "Direct messages",
    "comment": "Comments",
    "group": "Group chats",
    "live": "Live streams",
    "space": "Interactive space",
}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_NO_ANSWER_CHARS = 300
# The languages the page offers a no-answer text in (add one here to show its field); fans
# writing in another language get the built-in text for theirs (persona.safety.replies).
NO_ANSWER_LANGS: tuple[tuple[str, str], ...] = (("en", "English"), ("fr", "French"))
MAX_LABEL_CHARS = 200
# Tone of the ready-made replies (forbidden topic, disclosure...): persona.safety's styles.
STYLE_HINTS: dict[str, str] = {
    "": "Default",
    "warm": "Warm",
    "playful": "Playful",
    "formal": "Formal",
}
# Where fans see that a reply is AI-written (persona.safety.LabelSetting).
LABEL_SETTINGS: dict[str, str] = {
    "": "Only in the app's own AI badge (default)",
    "metadata": "Only in the app's own AI badge",
    "tag": "“[AI]” before each reply",
    "signature": "A signature after each reply",
}


class FormError(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(slots=True)
class Boundaries:
    ai_label: str = ""
    forbidden_topics: list[str] = field(default_factory=list)
    forbidden_statements: list[str] = field(default_factory=list)
    # Language code -> the creator's no-answer text (`Creator.settings["no_answer_messages"]`).
    no_answer_messages: dict[str, str] = field(default_factory=dict)
    style_hint: str = ""
    label_setting: str = ""
    strict_grounding: bool = False

    @classmethod
    def of(cls, settings: CreatorSettings) -> Boundaries:
        return cls(
            ai_label=settings.ai_label,
            forbidden_topics=list(settings.forbidden_topics),
            forbidden_statements=list(settings.forbidden_statements),
            no_answer_messages=_stored_no_answers(settings),
            style_hint=settings.style_hint,
            label_setting=settings.label_setting,
            strict_grounding=settings.strict_grounding,
        )

    def apply(self, settings: CreatorSettings) -> CreatorSettings:
        """The settings with this form's values: an empty field is no longer stored."""
        changes: dict[str, Any] = {}
        # The single legacy text was shown in its language's field: it lives there now.
        dropped = ["no_answer_message"]
        for key, value in (
            ("ai_label", self.ai_label),
            ("forbidden_topics", self.forbidden_topics),
            ("forbidden_statements", self.forbidden_statements),
            ("style_hint", self.style_hint),
            ("label_setting", self.label_setting),
            ("strict_grounding", self.strict_grounding),
        ):
            if value:
                changes[key] = value
            else:
                dropped.append(key)
        shown = {code for code, _ in NO_ANSWER_LANGS}
        messages = {
            k: v for k, v in settings.no_answer_messages.items() if k not in shown
        }  # languages this page does not show keep their texts
        messages.update({k: v for k, v in self.no_answer_messages.items() if k in shown and v})
        if messages:
            changes["no_answer_messages"] = messages
        else:
            dropped.append("no_answer_messages")
        return settings.without(*dropped).with_changes(**changes)

    def no_answer_defaults(self) -> dict[str, str]:
        """What fans get in each shown language while its field is empty."""
        return {code: no_answer_text({}, code) for code, _ in NO_ANSWER_LANGS}


def no_answer_field(code: str) -> str:
    """The form field of the no-answer text in language `code`."""
    return f"no_answer_message_{code}"


def no_answer_fields(form: dict[str, str]) -> dict[str, str]:
    """The no-answer texts a posted form holds, by language (as typed, trimmed)."""
    return {code: form.get(no_answer_field(code), "").strip() for code, _ in NO_ANSWER_LANGS}


def _stored_no_answers(settings: CreatorSettings) -> dict[str, str]:
    messages = {k: v for k, v in settings.no_answer_messages.items() if v}
    legacy = settings.no_answer_message.strip()
    if legacy:  # the older single text, shown in the field of its language
        codes = [code for code, _ in NO_ANSWER_LANGS]
        lang = guess_lang(legacy)
        messages.setdefault(lang if lang in codes else codes[0], legacy)
    return messages


def _lines(raw: str, name: str, errors: dict[str, str]) -> list[str]:
    items: list[str] = []
    for line in raw.splitlines():
        item = " ".join(line.split())
        if item and item.casefold() not in {i.casefold() for i in items}:
            items.append(item)
    if len(items) > MAX_LIST_ITEMS:
        errors[name] = f"at most {MAX_LIST_ITEMS} lines"
    elif any(len(i) > MAX_ITEM_CHARS for i in items):
        errors[name] = f"each line at most {MAX_ITEM_CHARS} characters"
    return items


def parse_boundaries(form: dict[str, str]) -> Boundaries:
    errors: dict[str, str] = {}
    label = " ".join(form.get("ai_label", "").split())
    if len(label) > MAX_LABEL_CHARS:
        errors["ai_label"] = f"at most {MAX_LABEL_CHARS} characters"
    no_answers = no_answer_fields(form)
    for code, text in no_answers.items():
        if len(text) > MAX_NO_ANSWER_CHARS:
            errors[no_answer_field(code)] = f"at most {MAX_NO_ANSWER_CHARS} characters"
    style_hint = form.get("style_hint", "")
    if style_hint not in STYLE_HINTS:
        errors["style_hint"] = "choose one of the listed tones"
    label_setting = form.get("label_setting", "")
    if label_setting not in LABEL_SETTINGS:
        errors["label_setting"] = "choose one of the listed places"
    result = Boundaries(
        ai_label=label,
        style_hint=style_hint,
        label_setting=label_setting,
        strict_grounding=form.get("strict_grounding") == "on",
        forbidden_topics=_lines(form.get("forbidden_topics", ""), "forbidden_topics", errors),
        forbidden_statements=_lines(
            form.get("forbidden_statements", ""), "forbidden_statements", errors
        ),
        no_answer_messages=no_answers,
    )
    if errors:
        raise FormError(errors)
    return result


# -- channel policies ------------------------------------------------------------------------


def policies(settings: CreatorSettings) -> dict[str, ChannelPolicy]:
    return {str(c): settings.policy(c) for c in PolicyChannel}


def live_cadence(settings: CreatorSettings) -> float | None:
    policy = settings.policy(PolicyChannel.LIVE)
    assert isinstance(policy, LivePolicy)
    return policy.cadence_s


def _number(form: dict[str, str], name: str, errors: dict[str, str], kind: type = int) -> Any:
    raw = form.get(name, "").strip()
    if raw == "":
        errors[name] = "required"
        return None
    try:
        return kind(raw)
    except ValueError:
        errors[name] = "a number, please"
        return None


def _time(form: dict[str, str], name: str, errors: dict[str, str]) -> time | None:
    try:
        return time.fromisoformat(form.get(name, "").strip())
    except ValueError:
        errors[name] = "a time like 09:00"
        return None


def parse_policy(
    channel: str, form: dict[str, str], days: list[str], stored: ChannelPolicy
) -> ChannelPolicy:
    """The stored policy with what the form changes, validated by the policy model."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = stored.model_dump(mode="json")
    values["enabled"] = form.get("enabled") == "on"
    values["paused"] = form.get("paused") == "on"
    mode = form.get("mode", "auto")
    if mode not in ("auto", "review"):
        errors["mode"] = "auto or review"
    values["mode"] = mode
    values["max_chars"] = _number(form, "max_chars", errors)
    values["fan_rate"] = {
        "count": _number(form, "fan_rate_count", errors),
        "per_s": _number(form, "fan_rate_per_s", errors, float),
    }
    values["channel_rate"] = {
        "count": _number(form, "channel_rate_count", errors),
        "per_s": _number(form, "channel_rate_per_s", errors, float),
    }
    values["reply_delay"] = {
        **values.get("reply_delay", {}),
        "min_s": _number(form, "delay_min_s", errors, float),
        "max_s": _number(form, "delay_max_s", errors, float),
    }
    if form.get("hours_on") == "on":
        start, end = _time(form, "hours_start", errors), _time(form, "hours_end", errors)
        picked = sorted({int(d) for d in days if d.isdigit()})
        values["active_hours"] = {
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
            "timezone": form.get("hours_timezone", "").strip() or "UTC",
            "days": picked,
        }
    else:
        values["active_hours"] = None
    values["only_when_offline"] = form.get("only_when_offline") == "on"
    values["ai_label"] = " ".join(form.get("channel_ai_label", "").split())
    if errors:
        raise FormError(errors)
    try:
        return POLICY_MODELS[PolicyChannel(channel)].model_validate(values)
    except ValidationError as exc:
        raise FormError(_pydantic_errors(exc)) from None


_FIELD_OF = {
    ("fan_rate", "count"): "fan_rate_count",
    ("fan_rate", "per_s"): "fan_rate_per_s",
    ("channel_rate", "count"): "channel_rate_count",
    ("channel_rate", "per_s"): "channel_rate_per_s",
    ("reply_delay", "min_s"): "delay_min_s",
    ("reply_delay", "max_s"): "delay_max_s",
    ("reply_delay",): "delay_max_s",
    ("active_hours", "start"): "hours_start",
    ("active_hours", "end"): "hours_end",
    ("active_hours", "timezone"): "hours_timezone",
    ("active_hours", "days"): "hours_days",
    ("ai_label",): "channel_ai_label",
}


def _pydantic_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors(include_input=False, include_url=False):
        loc = tuple(str(p) for p in error.get("loc", ()))
        name = _FIELD_OF.get(loc[:2]) or _FIELD_OF.get(loc[:1]) or (loc[0] if loc else "form")
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        errors.setdefault(name, message)
    return errors


def apply_policy(
    settings: CreatorSettings, channel: str, policy: ChannelPolicy, cadence_s: float | None
) -> CreatorSettings:
    # The live cadence is part of the live policy: the stream reads nothing else.
    if isinstance(policy, LivePolicy) and cadence_s is not None:
        policy = policy.model_copy(update={"cadence_s": cadence_s})
    return settings.with_policy(channel, policy)


def parse_cadence(form: dict[str, str]) -> float | None:
    raw = form.get("live_cadence_s", "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise FormError({"live_cadence_s": "a number of seconds"}) from None
    if not 0.5 <= value <= 600:
        raise FormError({"live_cadence_s": "between 0.5 and 600 seconds"})
    return value
