"""Settings of one discovery run. They are stored in the run's state, so a run id alone resumes it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from discolab.core.errors import DiscolabError, GraphFileError, LLMError, summarize_problems
from discolab.core.graphs import GraphSpec
from discolab.core.graphs.benchmarks import benchmark_network
from discolab.core.graphs.knowledge import Knowledge
from discolab.core.igda.candidates import CANDIDATES
from discolab.core.igda.experimenters import parse_experimenter
from discolab.core.igda.prior import CALIBRATIONS
from discolab.core.igda.prompts import check_listing
from discolab.core.igda.selection import STRATEGIES
from discolab.core.igda.updates import UPDATES, parse_shift
from discolab.core.llm import BACKENDS
from discolab.core.llm.credentials import check_base_urls, default_base_url
from discolab.core.llm.openai_backend import resolve_server_settings

PRIORS = (
    "llm",
    "chared",
    "pc",
    "ges",
    "bootstrap",
    "simulated:Q",
    "simulated:Q:confident",
)  # or several joined by +: a fused prior
LLM_SOURCES = ("llm", "chared")
DATA_SOURCES = ("pc", "ges", "bootstrap")
MAX_SAMPLES = 1_000_000  # observational rows sampled for a data prior: far past what PC needs, within memory


@dataclass(frozen=True)
class DiscoverySettings:
    graph: str = "asia"
    prior: str = "llm"  # llm | chared | pc | ges | bootstrap | simulated:Q, or several joined by +
    fusion_precision: float = 1.0  # a fused prior's weights: prior precision of the refit (core/igda/fusion.py)
    samples: int = 2000  # observational samples for the pc / ges priors, drawn from a benchmark's network
    # the user's observational data (CSV or Parquet) for pc / ges / bootstrap, instead of samples;
    # a graph file's own `data:` is used when this is None
    data: str | None = None
    ignore_columns: tuple[str, ...] = ()  # columns of the data that are no variable
    column_types: tuple[tuple[str, str], ...] = ()  # (variable, discrete | continuous) overrides
    # background knowledge added to the graph file's own: edges known present, edges known absent
    required: tuple[tuple[str, str], ...] = ()
    forbidden: tuple[tuple[str, str], ...] = ()
    backend: str = "local"  # for the LLM prior and the LLM update
    model: str | None = None
    # the openai backend's server, or several serving one model separated by commas (one per GPU:
    # requests are spread over them); None: OPENAI_BASE_URL
    base_url: str | None = None
    # the openai backend's settings; None: $DISCOLAB_OPENAI_* or the default, read when the run (re)starts
    llm_timeout: float | None = None
    llm_concurrency: int | None = None
    llm_samples: int | None = None
    llm_confidence: str | None = None
    # prior "chared": a CharED ensemble of local models, which then also answers the LLM update
    ensemble: str = "smollm2,gemma3-270m"
    ensemble_weights: str = "0.5,0.5"
    strategy: str = "uncertainty"
    explore: float = 0.0  # the share of each round's experiments picked at random
    update: str = "llm"
    experimenter: str = "oracle"  # oracle | noisy:EPS | interventional[:N] | data:FILE | human
    rounds: int = 5
    per_round: int = 3
    threshold: float = 0.5
    calibration: str = "content-free"  # of LLM answers: content-free | none
    seed: int = 0
    # the pairs the LLM prior is asked about (core/igda/candidates.py): all | data | llm | data+llm | auto
    # (auto: all below CANDIDATES_FROM variables, else data when the run has data, else all)
    candidates: str = "auto"
    # variables listed in an LLM prompt (core/igda/prompts.py): all | auto | a number (the most related)
    # (auto: all while the longest prompt fits the model's context, else as many as fit)
    listing: str = "auto"
    context_tokens: int | None = None  # the model's context length; local models know theirs

    def __post_init__(self) -> None:
        problems = []
        sources = self.sources
        for source in sources:
            if not (source in PRIORS or source.startswith("simulated:")):
                problems.append(f"prior {self.prior!r}: {source!r} is no source; choose from {', '.join(PRIORS)}")
            elif source.startswith("simulated:"):
                _, quality, *mode = source.split(":")
                if not 0.0 <= _number(quality) <= 1.0:
                    problems.append(f"prior {self.prior!r}: a simulated expert's quality Q is an F1 in [0, 1]")
                if mode not in ([], ["confident"]):
                    problems.append(f"prior {self.prior!r}: simulated:Q or simulated:Q:confident")
        if len(set(sources)) < len(sources):
            problems.append(f"prior {self.prior!r} names a source twice")
        llm_sources = [s for s in sources if s in LLM_SOURCES]
        if self.fused and self.update == "llm" and len(llm_sources) != 1:
            problems.append(
                f"update 'llm' changes the LLM source of a fused prior; {self.prior!r} has "
                f"{len(llm_sources)}: use one of llm, chared, or --update structural / none"
            )
        if not (math.isfinite(self.fusion_precision) and self.fusion_precision > 0):
            problems.append(f"fusion precision {self.fusion_precision}: a number > 0")
        if not 0.0 <= self.explore <= 1.0:  # NaN fails this too
            problems.append(f"explore {self.explore}: a share of the experiments, in [0, 1]")
        if not 10 <= self.samples <= MAX_SAMPLES:
            problems.append(f"samples {self.samples}: the data priors take 10 to {MAX_SAMPLES:,} observational samples")
        if not 0 <= self.seed < 2**32:  # what numpy's generators take
            problems.append(f"seed {self.seed}: use 0 <= seed < 2**32")
        if "chared" in sources:
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
        server = self.server_options()
        if self.backend == "openai":
            try:
                resolve_server_settings(**server)
                check_base_urls(self.base_url or default_base_url(), "--base-url")
            except LLMError as err:
                problems.append(str(err))
        elif any(value is not None for value in server.values()):
            problems.append("the timeout, concurrency, samples and confidence settings apply to backend openai only")
        if self.strategy not in STRATEGIES:
            problems.append(f"strategy {self.strategy!r}: choose from {', '.join(STRATEGIES)}")
        try:
            if parse_shift(self.update) is None and self.update not in UPDATES:
                problems.append(f"update {self.update!r}: choose from {', '.join(UPDATES)}")
        except ValueError as err:
            problems.append(str(err))
        if self.experimenter != "human":
            try:  # the experimenter's own parser, on a graph-free stand-in: syntax and ranges only
                parse_experimenter(self.experimenter)
            except ValueError as err:
                problems.append(str(err))
        if self.calibration not in CALIBRATIONS:
            problems.append(f"calibration {self.calibration!r}: choose from {', '.join(CALIBRATIONS)}")
        if self.candidates not in CANDIDATES:
            problems.append(f"candidates {self.candidates!r}: choose from {', '.join(CANDIDATES)}")
        try:
            check_listing(self.listing)
        except LLMError as err:
            problems.append(str(err))
        if self.context_tokens is not None and (
            isinstance(self.context_tokens, bool) or not isinstance(self.context_tokens, int) or self.context_tokens < 1
        ):
            problems.append(f"context_tokens {self.context_tokens!r}: a positive number of tokens")
        if self.rounds < 0 or self.per_round < 1:
            problems.append("rounds must be >= 0 and per-round >= 1")
        if not 0.0 < self.threshold < 1.0:  # NaN fails this too
            problems.append("threshold must be in (0, 1)")
        if problems:
            raise DiscolabError("invalid discovery settings: " + summarize_problems(problems))

    def check_problem(self, spec: GraphSpec) -> None:
        """Raise a :class:`DiscolabError` if these settings cannot run on ``spec``: a simulated
        prior or an oracle without the true graph, a data prior, bootstrap selection or an
        interventional experimenter without a network to sample. Called before a run is created,
        so that no run is saved that could only fail."""
        problems = []
        if any(s.startswith("simulated:") for s in self.sources) and not spec.has_truth:
            problems.append(f"prior {self.prior!r} simulates an expert from the true graph, and {spec.name!r} has none")
        needs_data = [f"prior {self.prior!r}"] if self.uses_data_source else []
        needs_data += ["strategy 'bootstrap'"] if self.strategy == "bootstrap" else []
        needs_data += [f"candidates {self.candidates!r}"] if self.candidates in ("data", "data+llm") else []
        interventional = self.experimenter.startswith("interventional")
        needs_network = [f"experimenter {self.experimenter!r}"] if interventional else []
        if needs_data and not self.data_file(spec):
            needs_network = needs_data + needs_network
        if needs_network:
            try:
                benchmark_network(spec)
            except DiscolabError as err:
                more = " (or give observational data: --data FILE)" if needs_data else ""
                problems.append(f"{' and '.join(needs_network)} sample a Bayesian network: {err}{more}")
        answers_from_truth = self.experimenter in ("oracle",) or self.experimenter.startswith("noisy:")
        if answers_from_truth and not spec.has_truth:
            problems.append(
                f"experimenter {self.experimenter!r} answers from the true graph, and {spec.name!r} has none "
                "(use --experimenter human)"
            )
        if problems:
            raise DiscolabError("invalid discovery settings: " + summarize_problems(problems))

    def server_options(self) -> dict:
        """The openai backend's settings as its constructor takes them (None: environment or default)."""
        return {
            "timeout": self.llm_timeout,
            "concurrency": self.llm_concurrency,
            "samples": self.llm_samples,
            "confidence": self.llm_confidence,
        }

    def with_knowledge(self, spec: GraphSpec) -> GraphSpec:
        """``spec`` with these settings' required and forbidden edges added to its knowledge
        (checked with the rest: an unknown name or a contradiction is an error)."""
        if not (self.required or self.forbidden):
            return spec
        base = spec.knowledge or Knowledge()
        merged = Knowledge(
            tuple(dict.fromkeys(base.required + self.required)),
            tuple(dict.fromkeys(base.forbidden + self.forbidden)),
            base.tiers,
        )
        try:
            return replace(spec, knowledge=merged)
        except GraphFileError as err:
            raise DiscolabError(f"invalid discovery settings: {err}") from None

    def data_file(self, spec: GraphSpec) -> str | None:
        """The observational data this run reads: ``data``, else the graph file's own."""
        return self.data or spec.data

    @property
    def sources(self) -> list[str]:
        """The prior's sources: one, or those of a fused prior (``llm+pc``)."""
        return [part.strip() for part in self.prior.split("+")]

    @property
    def fused(self) -> bool:
        return len(self.sources) > 1

    @property
    def uses_data_source(self) -> bool:
        return any(source in DATA_SOURCES for source in self.sources)

    def has_data(self, spec: GraphSpec) -> bool:
        """Whether the run has observational data without sampling it for the candidates alone: a
        data file, or a data prior's sample."""
        return bool(self.data_file(spec)) or self.uses_data_source

    @property
    def uses_llm(self) -> bool:
        return any(source in LLM_SOURCES for source in self.sources) or self.update == "llm"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DiscoverySettings:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        # stored as JSON lists: back to the tuples the frozen settings hold
        values["ignore_columns"] = tuple(values.get("ignore_columns", ()))
        for key in ("column_types", "required", "forbidden"):
            values[key] = tuple(tuple(pair) for pair in values.get(key, ()))
        return cls(**values)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")  # fails every range check
