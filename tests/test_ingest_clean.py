"""Cleaning (links, handles, entities, whitespace, reply detection) and language detection."""

from __future__ import annotations

import pytest

from ingest.clean import clean_post, clean_text, is_reply_text, unescape_html
from ingest.language import UNDETERMINED, LanguageDetector, detect_language


def test_links_are_removed_with_the_brackets_they_leave_empty() -> None:
    text = (
        "Style guide (https://style.tidyverse.org) now has a PDF () "
        "www.example.com/x pic.twitter.com/AbC1"
    )
    assert clean_text(text) == "Style guide now has a PDF"
    # Code keeps its parentheses.
    assert (
        clean_text("use identity() or vec_duplicate_id()") == "use identity() or vec_duplicate_id()"
    )


def test_leading_handles_make_a_reply_and_are_cut() -> None:
    cleaned = clean_post("@dvaughan32 @hadleywickham: Fails to mention the why")
    assert cleaned.text == "Fails to mention the why"
    assert cleaned.addressees == ("dvaughan32", "hadleywickham")
    assert cleaned.starts_with_mention
    assert is_reply_text("  @fan thanks")
    assert not is_reply_text(".@fan is the best")
    assert not clean_post(".@fan is the best").starts_with_mention


def test_other_handles_become_placeholders_but_emails_stay() -> None:
    text = "On @ashleygraham's podcast today with @mia.cooks. Mail me: kim@example.com"
    assert clean_text(text) == "On @user's podcast today with @user. Mail me: kim@example.com"


def test_html_entities_whitespace_and_invisible_characters() -> None:
    assert unescape_html("Q&amp;amp;A") == "Q&A"
    text = "Salt &amp; pepper\u200b   &lt;3\n\n\n  line two\t\tend  "
    assert clean_text(text) == "Salt & pepper <3\nline two end"


def test_emoji_hashtags_and_casing_are_the_voice_and_stay() -> None:
    text = "SOLD OUT!!! 😭😭 #KKWBEAUTY 🙏🏽"
    assert clean_text(text) == text


def test_posts_with_nothing_but_links_or_handles_clean_to_empty() -> None:
    assert clean_text("https://t.co/abc") == ""
    assert clean_text("@larsapippen @CassieSuper ") == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thank you so much for coming to the show last night, it was amazing!", "en"),
        ("Merci à tous pour ce live de dimanche, c'était vraiment génial !", "fr"),
        ("Me da gusto anunciar el proyecto de traducción al español del libro", "es"),
        ("Ich freue mich sehr darauf, euch alle morgen zu sehen!", "de"),
        ("日本語版は来月発売なので、良かったら読んでください", "ja"),
        ("Спасибо всем, кто пришёл на встречу вчера вечером!", "ru"),
    ],
)
def test_language_of_real_sentences(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize(
    "text", ["LOL", "ok", "😍😍😍", "@someone @other #KUWTK", "https://t.co/abc", ""]
)
def test_too_short_or_symbol_only_text_is_undetermined(text: str) -> None:
    assert detect_language(text) == UNDETERMINED


def test_elongations_handles_and_threshold() -> None:
    detector = LanguageDetector()
    # Handles and tags do not count as language; elongated words are squeezed.
    assert detector.detect("@kim_k @khloe Okkkkuuuurrrr!!!! #KUWTK") == UNDETERMINED
    lang, confidence = detector.detect_with_confidence("Bonjour, comment allez-vous aujourd'hui ?")
    assert lang == "fr" and confidence > 0.9
    strict = LanguageDetector(min_confidence=1.0)
    assert strict.detect("Thank you babe, love you more") == UNDETERMINED


def test_detector_languages_are_configurable_and_checked() -> None:
    only_en_fr = LanguageDetector(["en", "fr"], min_confidence=0.0)
    assert only_en_fr.detect("Ich freue mich sehr darauf, euch alle zu sehen") in {"en", "fr"}
    with pytest.raises(ValueError, match="xx"):
        LanguageDetector(["en", "xx"]).detect("some long enough English text here")
    with pytest.raises(ValueError, match="between 0 and 1"):
        LanguageDetector(min_confidence=2.0)
