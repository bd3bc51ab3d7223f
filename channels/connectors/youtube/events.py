"""YouTube `liveChatMessage` resources (Data API v3, `part=snippet,authorDetails`) ->
live-intake messages.

`snippet.type` says what a message is: `textMessageEvent` is chat; `superChatEvent` and
`superStickerEvent` carry `amountMicros` and `currency` (paid); `newSponsorEvent` (a new
member) and `memberMilestoneChatEvent` (a member's anniversary message) are paid like Twitch
subscriptions; `membershipGiftingEvent` is a gift. Other types (deletions, bans, polls...)
are not messages to answer.

Amounts are in US dollars so that they rank with the other paid messages: rough fixed rates
for common currencies (the ranking needs an order, not accounting), 1:1 for the others."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# USD per unit, rough (only the order of paid messages depends on it).
USD_RATE = {
    "USD": 1.0, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0067, "CAD": 0.73, "AUD": 0.66,
    "INR": 0.012, "BRL": 0.2, "KRW": 0.00075, "MXN": 0.055, "TWD": 0.031, "HKD": 0.13,
}  # fmt: skip
MEMBERSHIP_USD = 4.99  # the price of a membership is not in the event; a usual first level
PAID_TYPES = frozenset(
    {"superChatEvent", "superStickerEvent", "newSponsorEvent", "memberMilestoneChatEvent"}
)


def usd(amount_micros: Any, currency: Any) -> float:
    try:
        amount = int(amount_micros) / 1_000_000
    except (TypeError, ValueError):
        return 0.0
    return round(amount * USD_RATE.get(str(currency).upper(), 1.0), 2)


def from_item(item: Mapping[str, Any]) -> dict[str, Any] | None:
    """One live-intake message, or None for an event that is not one to answer."""
    snippet = item.get("snippet") or {}
    author = item.get("authorDetails") or {}
    kind = snippet.get("type", "")
    user = str(author.get("channelId") or snippet.get("authorChannelId") or "")
    message_id = str(item.get("id") or "")
    if not user or not message_id:
        return None
    base = {
        "id": message_id[:128],
        "user": user[:128],
        "name": str(author.get("displayName", ""))[:80],
    }
    if kind == "textMessageEvent":
        text = (snippet.get("textMessageDetails") or {}).get("messageText") or snippet.get(
            "displayMessage", ""
        )
        text = str(text).strip()
        return {**base, "kind": "chat", "text": text} if text else None
    if kind == "superChatEvent":
        details = snippet.get("superChatDetails") or {}
        amount = usd(details.get("amountMicros"), details.get("currency"))
        text = str(details.get("userComment") or "").strip()
        return {**base, "kind": "paid", "text": text, "amount": amount} if amount > 0 else None
    if kind == "superStickerEvent":
        details = snippet.get("superStickerDetails") or {}
        amount = usd(details.get("amountMicros"), details.get("currency"))
        return {**base, "kind": "paid", "text": "", "amount": amount} if amount > 0 else None
    if kind == "newSponsorEvent":
        return {**base, "kind": "paid", "text": "", "amount": MEMBERSHIP_USD}
    if kind == "memberMilestoneChatEvent":
        details = snippet.get("memberMilestoneChatDetails") or {}
        text = str(details.get("userComment") or "").strip()
        return {**base, "kind": "paid", "text": text, "amount": MEMBERSHIP_USD}
    if kind == "membershipGiftingEvent":
        count = (snippet.get("membershipGiftingDetails") or {}).get("giftMembershipsCount")
        try:
            count = max(1, int(count))
        except (TypeError, ValueError):
            count = 1
        return {**base, "kind": "gift", "text": "", "amount": round(MEMBERSHIP_USD * count, 2)}
    return None
