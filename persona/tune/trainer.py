"""LoRA training of a creator's voice adapter with peft, cheap enough for a 2-core CPU.

Where the time goes, and what the defaults do about it:
- LoRA only on the top `top_layers` decoder layers (`layers_to_transform`): backward stops
  there, and the frozen bottom layers never need gradients.
- The system prompt is creator-constant and ~330 tokens, several times longer than a fan
  message plus a reply. Frozen bottom layers give the prefix the same keys/values and the same
  hidden state at the first LoRA layer for every example, so they are computed once: per
  example the bottom layers only run over the suffix (user turn + answer), and only the top
  LoRA layers run over the whole sequence, with gradients. This is exact (a test compares it
  with a plain forward), not an approximation.
- Logits (a 151,936-word vocabulary) only at the answer positions; the loss is on the answer
  tokens and the end-of-turn token, never on the prompt.
- One example per forward (no padding), gradients accumulated over `grad_accum` examples.

Early stopping on validation loss keeps the best adapter in `output_dir`; a checkpoint in
`work_dir` (adapter, optimizer, scheduler, RNG, step) lets an interrupted run continue.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from persona.tune.dataset import TrainingExample, TuneDataset

ATTENTION_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP_TARGETS = ("gate_proj", "up_proj", "down_proj")
# Measured on two creators, 200 posts, same steps: attention + MLP at lr 1e-3 reached a much
# lower validation loss than attention only at 3e-4 (see the tuning figures in BENCHMARKS.md).
DEFAULT_TARGETS = ATTENTION_TARGETS + MLP_TARGETS
CHECKPOINT = "checkpoint"
STATE_FILE = "trainer_state.json"


class TrainingError(RuntimeError):
    pass


class ResumeMismatch(TrainingError):
    pass


@dataclass(frozen=True, slots=True)
class TrainConfig:
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    top_layers: int = 4  # LoRA on the last K decoder layers only
    target_modules: tuple[str, ...] = DEFAULT_TARGETS
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 4
    epochs: int = 2
    max_steps: int | None = None  # optimizer steps; None: epochs decide
    grad_accum: int = 4
    max_answer_tokens: int = 96
    max_user_tokens: int = 160
    eval_every: int = 20  # optimizer steps between validation passes (and checkpoints)
    max_val_examples: int = 40
    patience: int = 2  # validation passes without improvement before stopping
    min_improvement: float = 1e-3
    # False: cache the LoRA layers' prompt keys/values too (~3x cheaper on CPU, gradients
    # through the answer path only), refreshed every `prefix_refresh` steps; True: exact.
    exact_prefix: bool = False
    prefix_refresh: int = 4
    seed: int = 0
    threads: int | None = None  # None: leave torch's setting alone
    device: str | None = None  # None: CUDA when available, else CPU

    def fingerprint(self) -> dict[str, Any]:
        """What a resumed run must share with the interrupted one."""
        keep = (
            "rank",
            "alpha",
            "top_layers",
            "target_modules",
            "learning_rate",
            "epochs",
            "max_steps",
            "grad_accum",
            "max_answer_tokens",
            "max_user_tokens",
            "exact_prefix",
            "seed",
        )
        data = asdict(self)
        return {k: list(data[k]) if isinstance(data[k], tuple) else data[k] for k in keep}


@dataclass(frozen=True, slots=True)
class TrainProgress:
    phase: str  # "train", "eval" or "done"
    step: int
    total: int
    loss: float | None  # running mean of the training loss
    eta_s: float | None
    val_loss: float | None = None
    best_val_loss: float | None = None


@dataclass(slots=True)
class TrainResult:
    adapter_dir: Path
    steps: int
    total_steps: int
    train_examples: int
    val_examples: int
    initial_val_loss: float
    best_val_loss: float
    best_step: int
    stopped_early: bool
    seconds: float
    resumed_from: int = 0
    history: list[dict[str, float]] = field(default_factory=list)


ProgressFn = Callable[[TrainProgress], None]


@dataclass(frozen=True, slots=True)
class EncodedExample:
    prefix: tuple[int, ...]  # the chat-template system turn (creator-constant)
    suffix: tuple[int, ...]  # user turn + assistant header + answer + end-of-turn
    answer_len: int  # trailing tokens of `suffix` the loss is computed on


def encode_examples(
    tokenizer: Any, examples: Sequence[TrainingExample], config: TrainConfig
) -> list[EncodedExample]:
    """Token ids in the chat template, split at the end of the system turn."""
    end_id = tokenizer.eos_token_id
    if end_id is None:
        raise TrainingError("the tokenizer has no end-of-turn token (eos_token)")
    prefixes: dict[str, tuple[int, ...]] = {}
    encoded = []
    for example in examples:
        system_turn = tokenizer.apply_chat_template(example.messages()[:1], tokenize=False)
        prompt = tokenizer.apply_chat_template(
            example.messages(), tokenize=False, add_generation_prompt=True
        )
        if not prompt.startswith(system_turn):
            raise TrainingError("the chat template does not start with the system turn")
        if system_turn not in prefixes:
            prefixes[system_turn] = tuple(_ids(tokenizer, system_turn))
        user = _ids(tokenizer, prompt[len(system_turn) :])
        if len(user) > config.max_user_tokens:  # keep the turn header and the message's end
            head = 8
            user = user[:head] + user[len(user) - (config.max_user_tokens - head) :]
        answer = _ids(tokenizer, example.answer)[: config.max_answer_tokens] + [end_id]
        encoded.append(EncodedExample(prefixes[system_turn], tuple(user + answer), len(answer)))
    return encoded


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


class _PrefixKV:
    """Keys/values of the frozen layers for a prompt prefix, duck-typed as a transformers
    cache: `update` appends the new tokens' keys/values for this call without storing them,
    so the prefix can be reused by every example."""

    def __init__(self) -> None:
        self.kv: dict[int, tuple[Any, Any]] = {}
        self.recording = True

    def update(self, keys: Any, values: Any, layer_idx: int, *_: Any, **__: Any) -> tuple:
        import torch

        if self.recording:
            self.kv[layer_idx] = (keys, values)
            return keys, values
        past_k, past_v = self.kv[layer_idx]
        return torch.cat([past_k, keys], dim=-2), torch.cat([past_v, values], dim=-2)


@dataclass(slots=True)
class _Prefix:
    ids: tuple[int, ...]
    hidden: Any  # hidden state entering the first LoRA layer, (1, P, H)
    cache: _PrefixKV  # keys/values of every layer over the prefix


class PrefixCachedForward:
    """Answer logits of a causal LM whose layers below `first_trainable` are frozen.

    `exact=True`: the LoRA layers run over prefix + suffix with gradients (exact gradients).
    `exact=False` (cheaper): the LoRA layers' prefix keys/values are also cached, computed
    with the adapter as it was at the last `refresh()`; gradients then flow through the
    suffix only. Without gradients and right after a refresh both are exact, which is how
    validation runs.

    Works on transformers' Llama-style decoders (Qwen2, Llama, Mistral): `model.model` has
    `embed_tokens`, `layers`, `norm`, `rotary_emb`; `model.lm_head` maps to the vocabulary.
    """

    def __init__(self, causal_lm: Any, first_trainable: int, exact: bool = True) -> None:
        self.lm = causal_lm
        self.inner = causal_lm.model
        self.first = first_trainable
        self.exact = exact
        self._prefixes: dict[tuple[int, ...], _Prefix] = {}

    @property
    def device(self) -> Any:
        return self.inner.embed_tokens.weight.device

    def _run(self, layers: Sequence[Any], hidden: Any, start: int, cache: Any) -> Any:
        import torch

        length = hidden.shape[1]
        positions = torch.arange(start, start + length, device=hidden.device).unsqueeze(0)
        embeddings = self.inner.rotary_emb(hidden, positions)
        mask = _causal_mask(length, start, hidden.dtype, hidden.device)
        for layer in layers:
            hidden = layer(
                hidden,
                attention_mask=mask,
                position_ids=positions,
                past_key_values=cache,
                use_cache=cache is not None,
                position_embeddings=embeddings,
            )
            if isinstance(hidden, tuple):  # older transformers return (hidden, ...)
                hidden = hidden[0]
        return hidden

    def prefix(self, ids: tuple[int, ...]) -> _Prefix:
        import torch

        cached = self._prefixes.get(ids)
        if cached is None:
            cache = _PrefixKV()
            with torch.no_grad():
                hidden = self.inner.embed_tokens(torch.tensor([ids], device=self.device))
                hidden = self._run(self.inner.layers[: self.first], hidden, 0, cache)
            cached = self._prefixes[ids] = _Prefix(ids, hidden, cache)
            self._refresh_top(cached)
        return cached

    def _refresh_top(self, prefix: _Prefix) -> None:
        import torch

        training = self.lm.training
        self.lm.eval()  # no dropout in the cached keys/values
        prefix.cache.recording = True
        with torch.no_grad():
            self._run(self.inner.layers[self.first :], prefix.hidden, 0, prefix.cache)
        prefix.cache.recording = False
        self.lm.train(training)

    def refresh(self) -> None:
        """Recompute the LoRA layers' prefix keys/values with the adapter's current weights."""
        for prefix in self._prefixes.values():
            self._refresh_top(prefix)

    def answer_logits(self, example: EncodedExample) -> Any:
        """Logits predicting the answer tokens, (answer_len, vocab)."""
        import torch

        prefix = self.prefix(example.prefix)
        start = len(prefix.ids)
        # The last answer token is only a target, never an input.
        suffix = torch.tensor([example.suffix[:-1]], device=self.device)
        with torch.no_grad():
            hidden = self.inner.embed_tokens(suffix)
            hidden = self._run(self.inner.layers[: self.first], hidden, start, prefix.cache)
        if self.exact:
            full = torch.cat([prefix.hidden, hidden], dim=1)
            hidden = self._run(self.inner.layers[self.first :], full, 0, None)
        else:
            hidden = self._run(self.inner.layers[self.first :], hidden, start, prefix.cache)
        answer_hidden = self.inner.norm(hidden[:, -example.answer_len :])
        return self.lm.lm_head(answer_hidden)[0]

    def loss(self, example: EncodedExample) -> Any:
        import torch
        import torch.nn.functional as F

        logits = self.answer_logits(example)
        targets = torch.tensor(example.suffix[-example.answer_len :], device=logits.device)
        return F.cross_entropy(logits.float(), targets)


def _causal_mask(length: int, start: int, dtype: Any, device: Any) -> Any:
    """Additive mask (1, 1, length, start + length): query i sees keys 0..start + i."""
    import torch

    query = torch.arange(length, device=device).unsqueeze(1) + start
    key = torch.arange(start + length, device=device).unsqueeze(0)
    mask = torch.zeros(length, start + length, dtype=dtype, device=device)
    mask.masked_fill_(key > query, torch.finfo(dtype).min)
    return mask[None, None]


def reference_answer_logits(causal_lm: Any, example: EncodedExample) -> Any:
    """The same logits from one plain forward pass over the whole sequence (for tests)."""
    import torch

    ids = torch.tensor([list(example.prefix) + list(example.suffix[:-1])])
    logits = causal_lm(input_ids=ids.to(causal_lm.device)).logits
    return logits[0, -example.answer_len :]


def load_base(base_dir: Path, device: str | None = None) -> tuple[Any, Any]:
    """Tokenizer and float32 causal LM of a Hugging Face folder, frozen."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(
        base_dir, dtype=torch.float32, attn_implementation="sdpa"
    )
    model.to(resolve_device(device))
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return tokenizer, model


def resolve_device(device: str | None) -> str:
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def lora_config(num_layers: int, config: TrainConfig) -> Any:
    from peft import LoraConfig

    top = max(1, min(config.top_layers, num_layers))
    return LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
        layers_to_transform=list(range(num_layers - top, num_layers)),
        layers_pattern="layers",
        bias="none",
        task_type="CAUSAL_LM",
    )


def train_lora(
    base_dir: Path,
    dataset: TuneDataset,
    output_dir: Path,
    work_dir: Path,
    config: TrainConfig | None = None,
    progress: ProgressFn | None = None,
    resume: bool = False,
) -> TrainResult:
    """Train a LoRA adapter on `dataset.train`, keep the best (by validation loss) in
    `output_dir` as a peft folder, and checkpoint into `work_dir`.

    With `resume=True` a checkpoint in `work_dir` is continued (same config required);
    without one, training starts over. KeyboardInterrupt saves a checkpoint, then re-raises.
    """
    import torch
    from peft import get_peft_model

    config = config or TrainConfig()
    report = progress or (lambda _p: None)
    if not dataset.train:
        raise TrainingError("no training examples: the creator needs more posts")
    if config.threads:
        torch.set_num_threads(config.threads)
    device = resolve_device(config.device)
    random.seed(config.seed)
    torch.manual_seed(config.seed)

    # 1. model and adapter
    tokenizer, base = load_base(base_dir, device)
    num_layers = base.config.num_hidden_layers
    model = get_peft_model(base, lora_config(num_layers, config))
    first = num_layers - max(1, min(config.top_layers, num_layers))
    forward = PrefixCachedForward(model.get_base_model(), first, config.exact_prefix)

    # 2. data
    train = encode_examples(tokenizer, dataset.train, config)
    val = encode_examples(tokenizer, dataset.validation[: config.max_val_examples], config)
    per_step = config.grad_accum
    total_micro = len(train) * config.epochs
    total_steps = math.ceil(total_micro / per_step)
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)

    # 3. optimizer
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _schedule(config.warmup_steps, total_steps)
    )

    state: dict[str, Any] = {
        "step": 0,
        "best_val_loss": math.inf,
        "best_step": 0,
        "initial_val_loss": math.nan,
        "bad_evals": 0,
        "history": [],
        "stopped_early": False,
        "config": config.fingerprint(),
        "examples": [len(train), len(val)],
    }
    checkpoint = work_dir / CHECKPOINT
    if resume and (checkpoint / STATE_FILE).is_file():
        state = _load_checkpoint(checkpoint, model, optimizer, scheduler, state)
    resumed_from = state["step"]
    started = time.perf_counter()

    def evaluate() -> float:
        model.eval()
        forward.refresh()  # exact validation loss: the prefix as the current adapter sees it
        with torch.no_grad():
            losses = [forward.loss(ex).item() for ex in val]
        model.train()
        return sum(losses) / len(losses) if losses else math.nan

    if resumed_from == 0 and val:
        report(TrainProgress("eval", 0, total_steps, None, None))
        state["initial_val_loss"] = evaluate()

    # 4. loop: an optimizer step = `grad_accum` examples; the data order is a function of the
    # step, so a resumed run sees exactly the examples the interrupted one would have.
    model.train()
    running: list[float] = []
    step = state["step"]
    try:
        while step < total_steps and not state["stopped_early"]:
            indices = [i for i in range(step * per_step, (step + 1) * per_step) if i < total_micro]
            optimizer.zero_grad(set_to_none=True)
            step_loss = 0.0
            for i in indices:
                example = train[_order(len(train), i // len(train), config.seed)[i % len(train)]]
                loss = forward.loss(example) / len(indices)
                loss.backward()
                step_loss += loss.item()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            state["step"] = step
            if not config.exact_prefix and step % config.prefix_refresh == 0:
                forward.refresh()
            running = (running + [step_loss])[-20:]
            elapsed = time.perf_counter() - started
            eta = elapsed / (step - resumed_from) * (total_steps - step)
            mean_loss = sum(running) / len(running)
            report(TrainProgress("train", step, total_steps, mean_loss, eta))
            if step % config.eval_every == 0 or step == total_steps:
                val_loss = evaluate() if val else mean_loss
                state["history"].append({"step": step, "loss": mean_loss, "val_loss": val_loss})
                if val_loss < state["best_val_loss"] - config.min_improvement:
                    state.update(best_val_loss=val_loss, best_step=step, bad_evals=0)
                    model.save_pretrained(output_dir)
                else:
                    state["bad_evals"] += 1
                    state["stopped_early"] = state["bad_evals"] >= config.patience
                report(
                    TrainProgress(
                        "eval", step, total_steps, mean_loss, eta, val_loss, state["best_val_loss"]
                    )
                )
                _save_checkpoint(checkpoint, model, optimizer, scheduler, state)
    except KeyboardInterrupt:
        _save_checkpoint(checkpoint, model, optimizer, scheduler, state)
        raise
    if not (output_dir / "adapter_model.safetensors").is_file():
        model.save_pretrained(output_dir)  # no validation pass ran: keep the last weights
    seconds = time.perf_counter() - started
    report(TrainProgress("done", step, total_steps, None, 0.0, None, state["best_val_loss"]))
    return TrainResult(
        adapter_dir=output_dir,
        steps=step,
        total_steps=total_steps,
        train_examples=len(train),
        val_examples=len(val),
        initial_val_loss=state["initial_val_loss"],
        best_val_loss=state["best_val_loss"],
        best_step=state["best_step"],
        stopped_early=state["stopped_early"],
        seconds=seconds,
        resumed_from=resumed_from,
        history=state["history"],
    )


def _schedule(warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        remaining = max(1, total - warmup)
        return max(0.1, 1.0 - (step - warmup) / remaining)

    return factor


def _order(n: int, epoch: int, seed: int) -> list[int]:
    order = list(range(n))
    random.Random(f"{seed}:{epoch}").shuffle(order)
    return order


def _save_checkpoint(path: Path, model: Any, optimizer: Any, scheduler: Any, state: dict) -> None:
    """Written to a temporary folder, then swapped in: a kill never leaves half a checkpoint."""
    import torch

    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp / "adapter")
    torch.save(
        {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "python_rng": random.getstate(),
        },
        tmp / "optimizer.pt",
    )
    (tmp / STATE_FILE).write_text(json.dumps(_finite(state), indent=1))
    old = path.with_name(path.name + ".old")
    if path.exists():
        path.rename(old)
    os.replace(tmp, path)
    if old.exists():
        shutil.rmtree(old)


def _load_checkpoint(
    path: Path, model: Any, optimizer: Any, scheduler: Any, fresh: dict[str, Any]
) -> dict[str, Any]:
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    state = json.loads((path / STATE_FILE).read_text())
    if state.get("config") != fresh["config"] or state.get("examples") != fresh["examples"]:
        raise ResumeMismatch(
            f"the checkpoint in {path.parent} was made with other settings or data: run again "
            "with the same options, or without --resume to start over"
        )
    weights = load_file(str(path / "adapter" / "adapter_model.safetensors"))
    set_peft_model_state_dict(model, weights)
    extra = torch.load(path / "optimizer.pt", weights_only=False)
    optimizer.load_state_dict(extra["optimizer"])
    scheduler.load_state_dict(extra["scheduler"])
    torch.set_rng_state(extra["torch_rng"])
    random.setstate(extra["python_rng"])
    state["best_val_loss"] = _from_json(state["best_val_loss"])
    initial = state["initial_val_loss"]
    state["initial_val_loss"] = math.nan if initial is None else initial
    return state


def _finite(state: dict[str, Any]) -> dict[str, Any]:
    def fix(value: Any) -> Any:
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return {k: fix(v) for k, v in state.items()}


def _from_json(value: float | None) -> float:
    return math.inf if value is None else value


def load_tuned_model(base_dir: Path, adapter_dir: Path, device: str | None = None) -> Any:
    """The base model with a saved adapter applied, through peft (for checks and tests)."""
    from peft import PeftModel

    _, base = load_base(base_dir, device)
    return PeftModel.from_pretrained(base, str(adapter_dir))
