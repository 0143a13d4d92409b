"""``eval_gan.md`` and ``eval_gan.png``: the tables and the quality-diversity curves of ``eval-gan``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

NAMES = {"gan": "GAN", "mle": "continued MLE", "start": "start (no extra training)"}
COLUMNS = [("unigram_f1", "unigram F1"), ("bleu_2", "BLEU-2"), ("bleu", "BLEU-4"),
           ("distinct_1", "distinct-1"), ("distinct_2", "distinct-2"), ("self_bleu", "self-BLEU-4"),
           ("discriminator_accuracy", "discriminator acc.")]  # fmt: skip


def _ms(cell: dict[str, float], pct: bool = False) -> str:
    if pct:
        return f"{cell['mean']:.1%} ± {cell['sd']:.1%}"
    return f"{cell['mean']:.4f} ± {cell['sd']:.4f}"


def to_markdown(result: dict[str, Any]) -> str:
    """The report: settings, compute per arm, the sweep table, bits per byte, the verdict's grid and words."""
    s, agg, v = result["settings"], result["aggregate"], result["verdict"]
    seeds = ", ".join(map(str, s["seeds"]))
    lines = [
        "# GAN vs continued MLE on held-out dialogue",
        "",
        f"Model `{s['model']}`; seeds {seeds}; {s['gan_steps']} GAN steps against "
        f"{s['generator_updates_per_arm']} continued-MLE updates (each arm {s['generator_updates_per_arm']} "
        f"generator optimizer steps); {s['contexts']} held-out contexts ({s['held_out']}); bits per byte on "
        f"the {s['bits_dialogues']} dialogues they come from; sampling: {s['sampling']}, at most "
        f"{s['max_new_tokens']} new tokens; {s['torch_threads']} torch threads; {result['wall_s']} s. "
        "Figures: mean ± sd over seeds."
        + (
            f" **Partial: {len(s['seeds'])} of the {len(s['seeds_asked'])} seeds asked for "
            f"({', '.join(map(str, s['seeds_asked']))}) had finished when this was written.**"
            if len(s["seeds"]) < len(s.get("seeds_asked", s["seeds"]))
            else ""
        ),
        "",
        "## Verdict",
        "",
        v["words"],
        "",
        "## Training compute per arm (per seed)",
        "",
        "| seed | arm | optimizer steps | contexts | sampled reply tokens | human reply tokens | wall s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in result["runs"]:
        for arm, t in run["training"].items():
            lines.append(
                f"| {run['seed']} | {NAMES[arm]} | {t.get('optimizer_steps')} | {t.get('contexts')} | "
                f"{t.get('sampled_reply_tokens', 0)} | {t.get('human_reply_tokens')} | "
                f"{t.get('wall_s', 0):.0f} |"
            )
    head = "| temperature | model | " + " | ".join(label for _, label in COLUMNS) + " |"
    lines += ["", "## Quality and diversity by temperature", "", head, "| --- " * (len(COLUMNS) + 2) + "|"]
    for i, t in enumerate(s["temperatures"]):
        for name, m in agg.items():
            cells = [_ms(m["sweep"][i][k], k == "discriminator_accuracy") for k, _ in COLUMNS]
            lines.append(f"| {t:g} | {NAMES.get(name, name)} | " + " | ".join(cells) + " |")
    h = result["human"]
    lines.append(
        f"| | human references | | | | {h['distinct_1']:.4f} | {h['distinct_2']:.4f} | "
        f"{h['self_bleu']:.4f} | 50% |"
    )
    lines += ["", "## Held-out bits per byte (no sampling)", "", "| model | bits per byte |", "| --- | --- |"]
    lines += [f"| {NAMES.get(n, n)} | {_ms(m['bits_per_byte'])} |" for n, m in agg.items()]
    for key in ("f1_at_distinct2", "bleu_at_self_bleu"):
        g = v[key]
        lines += ["", f"## The rule: {g['quality']} at matched {g['diversity']} ({g['call']})", ""]
        if not g["points"]:
            lines.append(f"No call: {g['call']} (range {g['range'][0]:.4f} to {g['range'][1]:.4f}).")
            continue
        lines += [
            f"| {g['diversity']} | GAN | continued MLE | difference | se | "
            f"call (margin {g['margin']:g} x se) |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {p['x']:.4f} | {p['gan']:.4f} | {p['mle']:.4f} | {p['difference']:+.4f} | {p['se']:.4f} | "
            f"{p['call']} |"
            for p in g["points"]
        ]
    lines += ["", "## Example replies (first seed, first contexts)", ""]
    run = result["runs"][0]
    for name, m in run["models"].items():
        for row in m["sweep"]:
            for ex in row["examples"][:2]:
                lines.append(
                    f"- {NAMES.get(name, name)}, T={row['temperature']:g}: {_cell(ex['reply'])} "
                    f"(reference: {_cell(ex['reference'])})"
                )
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return (text.replace("|", "\\|").replace("\n", " ") or "(empty)")[:160]


def plot(result: dict[str, Any], path: Path) -> None:
    """Three panels: F1 against distinct-2, BLEU against self-BLEU (points labelled by temperature,
    error bars one sd over seeds), and the discriminator's accuracy against temperature."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agg = result["aggregate"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    panels = [(axes[0], "distinct_2", "unigram_f1", "distinct-2 (more diverse →)", "unigram F1"),
              (axes[1], "self_bleu", "bleu_2", "self-BLEU-4 (← more diverse)", "BLEU-2")]  # fmt: skip
    for ax, xk, yk, xl, yl in panels:
        for name, m in agg.items():
            xs = [c[xk]["mean"] for c in m["sweep"]]
            ys = [c[yk]["mean"] for c in m["sweep"]]
            xerr, yerr = [c[xk]["sd"] for c in m["sweep"]], [c[yk]["sd"] for c in m["sweep"]]
            ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, marker="o", ms=4, lw=1.2, capsize=2,
                        label=NAMES.get(name, name))  # fmt: skip
            for c, x, y in zip(m["sweep"], xs, ys, strict=True):
                ax.annotate(f"{c['temperature']:g}", (x, y), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")  # fmt: skip
        human = result["human"]
        if xk in human:
            ax.axvline(human[xk], color="grey", ls="--", lw=1, label="human references")
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ax = axes[2]
    for name, m in agg.items():
        ts = [c["temperature"] for c in m["sweep"]]
        acc = [c["discriminator_accuracy"] for c in m["sweep"]]
        ax.errorbar(ts, [a["mean"] for a in acc], yerr=[a["sd"] for a in acc], marker="o", ms=4, lw=1.2,
                    capsize=2, label=NAMES.get(name, name))  # fmt: skip
    ax.axhline(0.5, color="grey", ls="--", lw=1)
    ax.set_xlabel("temperature")
    ax.set_ylabel("fresh discriminator accuracy (0.5 = human-like)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    seeds = len(result["runs"])
    model = result["settings"]["model"]
    fig.suptitle(f"{model}: GAN vs continued MLE, {seeds} seed(s); point labels: temperature")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
