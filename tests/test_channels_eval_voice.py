"""persona eval voice through the platform: the runner, the real model, the stored report."""

from __future__ import annotations

import math

import pytest

from tests.test_persona_evaluation import CHEF, PROF


@pytest.mark.slow
def test_eval_voice_end_to_end_on_the_real_model(tmp_path, real_llm):
    from channels.evaluation.voice import run_voice_eval
    from channels.services import Services
    from persona.store import VoiceEval
    from tests.conftest import make_settings

    services = Services.build(make_settings(tmp_path / "data", **real_llm.overrides()))
    try:
        services.ingestor().ingest_records(CHEF + PROF, source="test")
        report = run_voice_eval(services, ["chef", "prof"], per_creator=2, candidates=1)
        assert {c.creator_id for c in report.creators} == {"chef", "prof"}
        assert report.judge_accuracy > 0.9  # two very different voices
        for creator in report.creators:
            assert creator.copy_rate <= 1.0 and not math.isnan(creator.real_attribution)
            assert len(creator.samples) == 2
        with services.db.session() as session:
            assert session.query(VoiceEval).count() == 2
    finally:
        services.close()
