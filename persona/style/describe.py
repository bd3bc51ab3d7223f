"""The profile in words (for the model's prompt) and as a table (for `persona profile`).

The prompt guide gives rates, never lists: a small model shown "top emoji: 💕 ❤ 😍" pastes all
three into every reply, while "about 1 reply in 5 has an emoji" gets the dose right.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from persona.domain import PostKind
from persona.style.profile import KindStats, VoiceProfile

if TYPE_CHECKING:
    from rich.table import Table

LANGUAGE_NAMES = {
    "en": "English", "fr": "French", "es": "Spanish", "de": "German", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "sv": "Swedish", "da": "Danish",
    "no": "Norwegian", "tr": "Turkish", "id": "Indonesian", "ro": "Romanian", "ca": "Catalan",
    "ru": "Russian", "uk": "Ukrainian", "el": "Greek", "ar": "Arabic", "he": "Hebrew",
    "hi": "Hindi", "ja": "Japanese", "zh": "Chinese", "ko": "Korean", "th": "Thai",
}  # fmt: skip
# A language under this share of the posts is not worth a word in the prompt.
_MIN_LANGUAGE_SHARE = 0.05


def plural(unit: str) -> str:
    return "replies" if unit == "reply" else f"{unit}s"


def how_often(rate: float, unit: str) -> str:
    """0.27, "reply" -> "about 1 reply in 4"; plain words at the extremes."""
    if rate < 0.02:
        return "almost never"
    if rate >= 0.95:
        return "almost always"
    if 0.45 <= rate < 0.55:
        return f"in about half of the {plural(unit)}"
    if rate < 0.45:
        return f"about 1 {unit} in {round(1 / rate)}"
    return f"in about {round(rate * 10)} {plural(unit)} out of 10"


def _length_line(stats: KindStats, unit: str) -> str:
    low = max(1, round(stats.words.p10))
    high = max(low + 1, round(stats.words.p90))
    return (
        f"- Length: most {plural(unit)} are {low}-{high} words long, typically "
        f"{round(stats.words.median)}."
    )


def _emoji_line(stats: KindStats, unit: str) -> str:
    if stats.emoji_rate < 0.02:
        return "- Emoji: almost never; do not add any."
    per_emoji_post = stats.emoji_per_post / stats.emoji_rate
    amount = "often two or more together" if per_emoji_post >= 1.8 else "usually just one"
    return f"- Emoji: {how_often(stats.emoji_rate, unit)} ({amount}); none in the others."


def _punctuation_line(stats: KindStats, unit: str) -> str:
    parts = [f"'!' {how_often(stats.exclamation_rate, unit)}"]
    if stats.exclamation_rate >= 0.05:
        doubled = stats.multi_exclamation_rate / stats.exclamation_rate
        if doubled >= 0.3:
            parts[0] += " (often doubled: '!!')"
    parts.append(f"'?' {how_often(stats.question_rate, unit)}")
    parts.append(f"'...' {how_often(stats.ellipsis_rate, unit)}")
    end = (
        "usually ends with a full stop"
        if stats.period_end_rate >= 0.5
        else "usually no full stop at the end"
    )
    return f"- Punctuation: {'; '.join(parts)}; {end}."


def _casing_line(stats: KindStats, unit: str) -> str:
    if stats.all_lowercase_rate >= 0.5:
        start = "mostly all lowercase, no capitals"
    elif stats.lowercase_start_rate >= 0.3:
        start = f"starts with a lowercase letter {how_often(stats.lowercase_start_rate, unit)}"
    else:
        start = "normal capitalisation"
    caps = (
        f"a word in CAPITALS for emphasis {how_often(stats.caps_post_rate, unit)}"
        if stats.caps_post_rate >= 0.05
        else "no words in capitals"
    )
    return f"- Casing: {start}; {caps}."


def _tags_line(stats: KindStats, unit: str) -> str:
    return (
        f"- Hashtags: {how_often(stats.hashtag_rate, unit)}; "
        f"@mentions of others: {how_often(stats.mention_rate, unit)}."
    )


def _language_line(profile: VoiceProfile) -> str:
    shown = [
        LANGUAGE_NAMES.get(lang, lang)
        for lang, share in profile.languages.items()
        if share >= _MIN_LANGUAGE_SHARE
    ]
    if not shown:
        return "- Language: answer in the fan's language."
    listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
    return f"- Language: writes in {listed}; answer in the language of the fan's message."


def _contrast_line(profile: VoiceProfile, kind: PostKind) -> str | None:
    contrast = profile.reply_contrast
    if contrast is None or kind != PostKind.REPLY:
        return None
    ratio = contrast.words_median_ratio
    if ratio <= 0.8:
        return "- Replies are shorter and more casual than their posts."
    if ratio >= 1.25:
        return "- Replies are longer than their posts."
    return None


def describe_for_prompt(profile: VoiceProfile, kind: PostKind | str = PostKind.REPLY) -> str:
    """A compact style guide in words and rates for the system prompt (deterministic, so the
    prompt prefix stays byte-identical and the model server's prefix cache hits)."""
    kind = PostKind(kind)
    stats = profile.for_kind(kind)
    unit = "reply" if kind == PostKind.REPLY and profile.replies.count else "post"
    lines = [f"(measured on {stats.count} of their {plural(unit)})"]
    lines.append(_length_line(stats, unit))
    lines.append(_emoji_line(stats, unit))
    lines.append(_punctuation_line(stats, unit))
    lines.append(_casing_line(stats, unit))
    lines.append(_tags_line(stats, unit))
    lines.append(_language_line(profile))
    contrast = _contrast_line(profile, kind)
    if contrast:
        lines.append(contrast)
    return "\n".join(lines)


def _pct(rate: float) -> str:
    return f"{rate * 100:.0f}%"


def _words(stats: KindStats) -> str:
    if not stats.count:
        return "-"
    q = stats.words
    return f"{q.median:g} ({q.p10:g}-{q.p90:g})"


_RATE_ROWS: tuple[tuple[str, str], ...] = (
    ("posts with emoji", "emoji_rate"),
    ("'!'", "exclamation_rate"),
    ("'!!' or more", "multi_exclamation_rate"),
    ("'?'", "question_rate"),
    ("'...'", "ellipsis_rate"),
    ("starts lowercase", "lowercase_start_rate"),
    ("all lowercase", "all_lowercase_rate"),
    ("a word in CAPS", "caps_post_rate"),
    ("hashtags", "hashtag_rate"),
    ("@mentions", "mention_rate"),
    ("links", "link_rate"),
    ("ends with '.'", "period_end_rate"),
    ("line breaks", "newline_rate"),
)


def profile_rows(profile: VoiceProfile) -> list[tuple[str, str, str, str]]:
    """(measure, all, posts, replies) rows: the table as plain strings (for JSON/API)."""
    kinds = (profile.overall, profile.posts, profile.replies)
    rows: list[tuple[str, str, str, str]] = [
        ("count", *(str(s.count) for s in kinds)),
        ("words: median (p10-p90)", *(_words(s) for s in kinds)),
        ("characters: median", *(f"{s.chars.median:g}" if s.count else "-" for s in kinds)),
        ("emoji per post", *(f"{s.emoji_per_post:.2f}" if s.count else "-" for s in kinds)),
    ]
    for label, attr in _RATE_ROWS:
        rows.append((label, *(_pct(getattr(s, attr)) if s.count else "-" for s in kinds)))
    rows.append(
        ("CAPS words per word", *(_pct(s.caps_word_rate) if s.count else "-" for s in kinds))
    )

    def listing(items: list[tuple[str, int]] | list[tuple[str, float]], limit: int = 8) -> str:
        return ", ".join(str(x) for x, _ in items[:limit]) or "-"

    langs = ", ".join(f"{lang} {_pct(share)}" for lang, share in profile.languages.items())
    rows.append(("languages", langs or "-", "", ""))
    rows.append(("top emoji", " ".join(e for e, _ in profile.top_emoji) or "-", "", ""))
    rows.append(("top hashtags", listing(profile.top_hashtags), "", ""))
    rows.append(("recurring phrases", listing(profile.phrases), "", ""))
    rows.append(("topics", listing(profile.topics), "", ""))
    contrast = profile.reply_contrast
    if contrast is not None:
        rows.append(
            (
                "replies vs posts",
                f"length x{contrast.words_median_ratio:g}, emoji "
                f"{contrast.emoji_rate_diff * 100:+.0f} pts, '!' "
                f"{contrast.exclamation_rate_diff * 100:+.0f} pts",
                "",
                "",
            )
        )
    return rows


def render_table(profile: VoiceProfile) -> Table:
    """A rich Table of the profile, for `persona profile CREATOR`."""
    from rich.table import Table

    table = Table(title=f"Voice profile of {profile.creator_id}", title_justify="left")
    table.add_column("measure", style="bold")
    table.add_column("all", overflow="fold")
    table.add_column("posts", justify="right")
    table.add_column("replies", justify="right")
    for row in profile_rows(profile):
        table.add_row(*row)
    return table
