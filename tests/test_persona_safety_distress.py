"""The trained distress model (persona.safety.distress) and its place in inbound moderation."""

from __future__ import annotations

from persona.safety import InboundAction, InboundCategory, ReplyTemplate, moderate_inbound
from persona.safety.distress import (
    DISTRESS_THRESHOLD,
    distress_probability,
    load_examples,
    train,
)


def test_the_training_set_is_bilingual_and_labelled():
    rows = load_examples()
    assert len(rows) >= 250
    assert {r["lang"] for r in rows} == {"en", "fr"}
    assert {r["distress"] for r in rows} == {0, 1}
    assert len({r["text"] for r in rows}) == len(rows)


def test_held_out_quarters_score_distress_above_ordinary_messages():
    # Trained on three quarters, scored on the fourth: distress must rank above the rest
    # (area under the ROC curve), for every quarter.
    from sklearn.metrics import roc_auc_score

    rows = load_examples()
    for k in range(4):
        fit = [r for i, r in enumerate(rows) if i % 4 != k]
        held = [r for i, r in enumerate(rows) if i % 4 == k]
        model = train([r["text"] for r in fit], [r["distress"] for r in fit])
        scores = model.predict_proba([r["text"] for r in held])[:, 1]
        assert roc_auc_score([r["distress"] for r in held], scores) >= 0.7


def test_veiled_distress_outside_the_lexicons_gets_the_caring_reply():
    text = "i've been skipping meals on purpose to punish myself"
    assert distress_probability(text) >= DISTRESS_THRESHOLD
    decision = moderate_inbound(text)
    assert decision.action is InboundAction.ESCALATE
    assert decision.category is InboundCategory.SELF_HARM
    assert decision.reply_template is ReplyTemplate.SELF_HARM_SUPPORT
    assert decision.alert_creator


def test_ordinary_messages_and_jokes_are_left_alone():
    for text in ("hello!", "i want to learn to bake bread", "je suis morte de rire 😂"):
        assert moderate_inbound(text).action is InboundAction.ALLOW, text
    assert moderate_inbound("hello", use_classifier=False).layer != "distress_model"
