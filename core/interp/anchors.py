"""Attribute anchors: one LoRA adapter per attribute pole on SmolLM2-135M-Instruct.

No attribute corpus ships offline, so each pole's corpus is made by the base model itself:

1. for every training topic, the base model writes a few short texts under a pole instruction
   ("... in a warm, enthusiastic, very positive tone"), sampled with a seeded generator;
2. a text is kept only if the attribute's lexicon/formula scorer (VADER, the formality lexicon,
   Flesch reading ease; see :mod:`.scorers`) places it on that pole's side of the threshold
   learned from the labelled sentences;
3. the adapter learns to produce the kept texts from a *neutral* instruction ("Write two or
   three sentences about TOPIC."), so that the pole's style is in the adapter, not in the prompt.

The loss is on the answer tokens only. Corpora, adapters and their configuration are stored
under ``DATA_HOME/interp/seed-S/`` and reused when the configuration matches; everything is
seeded (generation, data order, LoRA initialisation).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..paths import data_path
from .scorers import ATTRIBUTES, SCORERS, score, split

POLE_STYLE = {
    ("sentiment", "positive"): "in a warm, enthusiastic, very positive tone",
    ("sentiment", "negative"): "in a bitter, disappointed, very negative tone",
    ("formality", "formal"): "in formal, official and impersonal language, as in a business letter",
    ("formality", "informal"): "casually, like a text message to a friend, with slang and contractions",
    ("simplicity", "simple"): "with very short sentences and easy words that a small child knows",
    ("simplicity", "complex"): "with long sentences and sophisticated academic vocabulary",
}
TRAIN_TOPICS = (
    "a new restaurant",
    "the weather today",
    "a train journey",
    "a football match",
    "a city park",
    "a summer holiday",
    "a new phone",
    "the local library",
    "a birthday party",
    "a job interview",
    "a mountain hike",
    "a rainy weekend",
    "a school trip",
    "a music festival",
    "a hospital visit",
    "a new neighbour",
    "a cooking class",
    "an online course",
    "a bicycle ride",
    "a museum visit",
    "a family dinner",
    "a power cut",
    "a hotel stay",
    "a garden",
    "a company meeting",
    "a science fair",
    "a lost wallet",
    "a theatre play",
    "a winter morning",
    "a farmers' market",
    "a software update",
    "a road trip",
    "a dentist appointment",
    "a beach day",
    "a book club",
    "a moving day",
    "a coffee shop",
    "a marathon",
    "a camping trip",
    "a new car",
)
# Held out from training: the experiment's prompts.
TEST_TOPICS = ("a village fair", "a ferry crossing", "a new bakery", "an art class", "a night market", "a snowstorm")


def neutral_prompt(topic: str) -> list[dict]:
    return [{"role": "user", "content": f"Write two or three sentences about {topic}."}]


def pole_prompt(attribute: str, pole: str, topic: str) -> list[dict]:
    style = POLE_STYLE[(attribute, pole)]
    return [{"role": "user", "content": f"Write two or three sentences about {topic}, {style}."}]


@dataclass(frozen=True)
class AnchorConfig:
    samples_per_topic: int = 3
    max_new_tokens: int = 60
    temperature: float = 0.9
    rank: int = 8
    lora_alpha: int = 16
    epochs: int = 4
    batch_size: int = 8
    learning_rate: float = 1e-3
    topics: int = len(TRAIN_TOPICS)  # the first N training topics (fewer for quick runs)

    def as_dict(self) -> dict:
        return asdict(self)


def anchors_dir(seed: int) -> Path:
    return data_path("interp", f"seed-{seed}")


def adapter_name(attribute: str, pole: str) -> str:
    return f"{attribute}-{pole}"


def pole_threshold(attribute: str) -> float:
    """Midpoint of the two poles' mean scores on the labelled training sentences (primary scorer)."""
    train, labels, _, _ = split(attribute)
    scores = score(train, attribute, SCORERS[attribute][0])
    return float((scores[labels == 1].mean() + scores[labels == 0].mean()) / 2)


# -- corpus ---------------------------------------------------------------------------------------
@torch.inference_mode()
def chat_replies(model, tokenizer, chats: list[list[dict]], max_new_tokens: int, sampling: dict) -> list[str]:
    """One reply per chat prompt, in one left-padded batch; ``sampling`` goes to ``generate``
    (the caller seeds torch's generator)."""
    tokenizer.padding_side = "left"
    texts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats]
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    out = model.generate(**batch, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, **sampling)
    replies = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    return [t.strip() for t in replies]


def generate_texts(model, tokenizer, prompts: list[list[dict]], max_new_tokens: int, temperature: float, seed: int):
    """One sampled reply per chat prompt, in seeded batches of 16."""
    sampling = (
        {"do_sample": True, "temperature": temperature, "top_p": 0.95} if temperature > 0 else {"do_sample": False}
    )
    texts = []
    for start in range(0, len(prompts), 16):
        torch.manual_seed(seed * 1_000_003 + start)
        texts += chat_replies(model, tokenizer, prompts[start : start + 16], max_new_tokens, sampling)
    return texts


def build_corpus(model, tokenizer, attribute: str, pole: str, config: AnchorConfig, seed: int) -> dict:
    """Generated texts for one pole, filtered by the attribute's primary scorer."""
    topics = [t for t in TRAIN_TOPICS[: config.topics] for _ in range(config.samples_per_topic)]
    index = list(ATTRIBUTES).index(attribute) * 2 + ATTRIBUTES[attribute].index(pole)
    texts = generate_texts(
        model,
        tokenizer,
        [pole_prompt(attribute, pole, t) for t in topics],
        config.max_new_tokens,
        config.temperature,
        seed * 100 + index,
    )
    scores = score(texts, attribute, SCORERS[attribute][0])
    threshold = pole_threshold(attribute)
    high = ATTRIBUTES[attribute][0] == pole
    keep = [(s > threshold) if high else (s < threshold) for s in scores]
    examples = [
        {"topic": t, "text": x, "score": float(s)} for t, x, s, k in zip(topics, texts, scores, keep) if k and x
    ]
    return {
        "attribute": attribute,
        "pole": pole,
        "generated": len(texts),
        "kept": len(examples),
        "threshold": threshold,
        "examples": examples,
    }


# -- training -------------------------------------------------------------------------------------
def training_batches(tokenizer, examples: list[dict], batch_size: int, rng: np.random.Generator):
    """(input_ids, attention_mask, labels) batches; labels are -100 outside the answer."""
    order = rng.permutation(len(examples))
    for start in range(0, len(order), batch_size):
        rows = []
        for i in order[start : start + batch_size]:
            prompt = tokenizer.apply_chat_template(
                neutral_prompt(examples[i]["topic"]), tokenize=False, add_generation_prompt=True
            )
            prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            answer_ids = tokenizer(examples[i]["text"] + "<|im_end|>", add_special_tokens=False)["input_ids"]
            rows.append((prompt_ids + answer_ids, [-100] * len(prompt_ids) + answer_ids))
        width = max(len(ids) for ids, _ in rows)
        ids = torch.full((len(rows), width), tokenizer.pad_token_id)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        labels = torch.full((len(rows), width), -100)
        for r, (row_ids, row_labels) in enumerate(rows):
            ids[r, : len(row_ids)] = torch.tensor(row_ids)
            mask[r, : len(row_ids)] = 1
            labels[r, : len(row_labels)] = torch.tensor(row_labels)
        yield ids, mask, labels


def train_adapter(
    base, tokenizer, examples: list[dict], config: AnchorConfig, seed: int, out: Path, progress=None
) -> dict:
    """Train one LoRA adapter on ``examples`` and save it to ``out``; returns the loss curve."""
    from peft import LoraConfig, get_peft_model

    if not examples:
        raise ValueError(f"no training texts for {out.name}: the scorer rejected every generated text")
    torch.manual_seed(seed)
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=0.0,
        task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    )
    model = get_peft_model(base, lora)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    rng = np.random.default_rng(seed)
    losses = []
    model.train()
    for epoch in range(config.epochs):
        for ids, mask, labels in training_batches(tokenizer, examples, config.batch_size, rng):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
        if progress:
            progress(f"{out.name}: epoch {epoch + 1}/{config.epochs}, loss {np.mean(losses[-5:]):.3f}")
    model.eval()
    model.save_pretrained(out)
    model.unload()  # the base model gets its plain layers back
    return {"losses": losses}


def train_anchors(
    seed: int = 0,
    config: AnchorConfig | None = None,
    attributes: tuple[str, ...] = tuple(ATTRIBUTES),
    progress: Callable[[str], None] | None = None,
    force: bool = False,
) -> Path:
    """Build the pole corpora and train every pole's adapter (cached); returns the folder."""
    from ..llm.models import DEFAULT_MODEL, load_model

    config = config or AnchorConfig()
    folder = anchors_dir(seed)
    manifest = folder / "anchors.json"
    wanted = {"seed": seed, "config": config.as_dict(), "attributes": list(attributes)}
    if manifest.is_file() and not force:
        stored = json.loads(manifest.read_text())
        if {k: stored.get(k) for k in wanted} == wanted:
            return folder
    # An interrupted training keeps the poles it finished (each pole is seeded on its own, so a
    # resumed run trains the same adapters as an uninterrupted one).
    partial = folder / "anchors.partial.json"
    summary = json.loads(partial.read_text()) if partial.is_file() and not force else {}
    if {k: summary.get(k) for k in wanted} != wanted:
        summary = dict(wanted, poles={})
        if folder.exists():
            shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base, tokenizer = load_model.__wrapped__(DEFAULT_MODEL, "float32")  # a private copy: peft edits it in place
    base.eval()
    for attribute in attributes:
        for pole in ATTRIBUTES[attribute]:
            name = adapter_name(attribute, pole)
            if name in summary["poles"] and (folder / name).is_dir():
                if progress:
                    progress(f"{name}: trained before the interruption; kept")
                continue
            if progress:
                progress(f"{name}: generating the corpus")
            corpus = build_corpus(base, tokenizer, attribute, pole, config, seed)
            (folder / f"{name}.corpus.json").write_text(json.dumps(corpus, indent=1))
            if progress:
                progress(f"{name}: kept {corpus['kept']} of {corpus['generated']} texts; training")
            curve = train_adapter(base, tokenizer, corpus["examples"], config, seed, folder / name, progress)
            summary["poles"][name] = {
                "kept": corpus["kept"],
                "generated": corpus["generated"],
                "first_loss": curve["losses"][0],
                "last_loss": curve["losses"][-1],
            }
            partial.write_text(json.dumps(summary, indent=1))
    manifest.write_text(json.dumps(summary, indent=1))  # written last: its presence means complete
    partial.unlink()
    return folder
