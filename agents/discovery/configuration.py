"""Settings of one discovery run. They are stored in the run's state, so a run id alone resumes it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from discolab.core.errors import DiscolabError
from discolab.core.igda.prior import CALIBRATIONS
from discolab.core.igda.selection import STRATEGIES
from discolab.core.igda.updates import UPDATES
from discolab.core.llm import BACKENDS

PRIORS = ("llm", "chared", "pc", "ges", "simulated:Q")


@dataclass(frozen=True)
class DiscoverySettings:
    graph: str = "asia"
    prior: str = "llm"  # llm | chared | pc | ges | simulated:Q
    samples: int = 2000  # observational samples for the pc / ges priors
    backend: str = "local"  # for the LLM prior and the LLM update
    model: str | None = None
    base_url: str | None = None
    # prior "chared": a CharED ensemble of local models, which then also answers the LLM update
    ensemble: str = "smollm2,gemma3-270m"
    ensemble_weights: str = "0.5,0.5"
    strategy: str = "uncertainty"
    update: str = "llm"
    experimenter: str = "oracle"  # oracle | noisy:EPS | interventional[:N] | human
    rounds: int = 5
    per_round: int = 3
    threshold: float = 0.5
    calibration: str = "content-free"  # of LLM answers: content-free | none
    seed: int = 0

    def __post_init__(self) -> None:
        problems = []
        if not (self.prior in ("llm", "chared", "pc", "ges") or self.prior.startswith("simulated:")):
            problems.append(f"prior {self.prior!r}: choose llm, chared, pc, ges or simulated:Q")
        if self.prior == "chared":
            try:
                weights = [float(w) for w in self.ensemble_weights.split(",")]
            except ValueError:
                weights = []
            models = [m for m in self.ensemble.split(",") if m.strip()]
            if len(models) != len(weights) or any(w < 0 for w in weights) or sum(weights) <= 0:
                problems.append(
                    f"ensemble {self.ensemble!r} with weights {self.ensemble_weights!r}: "
                    "give one non-negative weight per model, not all zero"
                )
        if self.backend not in BACKENDS:
            problems.append(f"backend {self.backend!r}: choose {' or '.join(BACKENDS)}")
        if self.strategy not in STRATEGIES:
            problems.append(f"strategy {self.strategy!r}: choose from {', '.join(STRATEGIES)}")
        if self.update not in UPDATES:
            problems.append(f"update {self.update!r}: choose from {', '.join(UPDATES)}")
        if not (
            self.experimenter in ("oracle", "human", "interventional")
            or self.experimenter.startswith(("noisy:", "interventional:"))
        ):
            problems.append(
                f"experimenter {self.experimenter!r}: choose oracle, noisy:EPS, interventional[:N] or human"
            )
        if self.calibration not in CALIBRATIONS:
            problems.append(f"calibration {self.calibration!r}: choose from {', '.join(CALIBRATIONS)}")
        if self.rounds < 0 or self.per_round < 1:
            problems.append("rounds must be >= 0 and per-round >= 1")
        if not 0.0 < self.threshold < 1.0:
            problems.append("threshold must be in (0, 1)")
        if problems:
            raise DiscolabError("invalid discovery settings: " + "; ".join(problems))

    @property
    def uses_llm(self) -> bool:
        return self.prior in ("llm", "chared") or self.update == "llm"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DiscoverySettings:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
