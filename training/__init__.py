"""Training: the stages that turn raw text and dialogues into the dialogue model botkit serves.

One module per stage (``tokenizer``, ``pretrain``, ``sft``, ``evaluate``, and ``pipeline`` for all of them),
one pydantic config per stage (all in ``config``, read from TOML or YAML by ``config_file``), presets under
``training/presets``. The stages share one training loop (``loop``) so pretraining and fine-tuning get the
same schedule, checkpointing, DDP and logging. Heavy imports (torch, transformers) happen when a stage
runs, not when ``botkit.training.cli`` loads, so the command starts fast and rejects a bad config at once.
"""
