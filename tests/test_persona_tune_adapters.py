"""The versioned adapter store: versions, statuses, one active adapter per creator."""

from __future__ import annotations

from pathlib import Path

import pytest

from persona.tune.adapters import AdapterManifest, AdapterStatus, AdapterStore, AdapterVersion


def test_adapter_store_versions_and_activation(tmp_path: Path) -> None:
    store = AdapterStore(tmp_path)
    assert store.list("camille") == [] and store.active("camille") is None

    def new() -> AdapterVersion:
        return store.new_version(
            AdapterManifest("camille", 0, AdapterStatus.TRAINING, "tiny", "abc123")
        )

    first, second = new(), new()
    assert (first.version, second.version) == (1, 2)
    assert second.path == tmp_path / "adapters" / "camille" / "v2"
    assert store.latest("camille", AdapterStatus.TRAINING).version == 2
    with pytest.raises(ValueError, match="has not finished training"):
        store.activate("camille", 1)
    for version in (first, second):
        version.work_dir.mkdir()
        for name in ("adapter_config.json", "adapter_model.safetensors"):
            (version.path / name).write_text("{}")
        store.finish(version)
        assert not version.work_dir.exists()
    assert store.activate("camille", 1).manifest.status == AdapterStatus.ACTIVE
    assert store.activate("camille", 2).name == "camille-v2"
    statuses = {v.version: v.manifest.status for v in store.list("camille")}
    assert statuses == {1: AdapterStatus.CANDIDATE, 2: AdapterStatus.ACTIVE}
    assert store.active("camille").version == 2
    store.reject("camille", 1, "no better than the base")
    assert store.get("camille", 1).manifest.notes == "no better than the base"
    assert store.creators() == ["camille"]
    with pytest.raises(ValueError):
        store.creator_dir("../etc")
