"""The creator's voice, measured: profile (stylometry), prompt guide, and style scorer."""

from persona.style.describe import describe_for_prompt, how_often, profile_rows, render_table
from persona.style.features import FEATURE_NAMES, TextMeasure, measure, style_features
from persona.style.phrases import recurring_phrases, topic_keywords
from persona.style.profile import (
    PROFILE_VERSION,
    KindStats,
    ProfileVersionError,
    Quantiles,
    ReplyContrast,
    VoiceProfile,
    build_profile,
)
from persona.style.scorer import (
    StyleScorer,
    score_candidate,
    style_distance,
    style_distance_by_feature,
)

__all__ = [
    "FEATURE_NAMES",
    "PROFILE_VERSION",
    "KindStats",
    "ProfileVersionError",
    "Quantiles",
    "ReplyContrast",
    "StyleScorer",
    "TextMeasure",
    "VoiceProfile",
    "build_profile",
    "describe_for_prompt",
    "how_often",
    "measure",
    "profile_rows",
    "recurring_phrases",
    "render_table",
    "score_candidate",
    "style_distance",
    "style_distance_by_feature",
    "style_features",
    "topic_keywords",
]
