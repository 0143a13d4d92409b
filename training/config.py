"""The training stages' settings: one pydantic model per stage, read strictly from a TOML or YAML file.

The stage configs (``TokenizerConfig``, ``PretrainConfig``, ``SFTConfig``, ``EvalConfig``, ``PipelineConfig``)
and the parts they share (``DataConfig``, ``ModelConfig``, ``LoopConfig``, ``LoraConfig``) are pydantic
models themselves, not dataclasses validated through a parallel model, because:

* each field is written once: a second model would repeat every name, type and default, and drift;
* Python callers (tests, benchmarks, notebooks) build them with the same keywords as before, and get the
  same checks as a file does;
* they live here, apart from the stage code, and import nothing heavier than pydantic, so ``botkit train``
  rejects a bad file before it imports torch, and the loop, the schedule, the corpora and the stages all
  take their settings from this one module (which is what keeps them free of import cycles).

Strictness, paths relative to the file and one-line errors come from ``config_file.py``: read a stage's
settings with ``config_file.load(PretrainConfig, "my.toml", section="pretrain")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import Field

from botkit.training.config_file import ConfigPath, ConfigSection

Stage = Literal["tokenizer", "pretrain", "sft", "eval"]
STAGES: tuple[Stage, ...] = get_args(Stage)  # in pipeline order


class DataConfig(ConfigSection):
    """Where a stage's data comes from and how it is split.

    Attributes:
        text_files: plain-text corpora (``.txt`` or ``.jsonl`` with a ``text`` field), files or folders.
        dialogue_files: dialogue JSONL files or folders (chat format).
        chatterbot_languages: chatterbot-corpus languages to import as dialogues (``english``, ``chinese``);
            a language listed twice counts twice.
        chatterbot_exclude: chatterbot-corpus categories (file names without ``.yml``) to leave out.
        qa_csv_files: CSV files of question/answer pairs (columns ``question``, ``answer``) to import.
        chitchat: import the Chit-Chat Challenge conversations of the installed chitchat-dataset package
            (about 4,000 dialogues; the first speaker is the user, the second the assistant).
        chitchat_files: other files in the chitchat-dataset format to import (e.g. a slice of it).
        system_prompt: a system turn put first in imported dialogues (empty = none).
        validation_fraction: share of records held out for validation (by hash, so stable).
        split_seed: salt of the split hash; change it to draw another split.
        on_bad_line: ``"skip"`` logs a malformed JSONL line (file:line) and goes on, ``"error"`` stops.
        min_chars: text documents shorter than this are dropped.
    """

    text_files: list[ConfigPath] = Field(default_factory=list)
    dialogue_files: list[ConfigPath] = Field(default_factory=list)
    chatterbot_languages: list[str] = Field(default_factory=list)
    chatterbot_exclude: list[str] = Field(default_factory=list)
    qa_csv_files: list[ConfigPath] = Field(default_factory=list)
    chitchat: bool = False
    chitchat_files: list[ConfigPath] = Field(default_factory=list)
    system_prompt: str = ""
    validation_fraction: float = Field(0.05, ge=0.0, lt=1.0)
    split_seed: int = 0
    on_bad_line: Literal["skip", "error"] = "skip"
    min_chars: int = 1


class ModelConfig(ConfigSection):
    """The transformer to train.

    Attributes:
        init_from: a local Hugging Face model directory to continue from; when set the size fields
            below are ignored (the checkpoint's own config wins).
        architecture: ``llama`` (RMSNorm, RoPE, SwiGLU) or ``gpt2`` (LayerNorm, learned positions).
        hidden_size: width of the residual stream.
        num_layers: transformer blocks.
        num_heads: attention heads (``hidden_size`` must divide by it).
        intermediate_size: MLP width (0 = about 8/3 x hidden for llama, 4 x for gpt2).
        context_length: positions the model attends over; also the packing block size.
        dropout: dropout probability (0 keeps runs bit-for-bit reproducible across resumes).
        tie_embeddings: share input and output embeddings (saves vocab x hidden parameters).
    """

    init_from: ConfigPath | None = None
    architecture: Literal["llama", "gpt2"] = "llama"
    hidden_size: int = Field(256, gt=0)
    num_layers: int = Field(4, gt=0)
    num_heads: int = Field(4, gt=0)
    intermediate_size: int = 0
    context_length: int = Field(256, gt=1)
    dropout: float = 0.0
    tie_embeddings: bool = True


class LoopConfig(ConfigSection):
    """Optimisation and bookkeeping of one training run (the loop shared by pretraining and SFT).

    Attributes:
        max_steps: optimizer steps to run (the schedule's length).
        micro_batch_size: blocks per forward pass on each process.
        grad_accum_steps: micro-batches per optimizer step on each process.
        learning_rate: peak learning rate.
        min_lr_ratio: the cosine decays to ``learning_rate * min_lr_ratio``.
        warmup_steps: steps of linear warmup from 0.
        weight_decay: AdamW decay, applied to matrices only (not to norms and biases).
        beta1: AdamW beta1.
        beta2: AdamW beta2.
        grad_clip: clip the global gradient norm to this (0 = off).
        eval_every: steps between validation passes (0 = only at the end).
        eval_batches: micro-batches per validation pass (0 = the whole validation set).
        checkpoint_every: steps between checkpoints (0 = only at the end).
        log_every: steps between training-loss records.
        seed: seeds the model init, data order and dropout.
        bf16: bf16 autocast when on CUDA (ignored on CPU, where it is slow).
        compile: wrap the model in ``torch.compile``.
        max_minutes: wall-clock budget of one invocation (0 = none); on reaching it the run checkpoints and
            stops without marking the stage finished, and the next invocation (with ``resume``) continues
            from the checkpoint to ``max_steps`` on the same schedule.
        resume: continue from ``checkpoints/last`` in the output directory if it exists.
        num_threads: torch CPU threads (0 = leave torch's default).
        progress: show a progress bar (main rank only).
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
    """

    max_steps: int = Field(1000, gt=0)
    micro_batch_size: int = Field(8, gt=0)
    grad_accum_steps: int = Field(1, gt=0)
    learning_rate: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = Field(50, ge=0)
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    eval_every: int = 200
    eval_batches: int = 0
    checkpoint_every: int = 500
    log_every: int = Field(10, gt=0)
    seed: int = 0
    bf16: bool = True
    compile: bool = False
    max_minutes: float = 0.0
    resume: bool = True
    num_threads: int = 0
    progress: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"


class LoraConfig(ConfigSection):
    """LoRA adapters (through peft).

    Attributes:
        enabled: train adapters instead of all weights.
        r: adapter rank.
        alpha: scaling numerator (the update is scaled by alpha / r).
        dropout: dropout on the adapter input.
        target_modules: module names to adapt (empty = peft's default for the architecture).
    """

    enabled: bool = False
    r: int = Field(8, gt=0)
    alpha: int = 16
    dropout: float = 0.0
    target_modules: list[str] = Field(default_factory=list)


class VAEConfig(ConfigSection):
    """Weight-compression stage settings (``training/compress/``, ``botkit train vae``).

    Attributes:
        model_dir: the model to compress.
        output_dir: where the compressed checkpoint goes (config, tokenizer, ``compressed.safetensors``,
            ``compressed.json``, ``compression.json``).
        method: ``vq`` (the learned codec), or the baselines ``gptq``, ``rtn`` and ``float`` (stored whole).
        bits: ``vq``: codebooks of 256 entries (each costs 8 bits per ``dim`` weights); ``gptq``/``rtn``:
            bits per code.
        group_size: ``gptq``/``rtn``: input columns per grid (0 = one grid per output channel).
        dim: ``vq``: weights per coded piece.
        iterations: ``vq``: k-means iterations per codebook.
        refine_rounds: ``vq``: rounds re-learning each codebook against the others.
        error_feedback: ``vq``: code each matrix column group by column group, feeding each group's
            error into the columns still to code (GPTQ's update, with the learned codebooks).
        fine_tune_steps: ``vq``: Adam steps on the layers' output error (0 = none).
        tune_steps: Adam steps of end-to-end tuning once every matrix is coded: codes fixed, the
            codebooks, scales and norms trained to match the float model's next-token distribution
            (KL) on the calibration dialogues (0 = none; applies to ``vq``, and to ``gptq``/``rtn``
            only with ``tune_baselines``). The bits per weight do not change.
        tune_lr: its Adam learning rate (decayed to zero by a cosine).
        tune_batch: calibration dialogues per step.
        tune_baselines: tune ``gptq``/``rtn`` scales and norms the same way (off: the plain baselines).
        calibration: dialogue sources; the first ``calibration_dialogues`` of their training split weight
            the reconstruction (the project's persona and chatterbot dialogues by default).
        calibration_dialogues: how many.
        seed: seeds the codebooks' initial entries.
        num_threads: torch CPU threads (0 = leave torch's default).
    """

    model_dir: ConfigPath = Path("out/sft")
    output_dir: ConfigPath = Path("out/vae")
    method: Literal["vq", "gptq", "rtn", "float"] = "vq"
    bits: int = Field(4, ge=1, le=8)
    group_size: int = Field(0, ge=0)
    dim: int = Field(8, gt=0)
    iterations: int = Field(10, ge=0)
    refine_rounds: int = Field(1, ge=0)
    error_feedback: bool = True
    fine_tune_steps: int = Field(40, ge=0)
    tune_steps: int = Field(100, ge=0)
    tune_lr: float = Field(1e-4, gt=0)
    tune_batch: int = Field(8, gt=0)
    tune_baselines: bool = False
    calibration: DataConfig = Field(
        default_factory=lambda: DataConfig(
            dialogue_files=[Path(__file__).resolve().parent / "data" / "persona"],
            chatterbot_languages=["english", "chinese"],
            chatterbot_exclude=["tech_support", "coding", "computers"],
            validation_fraction=0.08,
        )
    )
    calibration_dialogues: int = Field(256, gt=0)
    seed: int = 0
    num_threads: int = 0


class TokenizerConfig(ConfigSection):
    """Tokenizer stage settings.

    Attributes:
        output_dir: where the tokenizer files go.
        data: corpora to learn merges from (text and dialogue contents both count).
        vocab_size: size of the vocabulary, special tokens included.
        min_frequency: pairs seen fewer times are not merged.
        max_documents: cap on documents read (0 = all), to bound time on large corpora.
        model_max_length: context length recorded in the tokenizer config.
    """

    output_dir: ConfigPath = Path("out/tokenizer")
    data: DataConfig = Field(default_factory=DataConfig)
    vocab_size: int = Field(8000, gt=0)
    min_frequency: int = 2
    max_documents: int = 0
    model_max_length: int = 512


class PretrainConfig(ConfigSection):
    """Pretraining stage settings.

    Attributes:
        output_dir: where the model, metrics, plot and checkpoints go.
        tokenizer: a tokenizer directory (from the tokenizer stage); empty = the one in ``model.init_from``.
        data: plain-text corpora and the validation split.
        model: the transformer (or the checkpoint to continue).
        train: the loop settings.
    """

    output_dir: ConfigPath = Path("out/pretrain")
    tokenizer: ConfigPath | None = None
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: LoopConfig = Field(default_factory=LoopConfig)


class SFTConfig(ConfigSection):
    """SFT stage settings.

    Attributes:
        output_dir: where the fine-tuned model, metrics, plot and checkpoints go.
        init_from: the model directory to fine-tune (e.g. the pretraining stage's output).
        data: dialogue sources and the validation split.
        lora: LoRA settings (off = full fine-tuning).
        context_length: block size for packing (0 = the model's context length).
        train: the loop settings.
    """

    output_dir: ConfigPath = Path("out/sft")
    init_from: ConfigPath = Path("out/pretrain")
    data: DataConfig = Field(default_factory=DataConfig)
    lora: LoraConfig = Field(default_factory=LoraConfig)
    context_length: int = 0
    train: LoopConfig = Field(default_factory=LoopConfig)


class EvalConfig(ConfigSection):
    """Evaluation stage settings.

    Attributes:
        model_dir: the model to evaluate.
        output_dir: where ``eval.json`` / ``eval.md`` go (empty = ``model_dir``).
        data: dialogue (and optionally text) sources; their validation split is evaluated.
        baselines: other model directories whose dialogue perplexity is reported alongside.
        max_dialogues: cap on held-out dialogues (0 = all).
        max_replies: held-out dialogues to generate replies for (0 = none).
        prompts: fixed prompts whose replies are shown in the report.
        max_new_tokens: reply length cap.
        repetition_penalty: as in the backend's default sampling.
        subset_size: the first N held-out dialogues are also scored alone and saved as
            ``heldout_subset.jsonl``, so a test can recheck the figures quickly.
        num_threads: torch CPU threads (0 = leave torch's default).
        weights_dtype: the precision the model is shipped in; with ``bfloat16`` or ``float16`` the weights
            are rounded to it before scoring (the figures are the shipped weights'), and the float32
            perplexity is reported beside, so the cost of the rounding is measured.
    """

    model_dir: ConfigPath = Path("out/sft")
    output_dir: ConfigPath | None = None
    data: DataConfig = Field(default_factory=DataConfig)
    baselines: list[ConfigPath] = Field(default_factory=list)
    max_dialogues: int = 0
    max_replies: int = 64
    prompts: list[str] = Field(default_factory=lambda: ["Hello!", "What is botkit?", "你好", "你是谁?"])
    max_new_tokens: int = Field(48, gt=0)
    repetition_penalty: float = 1.1
    subset_size: int = 16
    num_threads: int = 0
    weights_dtype: Literal["float32", "bfloat16", "float16"] = "float32"


class GANConfig(ConfigSection):
    """Adversarial stage settings (``training/gan/``): a discriminator of human vs generated replies.

    Attributes:
        output_dir: where the model, ``metrics.jsonl``, ``gan.png``, ``synthetic.jsonl`` and checkpoints go.
        init_from: the generator to start from (e.g. the SFT output); also the KL reference.
        discriminator_from: a model directory to initialise the discriminator from (None = ``init_from``);
            its tokenizer must be the generator's.
        discriminator_model: a fresh small transformer instead (sized here, on the generator's tokenizer).
        discriminator_lr: the discriminator's peak learning rate.
        discriminator_warmup: discriminator-only steps before the first generator update, each on a fresh
            batch of human replies against the generator's samples (SeqGAN pre-trains its discriminator
            the same way): without them the first rewards come from an untrained classifier, all near 0.5.
        data: dialogue sources; every assistant turn gives one (context, human reply) pair.
        credit: ``partial`` scores every reply prefix (REGS), ``sequence`` gives each token the whole reply's.
        kl_coef: weight of KL(generator || reference) per reply token.
        teacher_forcing_every: one MLE step on human replies after every N policy steps (0 = none).
        max_context: context tokens kept (the most recent ones).
        max_new_tokens: reply length cap when sampling.
        temperature: sampling temperature of the generator's replies.
        baseline_decay: the reward baseline is this moving average of past mean rewards.
        collapse_reward: mean reward under this for ``patience`` steps in a row is a collapse.
        patience: steps in a row a collapse or one repeated reply is tolerated before the run stops.
        synthetic_dialogues: training contexts to answer into ``synthetic.jsonl`` at the end (0 = none).
        synthetic_threshold: keep a synthetic reply whose P(human) is at least this.
        train: the loop settings (``micro_batch_size`` = contexts per step per process).
    """

    output_dir: ConfigPath = Path("out/gan")
    init_from: ConfigPath = Path("out/sft")
    discriminator_from: ConfigPath | None = None
    discriminator_model: ModelConfig | None = None
    discriminator_lr: float = 1e-4
    discriminator_warmup: int = Field(0, ge=0)
    data: DataConfig = Field(default_factory=DataConfig)
    credit: Literal["partial", "sequence"] = "partial"
    kl_coef: float = Field(0.1, ge=0.0)
    teacher_forcing_every: int = Field(1, ge=0)
    max_context: int = Field(192, gt=0)
    max_new_tokens: int = Field(32, gt=0)
    temperature: float = Field(1.0, gt=0.0)
    baseline_decay: float = Field(0.9, ge=0.0, lt=1.0)
    collapse_reward: float = Field(0.02, ge=0.0, lt=1.0)
    patience: int = Field(5, gt=0)
    synthetic_dialogues: int = Field(0, ge=0)
    synthetic_threshold: float = Field(0.5, ge=0.0, le=1.0)
    train: LoopConfig = Field(default_factory=lambda: LoopConfig(learning_rate=1e-5, warmup_steps=0))


class PipelineConfig(ConfigSection):
    """The whole recipe: every stage into one run directory, then optionally a shipped copy.

    Attributes:
        output_dir: run directory; stages write into its sub-folders.
        stages: which stages to run (they run in pipeline order whatever the order here).
        tokenizer: tokenizer stage settings (its ``output_dir`` is set by the pipeline).
        pretrain: pretraining settings (``output_dir`` and ``tokenizer`` are set by the pipeline).
        sft: SFT settings (``output_dir`` and ``init_from`` are set by the pipeline).
        eval: evaluation settings (``model_dir``, ``output_dir`` set; baselines default to pretrain).
        gan: when set, the adversarial stage runs after SFT (into ``gan/``) and eval scores its model.
        ship_to: copy the final model, its evaluation and a model card here (e.g. botkit/data/default-model).
        card_template: Markdown with ``{placeholders}`` filled from the run to make the card.
        vae: when set, the model's weights are compressed last (into ``vae/``; not shipped).
        compare_with: earlier models to judge the new one against after evaluation (``botkit train
            compare``: bits per byte on held-out chitchat and dialogues, discriminator test, latency), into
            ``compare/``; shipped with the model and read by the card.
        compare_dialogues: held-out dialogues per set for the comparison (0: all of the test half).
        tune_generation: after evaluation, choose the sampling defaults on the judge's tuning half
            (``botkit train tune-generation``) and write them into the model's ``generation_config.json``,
            which ships with it and which botkit reads; the comparison then samples with them.
        tune_dialogues: held-out dialogues per set for that choice (0: all of the tuning half).
        sweep_file: the model-size sweep (``bench/model_size_sweep.py`` output) the recipe's shape was
            chosen from, shown in the card.
    """

    output_dir: ConfigPath = Path("out/pipeline")
    stages: list[Stage] = Field(default_factory=lambda: list(STAGES))
    tokenizer: TokenizerConfig = Field(default_factory=TokenizerConfig)
    pretrain: PretrainConfig = Field(default_factory=PretrainConfig)
    sft: SFTConfig = Field(default_factory=SFTConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    gan: GANConfig | None = None
    ship_to: ConfigPath | None = None
    card_template: ConfigPath | None = None
    vae: VAEConfig | None = None
    compare_with: list[ConfigPath] = Field(default_factory=list)
    compare_dialogues: int = Field(60, ge=0)
    sweep_file: ConfigPath | None = None
    tune_generation: bool = False
    tune_dialogues: int = Field(60, ge=0)
