"""The real LoRA training loop (peft + transformers) on a tiny random Qwen2 model with the
packaged chat model's real tokenizer and chat template: exact prefix caching, loss going
down, early-stopping bookkeeping, resume after an interruption, and the saved adapter
reloading through peft and changing the model's output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from persona.tune.dataset import TrainingExample, TuneDataset
from persona.tune.trainer import (
    CHECKPOINT,
    DEFAULT_TARGETS,
    PrefixCachedForward,
    ResumeMismatch,
    TrainConfig,
    TrainProgress,
    encode_examples,
    load_base,
    load_tuned_model,
    lora_config,
    reference_answer_logits,
    train_lora,
)

pytestmark = pytest.mark.slow

SYSTEM = "You are the AI double of Camille. Short, warm, lots of exclamation marks."


def _examples() -> list[TrainingExample]:
    pairs = [
        ("Fan: love your tart!", "Aww thank you babe!! 🍋🍋"),
        ("Fan: what's for dinner?", "Pasta again lol!!"),
        ("Fan: happy birthday!", "Thank youuuu love you!!"),
        ("Fan: any tips for the crust?", "Cold butter, always!!"),
    ]
    return [TrainingExample(SYSTEM, user, answer, "reply") for user, answer in pairs]


def _config(**overrides: object) -> TrainConfig:
    values: dict[str, object] = {
        "rank": 4,
        "alpha": 8,
        "dropout": 0.0,
        "top_layers": 1,
        "learning_rate": 2e-2,
        "warmup_steps": 0,
        "epochs": 50,
        "max_steps": 8,
        "grad_accum": 2,
        "eval_every": 2,
        "patience": 10,
        "threads": 1,
        "device": "cpu",
    }
    values.update(overrides)
    return TrainConfig(**values)  # type: ignore[arg-type]


def _adapter_weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def test_prefix_cached_forward_gives_the_same_logits_as_a_plain_forward(tiny_base: Path) -> None:
    import torch
    from peft import get_peft_model

    tokenizer, base = load_base(tiny_base, "cpu")
    model = get_peft_model(base, lora_config(2, _config()))
    torch.manual_seed(1)
    for name, parameter in model.named_parameters():
        if "lora_B" in name:  # zero at init: make the adapter do something
            torch.nn.init.normal_(parameter, std=0.5)
    model.eval()
    example = encode_examples(tokenizer, _examples()[:1], _config())[0]
    assert tokenizer.decode(example.prefix).startswith("<|im_start|>system\n")
    assert tokenizer.decode(example.suffix[-example.answer_len :]).endswith("<|im_end|>")
    reference = reference_answer_logits(model, example)
    with torch.no_grad():
        for exact in (True, False):
            fast = PrefixCachedForward(model.get_base_model(), 1, exact=exact)
            logits = fast.answer_logits(example)
            assert logits.shape == reference.shape
            assert torch.allclose(logits, reference, atol=1e-4), exact


def test_training_lowers_the_loss_and_the_adapter_reloads_with_peft(
    tiny_base: Path, tmp_path: Path
) -> None:
    import torch

    examples = _examples()
    dataset = TuneDataset(train=examples, validation=examples)  # a repeated tiny set
    seen: list[TrainProgress] = []
    result = train_lora(
        tiny_base, dataset, tmp_path / "adapter", tmp_path / "work", _config(), seen.append
    )
    assert result.steps == 8 and result.total_steps == 8
    assert result.best_val_loss < result.initial_val_loss - 0.5
    train_steps = [p for p in seen if p.phase == "train"]
    assert [p.step for p in train_steps] == list(range(1, 9))
    assert all(p.total == 8 and p.eta_s is not None and p.loss is not None for p in train_steps)
    assert seen[-1].phase == "done"
    assert any(p.phase == "eval" and p.val_loss is not None for p in seen)

    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["layers_to_transform"] == [1]  # only the top layer carries LoRA
    assert set(config["target_modules"]) == set(DEFAULT_TARGETS)  # attention and MLP

    tokenizer, base = load_base(tiny_base, "cpu")
    ids = tokenizer.apply_chat_template(
        examples[0].messages(), add_generation_prompt=True, return_tensors="pt", return_dict=True
    )["input_ids"]
    with torch.no_grad():
        before = base(input_ids=ids).logits[0, -1]
    tuned = load_tuned_model(tiny_base, tmp_path / "adapter", "cpu")
    with torch.no_grad():
        after = tuned(input_ids=ids).logits[0, -1]
    assert not torch.allclose(before, after, atol=1e-3)
    # The tuned model learned the answer: its first token became much likelier.
    first = tokenizer(examples[0].answer, add_special_tokens=False)["input_ids"][0]
    gain = after.log_softmax(-1)[first] - before.log_softmax(-1)[first]
    assert gain.item() > 1.0


def test_an_interrupted_run_resumes_from_its_checkpoint_to_the_same_adapter(
    tiny_base: Path, tmp_path: Path
) -> None:
    import torch

    dataset = TuneDataset(train=_examples(), validation=_examples()[:2])
    config = _config(max_steps=6, exact_prefix=True, dropout=0.1)
    whole = train_lora(tiny_base, dataset, tmp_path / "a", tmp_path / "wa", config)

    def interrupt(p: TrainProgress) -> None:
        if p.phase == "train" and p.step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_lora(tiny_base, dataset, tmp_path / "b", tmp_path / "wb", config, interrupt)
    state = json.loads((tmp_path / "wb" / CHECKPOINT / "trainer_state.json").read_text())
    assert state["step"] == 3

    with pytest.raises(ResumeMismatch):  # other settings cannot continue this checkpoint
        train_lora(
            tiny_base, dataset, tmp_path / "b", tmp_path / "wb", _config(rank=2), resume=True
        )
    resumed = train_lora(tiny_base, dataset, tmp_path / "b", tmp_path / "wb", config, resume=True)
    assert resumed.resumed_from == 3 and resumed.steps == 6
    assert resumed.initial_val_loss == pytest.approx(whole.initial_val_loss)
    assert resumed.best_val_loss == pytest.approx(whole.best_val_loss, rel=1e-4)
    a = _adapter_weights(tmp_path / "wa" / CHECKPOINT / "adapter")
    b = _adapter_weights(tmp_path / "wb" / CHECKPOINT / "adapter")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-5), key
