"""Training: the stages that turn raw text and dialogues into the dialogue model botkit serves.

One module per stage (``data``, ``tokenizer``, ``pretrain``, ``sft``, ``evaluate``), one config object per
stage, presets under ``training/presets``. The stages share one training loop (``loop``) so pretraining
and fine-tuning get the same schedule, checkpointing, DDP and logging. Heavy imports (torch,
transformers) stay inside the stage modules so ``botkit.training.cli`` loads fast.
"""
