"""Turn a raw model completion into a reply: strip role prefixes, cut run-on dialogue, fit the
length to the channel, and spot assistant boilerplate."""

from __future__ import annotations

import re

# Help-desk closers: a sentence that only offers more help ("If you have any more questions,
# feel free to ask."). A small model tacks one onto a good reply; the sentence is dropped and
# the rest kept, and only a draft that is nothing else goes (rejecting the whole draft threw
# away "You're welcome! Glad it worked." with its closer).
ASSISTANT_CLOSERS = re.compile(
    r"feel free to (ask|reach out|let me know)|glad i could help|how can i (help|assist)|"
    r"i hope this helps|let me know if you (have|need)|is there anything else|"
    r"n'hésite(z)? pas à (me )?(demander|poser|revenir)|comment puis-je (vous|t')aider",
    re.IGNORECASE,
)
# Phrases no creator writes to a fan, in any sentence: the draft is rejected.
ASSISTANT_PHRASES = re.compile(
    r"as an ai language model|i'?m (just )?an ai( language model| assistant)|"
    r"en tant qu'(ia|intelligence artificielle|assistant)|"
    # the prompt's own instructions echoed back
    r"(under|at most|moins de) \d+ (words|mots)|keep it (short|under)",
    re.IGNORECASE,
)
# The model declining on its own ("désolé, je ne peux pas vous aider avec ça"): a refusal is
# for the safety layers to decide; when none flagged the message, the draft is rejected and
# another is tried (the canned refusals to ordinary questions came from here too).
REFUSAL_PHRASES = re.compile(
    r"\b(?:i(?:'d| would) rather not (?:answer|say|talk|share|get into)|"
    r"i (?:can't|cannot|can not|won't|am unable to|'m unable to|'m not able to|am not able to) "
    r"(?:help|answer|assist|share|discuss|talk about|provide|respond)(?! but)|"
    r"(?:sorry|apologi[sz]e),? (?:but )?i (?:can't|cannot|won't|don't)|"
    r"i don't have (?:an answer|any information|that information)|"
    r"je ne (?:peux|pourrai) pas (?:t'|vous |te )?(?:aider|repondre|répondre|dire|partager)|"
    r"je pr[eé]f[eè]re ne pas (?:r[eé]pondre|en parler|parler)|"
    r"d[eé]sol[eé]e?,? (?:mais )?je (?:ne (?:peux|sais|pourrai)|n'ai pas))",
    re.IGNORECASE,
)
_TURN_BREAK = re.compile(r"\n\s*(fan|user|assistant|you)\s*(\([^)]*\))?\s*:", re.IGNORECASE)
_RUNAWAY = re.compile(r"(\S)\1{9,}")  # 10+ in a row: a model stuck in a loop
_SENTENCE_END = re.compile(r"[.!?…](?=\s|$)|[\U0001F300-\U0001FAFF](?=\s|$)")


def clean_completion(raw: str, creator_name: str) -> str:
    text = raw.strip()
    match = _TURN_BREAK.search("\n" + text)
    if match:
        text = ("\n" + text)[: match.start()].strip()
    first_name = creator_name.split()[0] if creator_name.split() else creator_name
    for prefix in (f"{creator_name}:", f"{first_name}:", "Reply:", "Réponse :", "Réponse:", "AI:"):
        if text.lower().startswith(prefix.lower()):
            text = text[len(prefix) :].strip()
    # "Coucou Camille !" from the fan comes back as "Hey Camille !": the double greets itself.
    text = re.sub(
        rf"^((?:hey|hi|hello|hiya|coucou|salut|bonjour))\s+{re.escape(first_name)}\b\s*(?=[!,.?]|$)",
        r"\1",
        text,
        flags=re.IGNORECASE,
    )
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'«“":
        text = text[1:-1].strip()
    text = _RUNAWAY.sub(lambda m: m.group(1) * 5, text)
    return re.sub(r"[ \t]+", " ", text).strip()


def fit_length(text: str, max_chars: int) -> str:
    """Cut at the last sentence end that fits, else at a word boundary."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    if ends and ends[-1] >= max_chars // 3:
        return head[: ends[-1]].strip()
    cut = head.rsplit(" ", 1)[0].rstrip(",;:-–")
    return cut + "…"


_MARKDOWN = re.compile(r"\*\*\S|^\s*(?:\d+[.)]|[-*•])\s+\S|^#{1,4}\s", re.MULTILINE)


def has_markdown(text: str) -> bool:
    """Numbered or bulleted lists, **bold**, headings: how assistants format, not fans' chats."""
    return bool(_MARKDOWN.search(text))


_LIST_MARK = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*", re.MULTILINE)
_EMPHASIS = re.compile(r"\*\*|__|^#{1,4}\s*", re.MULTILINE)


def flatten_markdown(text: str) -> str:
    """A list or bold made into one paragraph of chat: markers gone, the intro line ("Here are
    some tips:") dropped, items joined as sentences, an item cut off by the token limit
    dropped."""
    if not has_markdown(text):
        return text
    lines = [_EMPHASIS.sub("", _LIST_MARK.sub("", line)).strip() for line in text.splitlines()]
    kept = [line for line in lines if line and not line.endswith(":")]
    joined = " ".join(line if line[-1] in ".!?…" else line + "." for line in kept)
    return re.sub(r"\s+", " ", joined).strip()


def sounds_like_assistant(text: str) -> bool:
    return bool(ASSISTANT_PHRASES.search(text) or ASSISTANT_CLOSERS.search(text))


_SENTENCE = re.compile(r".*?(?:[.!?…]+|[\U0001F300-\U0001FAFF]+|$)(?:\s+|$)", re.DOTALL)


def drop_assistant_closers(text: str) -> str:
    """The text without its help-desk sentences ("" when nothing else is left)."""
    if not ASSISTANT_CLOSERS.search(text):
        return text
    sentences = [m.group(0) for m in _SENTENCE.finditer(text) if m.group(0)]
    kept = [s for s in sentences if not ASSISTANT_CLOSERS.search(s)]
    return "".join(kept).strip()


def sounds_like_refusal(text: str) -> bool:
    return bool(REFUSAL_PHRASES.search(text))
