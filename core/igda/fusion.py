"""Fused priors whose trust in each source is learned from the experiments.

K sources each give P_k(u -> v) for every ordered pair (an LLM, PC or GES on observational data,
PC's edge frequency over subsamples, a simulated expert). The fused belief is a logistic model on
the sources' log-odds (a logarithmic opinion pool with learned weights; Genest & Zidek 1986):

    logit p(u -> v) = b + sum_k w_k * logit(clip(P_k(u -> v), EPS, 1 - EPS)).

**Start.** w_k = 1 (each source taken at its word, so that two sources agreeing count twice), and
b solved so that the mean fused belief over all pairs is ``1 / (n - 1)``: a graph with one
parent per variable on average, the density of the bnlearn benchmarks (asia 8/56, sachs 17/110,
child 25/380 are 0.14, 0.15, 0.07) and of most sparse causal graphs. Without it, K sources at
1/2 would add up to 1/2 for every pair.

**Refit.** After every round, (b, w) maximise the penalised log-likelihood of the experiments'
answers y_i in {0, 1} on the tested pairs' log-odds x_i,

    sum_i [y_i z_i - log(1 + e^{z_i})] - (lambda / 2) ||(b, w) - (b_0, w_0)||^2,  z_i = b + w . x_i,

i.e. L2-regularised logistic regression shrunk towards the starting weights, lambda the prior
precision. With few answers the weights stay near the start; a source that keeps being wrong
goes to 0, a reversed one below 0. The interval of each weight is +-1.96 standard deviations of
the Laplace approximation (the inverse Hessian at the optimum: the posterior under a Gaussian
prior of precision lambda; MacKay 1992). Uncertainty selection tests the pairs the pool is
least sure of, a biased sample of all pairs: ``--explore F`` spends a share of the experiments
on pairs chosen at random, which the evaluation measures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, minimize
from scipy.special import expit, logit

EPS = 0.01  # sources' beliefs are clipped to [EPS, 1 - EPS]: log-odds within +-4.6
SOURCES = ("llm", "chared", "pc", "ges", "bootstrap", "simulated:Q")
Z95 = 1.959964


def parse_sources(prior: str) -> list[str]:
    """The sources of a prior: ``llm+pc`` -> ["llm", "pc"]; one source is a list of one."""
    return [part.strip() for part in prior.split("+")]


def source_logits(beliefs: np.ndarray) -> np.ndarray:
    """log-odds of beliefs clipped to [EPS, 1 - EPS] (any shape)."""
    return logit(np.clip(np.asarray(beliefs, dtype=float), EPS, 1 - EPS))


def starting_bias(logits: np.ndarray, weights: np.ndarray, density: float) -> float:
    """The b for which the mean of sigmoid(b + logits @ weights) over pairs is ``density``."""
    scores = logits @ weights
    return float(brentq(lambda b: expit(b + scores).mean() - density, -50.0, 50.0))


def fuse(logits: np.ndarray, bias: float, weights: np.ndarray) -> np.ndarray:
    """The fused beliefs, shape (pairs,), from the sources' log-odds, shape (pairs, K)."""
    return expit(bias + logits @ weights)


@dataclass(frozen=True)
class Fit:
    """Fitted bias and weights, with the Laplace approximation's standard deviations."""

    bias: float
    weights: np.ndarray
    sd: np.ndarray  # of (bias, *weights)

    def intervals(self) -> np.ndarray:
        """(K, 2): each weight's 95% interval."""
        sd = self.sd[1:]
        return np.column_stack([self.weights - Z95 * sd, self.weights + Z95 * sd])


def fit_weights(
    logits: np.ndarray,
    answers: np.ndarray,
    start_bias: float,
    start_weights: np.ndarray,
    precision: float = 1.0,
) -> Fit:
    """(b, w) by L2-regularised logistic regression of ``answers`` on ``logits`` (tested pairs x K),
    shrunk towards the start with prior precision ``precision`` (the module's docstring)."""
    design = np.column_stack([np.ones(len(logits)), np.asarray(logits, dtype=float).reshape(len(logits), -1)])
    y = np.asarray(answers, dtype=float)
    centre = np.r_[start_bias, start_weights]

    def loss(theta):
        z = design @ theta
        return np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * precision * np.sum((theta - centre) ** 2)

    def gradient(theta):
        return design.T @ (expit(design @ theta) - y) + precision * (theta - centre)

    def hessian(theta):
        p = expit(design @ theta)
        return (design * (p * (1 - p))[:, None]).T @ design + precision * np.eye(len(theta))

    theta = minimize(loss, centre, jac=gradient, hess=hessian, method="trust-exact").x
    sd = np.sqrt(np.diag(np.linalg.inv(hessian(theta))))
    return Fit(float(theta[0]), theta[1:], sd)


def auroc(beliefs: np.ndarray, answers: np.ndarray) -> float | None:
    """Area under the ROC curve of ``beliefs`` against ``answers``; None until both answers occur."""
    from sklearn.metrics import roc_auc_score

    answers = np.asarray(answers, dtype=bool)
    if answers.all() or not answers.any():
        return None
    return float(roc_auc_score(answers, beliefs))


def describe_weights(record: dict, answers: int) -> list[str]:
    """Lines that say what each source of a fused prior earned, from a round's ``fusion`` record."""
    lines = [f"fused prior: each source's weight after {answers} answers (started at 1; 95% interval; AUROC on tested)"]
    for name, entry in record["sources"].items():
        low, high = entry["interval"]
        interval = "" if low is None else f" [{low:+.2f}, {high:+.2f}]"
        score = "n/a" if entry["auroc"] is None else f"{entry['auroc']:.2f}"
        if low is None:
            verdict = "not refitted yet"
        elif low > 0:
            verdict = "its beliefs helped"
        elif high < 0:
            verdict = "its beliefs pointed the wrong way"
        else:
            verdict = "no evidence either way yet"
        lines.append(f"  {name:<14} weight {entry['weight']:+.2f}{interval}  AUROC {score}: {verdict}")
    return lines
