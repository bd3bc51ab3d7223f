"""Voice tuning: a LoRA adapter per creator, trained on their own posts.

- `dataset`: training examples (fan message -> creator reply, topic -> creator post), with the
  voice evaluation's judge/test posts left out;
- `base_model`: the Hugging Face folder of the packaged chat model that adapters train on;
- `trainer`: LoRA training with peft (loss on the answer only, early stopping, resumable);
- `adapters`: the versioned adapter store in the data directory;
- `job`: one tuning run, posts to stored adapter (what `persona tune` calls).
"""
