"""The discovery loop's nodes. Each reads the state and returns the keys it changes.

Everything random is seeded by (settings.seed, round), so that a node re-run after a crash
makes the same choices. The true graph reaches only the experimenter and the scorer.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from discolab.core.errors import DiscolabError
from discolab.core.graphs import Edge, GraphSpec, resolve_graph, score_graph
from discolab.core.igda.candidates import (
    LLMListing,
    candidate_pairs,
    data_candidates,
    llm_candidates,
    pruned_belief,
    resolve_candidates,
)
from discolab.core.igda.data_experimenter import load_interventions
from discolab.core.igda.data_prior import (
    DATA_PRIORS,
    benchmark_observations,
    bootstrap_edge_frequencies,
    data_driven_beliefs,
)
from discolab.core.igda.experimenters import edge_rng, make_experimenter
from discolab.core.igda.fusion import auroc, fit_weights, fuse, source_logits, starting_bias
from discolab.core.igda.lookahead import EntropyAfter
from discolab.core.igda.observations import file_digest, load_observations
from discolab.core.igda.prior import ask_edges, simulated_expert_beliefs
from discolab.core.igda.prompts import listing_size
from discolab.core.igda.selection import select_lookahead, select_rows
from discolab.core.igda.updates import (
    CYCLE_FLOOR,
    cycle_pairs,
    llm_update,
    neighbouring_edges,
    parse_shift,
    shift_update,
)
from discolab.core.llm import LLMBackend, make_backend
from discolab.core.llm.base import Usage
from langgraph.types import interrupt

from .configuration import LLM_SOURCES, DiscoverySettings
from .pairs import PairIndex, pair_index
from .state import DiscoveryState, ExperimentRecord, RoundRecord


# -- resources built from settings, once per process -----------------------------------------
@lru_cache(maxsize=8)
def graph_spec(name: str) -> GraphSpec:
    """A benchmark or graph file by name (what a new run starts from; a run reads its own copy)."""
    return resolve_graph(name)


def stored_graph(spec: GraphSpec) -> str:
    """The validated content of a run's graph, as the run state stores it: canonical JSON (the data
    file apart, as the resolved path it already is)."""
    content = {key: value for key, value in spec.to_dict().items() if key != "data"}
    return json.dumps({"spec": content, "source": spec.source, "data": spec.data}, sort_keys=True)


@lru_cache(maxsize=8)
def _graph_from_store(content: str) -> GraphSpec:
    data = json.loads(content)
    return replace(GraphSpec.from_dict(data["spec"], source=data["source"]), data=data.get("data"))


def run_graph(state: DiscoveryState) -> GraphSpec:
    """The graph a run works on: the copy in its state, so that editing, moving or deleting the
    file it came from changes nothing (runs saved before the copy existed read the file)."""
    if "graph" in state:
        return _graph_from_store(state["graph"])
    return graph_spec(DiscoverySettings.from_dict(state["settings"]).graph)


def llm_backend(kind: str, model: str | None, base_url: str | None, **server) -> LLMBackend:
    """The LLM a run asks. A local model is loaded once per process; a server's client is built
    per use, so that it sends the API key that applies now (a key typed in the dashboard may have
    changed or been forgotten since); ``server``: its timeout, concurrency, samples, confidence."""
    if kind == "local":
        return _local_backend(model)
    return make_backend(kind, model=model, base_url=base_url, **server)


@lru_cache(maxsize=4)
def _local_backend(model: str | None) -> LLMBackend:
    return make_backend("local", model=model)


@lru_cache(maxsize=8)
def chared_backend(models: str, weights: str) -> LLMBackend:
    return make_backend("chared", models=models.split(","), weights=[float(w) for w in weights.split(",")])


def observations_key(state: DiscoveryState) -> tuple:
    """What a run's observational data is made from: the user's file (whose content must be what
    the run started on) or the benchmark sample (graph, size, seed)."""
    settings = _settings(state)
    graph = state["graph"] if "graph" in state else stored_graph(run_graph(state))
    stored = state.get("data")
    if not stored:
        return (graph, None, None, (), (), settings.samples, settings.seed)
    check_data(state)
    return (graph, stored["path"], stored["sha256"], settings.ignore_columns, settings.column_types, 0, 0)


def check_data(state: DiscoveryState) -> None:
    """Refuse to go on with a run whose data files are gone or changed since it started."""
    for key in ("data", "interventions"):
        stored = state.get(key)
        if stored and (not Path(stored["path"]).is_file() or file_digest(stored["path"]) != stored["sha256"]):
            raise DiscolabError(
                f"{stored['path']} is not the file this run started on (its SHA-256 was {stored['sha256'][:12]}...): "
                "restore it, or start a new run"
            )


def run_experimenter(state: DiscoveryState):
    """The run's experimenter; the user's interventional data as the run started on it."""
    settings = _settings(state)
    stored = state.get("interventions")
    if stored:
        check_data(state)
        return _interventions(state["graph"], stored["path"], stored["sha256"])
    return make_experimenter(run_graph(state), settings.experimenter, settings.seed)


@lru_cache(maxsize=4)
def _interventions(graph: str, path: str, digest: str):
    return load_interventions(path, _graph_from_store(graph))


def settled_pairs(state: DiscoveryState) -> set[Edge]:
    """Pairs the loop never selects: tested, known from background knowledge, or (with the user's
    interventional data) whose cause no row intervenes on."""
    settled = set(_results(state)) | set(known_pairs(run_graph(state)))
    if state.get("interventions"):
        experimenter = run_experimenter(state)
        settled |= {tuple(p) for p in state["pairs"] if not experimenter.testable(tuple(p))}
    return settled


@lru_cache(maxsize=4)
def observations(graph: str, path: str | None, digest: str | None, ignore, kinds, samples: int, seed: int):
    spec = _graph_from_store(graph)
    if path is None:
        return benchmark_observations(spec, samples, seed)
    return load_observations(path, spec, ignore, dict(kinds))


@lru_cache(maxsize=8)
def data_beliefs(key: tuple, method: str) -> dict[Edge, float]:
    return data_driven_beliefs(observations(*key), method, known=known_pairs(_graph_from_store(key[0])))


@lru_cache(maxsize=8)
def bootstrap_frequencies(key: tuple, seed: int) -> dict[Edge, float]:
    return bootstrap_edge_frequencies(observations(*key), seed=seed, known=known_pairs(_graph_from_store(key[0])))


def known_pairs(spec: GraphSpec) -> dict[Edge, bool]:
    """The pairs the problem's background knowledge decides (True: required, False: forbidden)."""
    return spec.knowledge.known(spec.names) if spec.knowledge else {}


def usage_of(backend: LLMBackend) -> Usage:
    """What ``backend`` has cost so far (nothing for a backend that does not count)."""
    return getattr(backend, "usage", None) or Usage()


def with_knowledge(beliefs: dict[Edge, float], known: dict[Edge, bool]) -> dict[Edge, float]:
    """Beliefs with every known pair fixed at 1 or 0, whatever a source or an update said."""
    return {**beliefs, **{edge: 1.0 if present else 0.0 for edge, present in known.items()}}


def _settings(state: DiscoveryState) -> DiscoverySettings:
    return DiscoverySettings.from_dict(state["settings"])


def _backend(settings: DiscoverySettings) -> LLMBackend:
    if "chared" in settings.sources:
        return chared_backend(settings.ensemble, settings.ensemble_weights)
    return llm_backend(settings.backend, settings.model, settings.base_url, **settings.server_options())


def current_beliefs(values: DiscoveryState) -> list[float]:
    """Every pair's belief now, aligned with ``pairs``: the prior with the updates' changes applied.

    The state keeps the prior once and the changes apart, so that a round stores what changed
    rather than all n(n-1) beliefs (runs saved before that keep the whole list in ``beliefs``).
    """
    if "beliefs" in values:
        return values["beliefs"]
    return belief_array(values).tolist()


def belief_array(values: DiscoveryState) -> np.ndarray:
    """:func:`current_beliefs` as an array (a row per pair)."""
    if "beliefs" in values:
        return np.array(values["beliefs"], dtype=float)
    beliefs = prior_array(values["prior_beliefs"]).copy()
    changes = values.get("belief_changes", {})
    if changes:
        rows = np.fromiter(map(int, changes), dtype=np.int64, count=len(changes))
        beliefs[rows] = np.fromiter(changes.values(), dtype=float, count=len(changes))
    return beliefs


_PRIORS: dict[int, tuple[list, np.ndarray]] = {}


def prior_array(prior: list[float]) -> np.ndarray:
    """The run's prior beliefs as a read-only array, converted once per list: every node of
    every round reads the same list object from the state (no node changes it in place), and
    converting 999,000 floats takes longer than the rest of a round's selection."""
    cached = _PRIORS.get(id(prior))
    if cached is None or cached[0] is not prior:
        array = np.array(prior, dtype=float)
        array.flags.writeable = False
        if len(_PRIORS) >= 4:
            _PRIORS.pop(next(iter(_PRIORS)))
        cached = _PRIORS[id(prior)] = (prior, array)  # the list is kept: its id cannot be reused meanwhile
    return cached[1]


def run_pairs(state: DiscoveryState) -> PairIndex:
    """The layout of the run's ``pairs`` (:mod:`.pairs`), checked against them."""
    index = pair_index(tuple(run_graph(state).names))
    pairs = state["pairs"]
    if len(pairs) != len(index) or (pairs and tuple(pairs[-1]) != index.edges([len(index) - 1])[0]):
        raise DiscolabError("the run's pairs are not laid out as its variables' ordered pairs: its state is damaged")
    return index


def open_rows(pairs: PairIndex, settled: set[Edge]) -> np.ndarray:
    """A mask over the pairs: True where the loop may still select (not in ``settled``)."""
    mask = np.ones(len(pairs), dtype=bool)
    mask[pairs.rows(settled)] = False
    return mask


def _beliefs(state: DiscoveryState) -> dict[Edge, float]:
    return {(u, v): p for (u, v), p in zip(state["pairs"], current_beliefs(state))}


def _results(state: DiscoveryState) -> dict[Edge, bool]:
    return {tuple(r["edge"]): r["present"] for r in state.get("results", [])}


def predicted_edges(beliefs: dict[Edge, float], results: dict[Edge, bool], threshold: float) -> list[Edge]:
    """Tested edges as observed, untested edges whose belief exceeds the threshold."""
    kept = {e for e, present in results.items() if present}
    kept |= {e for e, p in beliefs.items() if e not in results and p > threshold}
    return sorted(kept)


def round_record(state: DiscoveryState, round_number: int, tested: list[ExperimentRecord]) -> RoundRecord:
    settings = _settings(state)
    spec = run_graph(state)
    results = _results(state)
    beliefs, pairs = belief_array(state), run_pairs(state)
    above = np.flatnonzero(beliefs > settings.threshold)  # the only untested pairs that can be predicted
    edges = predicted_edges(dict(zip(pairs.edges(above), beliefs[above].tolist())), results, settings.threshold)
    metrics = score_graph(spec.edges, edges) if spec.has_truth else None
    return {
        "round": round_number,
        "experiments": len(results),
        "precision": metrics.precision if metrics else None,
        "recall": metrics.recall if metrics else None,
        "f1": metrics.f1 if metrics else None,
        "shd": metrics.shd if metrics else None,
        "predicted_edges": len(edges),
        "tested": tested,
        **({"fusion": fusion_record(state)} if "fusion" in state else {}),
        **({"update_shift": round(state["update_shift"], 4)} if round_number and "update_shift" in state else {}),
    }


# -- nodes -------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def data_screen(key: tuple) -> frozenset:
    """The data candidates (:func:`data_candidates`) of a run's observational data."""
    return frozenset(data_candidates(observations(*key)))


def candidate_edges(
    state: DiscoveryState, settings: DiscoverySettings, spec: GraphSpec, backend: LLMBackend, listed: int | None
) -> tuple[set[Edge] | None, dict]:
    """The ordered pairs the LLM prior asks about (None: every pair), and what the screens did;
    ``listed``: the variables an LLM screen's prompt lists (:func:`prompt_listing`)."""
    mode = resolve_candidates(settings.candidates, len(spec.names), settings.has_data(spec))
    if mode == "all":
        return None, {}
    started = time.perf_counter()
    screens, info = [], {"mode": mode}
    if "data" in mode:
        key = observations_key(state)
        path = settings.data_file(spec)
        if path and not state.get("data"):  # the user's data, read for the screen alone (an LLM prior)
            path = str(Path(path).resolve())
            key = (key[0], path, file_digest(path), settings.ignore_columns, settings.column_types, 0, 0)
        screens.append(set(data_screen(key)))
    if "llm" in mode:
        listing = LLMListing()
        screens.append(llm_candidates(spec, backend, settings.seed, listing=listing, listed=listed))
        info |= {"llm_calls": listing.calls, "unknown_names": listing.unknown}
    info["seconds"] = round(time.perf_counter() - started, 3)
    return candidate_pairs(spec, *screens), info


def source_beliefs(
    state: DiscoveryState, source: str, record: dict | None = None
) -> tuple[dict[Edge, float], list[Edge], Usage]:
    """P(u -> v) for every ordered pair from one source; the pairs whose LLM answer fell back; and
    what asking cost. Known pairs are not asked (their beliefs are fixed afterwards). An LLM
    source asks only the candidate pairs (``settings.candidates``); the others get
    :func:`pruned_belief`, and ``record`` (if given) receives what the screen kept."""
    settings = _settings(state)
    spec = run_graph(state)
    known = known_pairs(spec)
    if source in LLM_SOURCES:
        unknown = [e for e in spec.ordered_pairs() if e not in known]
        backend = _backend(settings)
        before = usage_of(backend)
        listed = prompt_listing(settings, spec, backend)
        kept, info = candidate_edges(state, settings, spec, backend, listed)
        asked = unknown if kept is None else [e for e in unknown if e in kept]
        pruned = [] if kept is None else [e for e in unknown if e not in kept]
        beliefs, fallbacks = ask_edges(
            spec, backend, asked, seed=settings.seed, calibration=settings.calibration, listed=listed
        )
        beliefs = {**dict.fromkeys(known, 0.5), **dict.fromkeys(pruned, pruned_belief(len(spec.names))), **beliefs}
        if record is not None and listed is not None:
            record["listed"] = listed  # taken out by elicit_prior
        if info and record is not None:
            record |= {**info, "asked": len(asked), "pairs": len(unknown), "pruned": len(pruned)}
            record["rows"] = pair_index(tuple(spec.names)).rows(asked).tolist()  # the update asks these alone
        return beliefs, fallbacks, usage_of(backend) - before
    if source in DATA_PRIORS:
        return data_beliefs(observations_key(state), source), [], Usage()
    if source == "bootstrap":
        return bootstrap_frequencies(observations_key(state), settings.seed), [], Usage()
    _, quality, *mode = source.split(":")
    beliefs = simulated_expert_beliefs(spec, float(quality), seed=settings.seed, confident_errors=bool(mode))
    return beliefs, [], Usage()


def elicit_prior(state: DiscoveryState) -> dict:
    """P(u -> v) for every ordered pair from the prior's source, or its sources fused."""
    settings = _settings(state)
    spec = run_graph(state)
    known = known_pairs(spec)
    pairs = sorted(spec.ordered_pairs())
    screened: dict = {}  # what the candidate screens kept, if they ran
    found = {source: source_beliefs(state, source, screened) for source in settings.sources}
    fallbacks = [e for _, failed, _ in found.values() for e in failed]
    spent = sum((cost for _, _, cost in found.values()), Usage())
    update = {}
    if settings.fused:
        sources = {source: [beliefs[e] for e in pairs] for source, (beliefs, _, _) in found.items()}
        fusion = start_fusion(sources, [e not in known for e in pairs], len(spec.names))
        fused = fuse(fusion_logits(sources), fusion["bias"], np.array(fusion["weights"]))
        beliefs = dict(zip(pairs, fused.tolist()))
        update = {"sources": sources, "source_changes": {}, "fusion": fusion}
    else:
        beliefs = found[settings.prior][0]
    beliefs = with_knowledge(beliefs, known)
    update |= {
        "pairs": [list(e) for e in pairs],
        "prior_beliefs": [beliefs[e] for e in pairs],
        "belief_changes": {},
        "fallbacks": [list(e) for e in fallbacks],
        "round": 0,
        "results": [],
        "selected": [],
        "llm": spent.as_dict(),
    }
    update["history"] = [round_record({**state, **update}, 0, [])]
    if "rows" in screened:  # the LLM update re-asks only the pairs the screen kept
        update["candidate_rows"] = screened.pop("rows")
    if "listed" in screened:  # bounded prompts: how many variables each listed
        update["listed"] = update["history"][0]["listed"] = screened.pop("listed")
    if screened:  # "asked K of N pairs"
        update["candidates"] = screened
        update["history"][0]["candidates"] = screened
    return update


def prompt_listing(settings: DiscoverySettings, spec, backend: LLMBackend, results=()) -> int | None:
    """How many variables an LLM prompt lists (``None``: all), from ``settings.listing`` and the
    model's context (:func:`~discolab.core.igda.prompts.listing_size`)."""
    if settings.listing != "auto":
        return listing_size(spec, settings.listing, None)
    context = settings.context_tokens or getattr(backend, "context_tokens", None)
    return listing_size(spec, settings.listing, context, results, getattr(backend, "count_tokens", None))


def select(state: DiscoveryState) -> dict:
    """The edges to test this round, by the configured strategy; never one tested before."""
    settings = _settings(state)
    seed = edge_rng(settings.seed, "select", state["round"]).randrange(2**31)
    pairs, settled = run_pairs(state), settled_pairs(state)  # settled once: with interventions it walks every pair
    candidates = open_rows(pairs, settled)
    rng = edge_rng(settings.seed, "explore", state["round"])
    explored = sum(rng.random() < settings.explore for _ in range(settings.per_round))
    if settings.strategy == "lookahead":
        beliefs = _beliefs(state)
        entropy_after = lookahead_entropy(state, beliefs, settled)
        chosen = pairs.rows(select_lookahead(beliefs, settled, settings.per_round - explored, entropy_after, seed))
    else:
        scores = belief_array(state)
        if settings.strategy == "bootstrap":
            frequencies = bootstrap_frequencies(observations_key(state), settings.seed)
            scores = np.zeros(len(pairs))
            scores[pairs.rows(frequencies)] = list(frequencies.values())
        chosen = select_rows(scores, candidates, settings.per_round - explored, settings.strategy, seed)
    candidates[chosen] = False
    picked = select_rows(np.zeros(len(pairs)), candidates, explored, "random", seed + 1)  # --explore: at random
    return {
        "selected": [list(e) for e in pairs.edges(np.concatenate([chosen, picked]))],
        "explored": [list(e) for e in pairs.edges(picked)],
    }


def experiment(state: DiscoveryState) -> dict:
    """Answer each selected edge: the experimenter, or a person through an interrupt."""
    settings = _settings(state)
    spec = run_graph(state)
    tested: list[ExperimentRecord] = []
    human = settings.experimenter == "human"
    experimenter = None if human else run_experimenter(state)
    for u, v in state["selected"]:
        if human:
            answer = interrupt(
                {
                    "edge": [u, v],
                    "question": f"Does {u} directly cause {v}?",
                    "cause": spec.description(u),
                    "effect": spec.description(v),
                }
            )
            present = _as_bool(answer)
        else:
            present = experimenter.answer((u, v))
        record = {"edge": [u, v], "present": present, "round": state["round"] + 1}
        if [u, v] in state.get("explored", []):
            record["explored"] = True  # picked at random (--explore), not by the strategy
        tested.append(record)
    return {"results": state.get("results", []) + tested}


def update(state: DiscoveryState) -> dict:
    """Re-predict untested edges near the tested ones (LLM), or apply structure, or nothing; a
    fused prior first refits its sources' weights to the answers so far."""
    settings = _settings(state)
    spec = run_graph(state)
    pairs, results, known = run_pairs(state), _results(state), known_pairs(spec)
    beliefs = belief_array(state)
    fallbacks = state.get("fallbacks", [])
    spent = Usage()
    changes = {}
    if settings.update == "llm":  # known pairs are not asked again
        llm_source = next((s for s in settings.sources if s in LLM_SOURCES), None) if settings.fused else None
        if llm_source:
            asked = dict(zip(map(tuple, state["pairs"]), current_sources(state)[llm_source]))
        else:
            asked = _beliefs(state)
        unknown = {e: p for e, p in asked.items() if e not in known}
        if "candidate_rows" in state:  # a pair the screen pruned is not asked later either
            unknown = {e: unknown[e] for e in pairs.edges(state["candidate_rows"]) if e in unknown}
        backend = _backend(settings)
        before = usage_of(backend)
        listed = prompt_listing(settings, spec, backend, sorted(results.items()))
        fresh, failed = llm_update(spec, backend, unknown, results, settings.seed, settings.calibration, listed)
        spent = usage_of(backend) - before
        fallbacks = fallbacks + [list(e) for e in failed]
        moved = [abs(fresh[e] - asked[e]) for e in neighbouring_edges(unknown, results) if e in fresh]
        shift = sum(moved) / len(moved) if moved else 0.0  # what the shift:D control imitates
        if llm_source:  # the LLM's own beliefs change; the fused belief follows below
            changes = {"source_changes": source_changes(state, llm_source, fresh)}
        elif fresh:
            beliefs[pairs.rows(fresh)] = list(fresh.values())
        changes["update_shift"] = shift
    elif parse_shift(settings.update) is not None:
        rng = edge_rng(settings.seed, "shift", state["round"])
        shifted = shift_update(_beliefs(state), results, parse_shift(settings.update), rng)
        beliefs = np.array([shifted[tuple(e)] for e in state["pairs"]], dtype=float)
    beliefs, fusion = beliefs_given({**state, **changes}, results, beliefs)
    if fusion:
        changes["fusion"] = fusion
    llm = (Usage(**state.get("llm", {})) + spent).as_dict()
    if "beliefs" in state:  # a run saved before changes were kept apart
        return {"beliefs": beliefs.tolist(), "fallbacks": fallbacks, "llm": llm}
    changed = np.flatnonzero(beliefs != prior_array(state["prior_beliefs"]))
    belief_changes = dict(zip(map(str, changed.tolist()), beliefs[changed].tolist()))
    return {"belief_changes": belief_changes, "fallbacks": fallbacks, "llm": llm, **changes}


def lookahead_entropy(state: DiscoveryState, beliefs: dict[Edge, float], settled: set[Edge]) -> EntropyAfter:
    """The entropy after each simulated answer, for lookahead selection: the updates
    :func:`beliefs_given` would apply (the structural caps, a fused prior's refit)."""
    settings = _settings(state)
    results = _results(state)
    required = [e for e, present in known_pairs(run_graph(state)).items() if present]
    confirmed = [e for e, present in results.items() if present] + required
    refit = None
    if settings.fused:
        logits = fusion_logits(current_sources(state))  # once: no simulated answer changes the sources
        index = {tuple(e): i for i, e in enumerate(state["pairs"])}

        def refit(edge: Edge, answer: bool) -> np.ndarray:
            fusion = refit_fusion(state, {**results, edge: answer}, settings.fusion_precision, logits, index)
            return fuse(logits, fusion["bias"], np.array(fusion["weights"]))

    pairs = [tuple(e) for e in state["pairs"]]
    return EntropyAfter(pairs, [beliefs[e] for e in pairs], settled, confirmed, settings.update == "structural", refit)


def beliefs_given(
    state: DiscoveryState, results: dict[Edge, bool], base: np.ndarray, logits: np.ndarray | None = None
) -> tuple[np.ndarray, dict | None]:
    """The beliefs (a row per pair) that follow from ``results``: a fused prior refitted to them
    (else ``base``), then the structural update and the background knowledge; and the refitted
    fusion, if any. The update node applies it (lookahead selection computes the same with
    arrays: :func:`lookahead_entropy`); ``logits``: the sources' (:func:`fusion_logits`) when at hand."""
    settings = _settings(state)
    pairs, known = run_pairs(state), known_pairs(run_graph(state))
    fusion = None
    beliefs = np.array(base, dtype=float)
    if settings.fused:
        logits = fusion_logits(current_sources(state)) if logits is None else logits
        fusion = refit_fusion(state, results, settings.fusion_precision, logits)
        beliefs = fuse(logits, fusion["bias"], np.array(fusion["weights"]))
    if settings.update == "structural":  # a required edge constrains like a confirmed one
        required = {e: True for e, present in known.items() if present}
        capped = pairs.rows(cycle_pairs({**results, **required}))
        beliefs[capped] = np.minimum(beliefs[capped], CYCLE_FLOOR)
    if known:
        beliefs[pairs.rows(known)] = [1.0 if present else 0.0 for present in known.values()]
    return beliefs, fusion


# -- a fused prior (core/igda/fusion.py) -------------------------------------------------------
def current_sources(state: DiscoveryState) -> dict[str, list[float]]:
    """Each source's beliefs now, aligned with ``pairs``: as elicited, with the LLM update's changes."""
    sources = {name: list(beliefs) for name, beliefs in state["sources"].items()}
    for name, changed in state.get("source_changes", {}).items():
        for index, p in changed.items():
            sources[name][int(index)] = p
    return sources


def source_changes(state: DiscoveryState, source: str, fresh: dict[Edge, float]) -> dict[str, dict[str, float]]:
    """The state's ``source_changes`` with ``source``'s beliefs set to ``fresh`` where it differs."""
    elicited = state["sources"][source]
    mine = dict(state.get("source_changes", {}).get(source, {}))
    for index, edge in enumerate(map(tuple, state["pairs"])):
        if edge not in fresh:
            continue
        if fresh[edge] != elicited[index]:
            mine[str(index)] = fresh[edge]
        else:  # back to the elicited belief: a stale change would otherwise outlive it
            mine.pop(str(index), None)
    return {**state.get("source_changes", {}), source: mine}


def fusion_logits(sources: dict[str, list[float]]) -> np.ndarray:
    """(pairs, K): the sources' log-odds, in the prior's order of sources."""
    return np.column_stack([source_logits(beliefs) for beliefs in sources.values()])


def start_fusion(sources: dict[str, list[float]], unknown: list[bool], n_variables: int) -> dict:
    """Weights 1 and the bias that gives the unknown pairs a mean belief of 1 / (n - 1) (at most 1/2)."""
    weights = np.ones(len(sources))
    logits = fusion_logits(sources)[np.array(unknown)] if any(unknown) else fusion_logits(sources)
    bias = starting_bias(logits, weights, min(0.5, 1.0 / max(n_variables - 1, 1)))  # 2 variables: 1/2, not 1
    return {"sources": list(sources), "bias": bias, "weights": weights.tolist(), "start_bias": bias}


def refit_fusion(
    state: DiscoveryState,
    results: dict[Edge, bool],
    precision: float,
    logits: np.ndarray,
    index: dict[Edge, int] | None = None,
) -> dict:
    """The fused prior's bias and weights refitted to the answers ``results`` (fit_weights), from
    the sources' ``logits`` (:func:`fusion_logits`); ``index``: each pair's row, when at hand."""
    fusion = state["fusion"]
    index = index or {tuple(e): i for i, e in enumerate(state["pairs"])}
    rows = [index[e] for e in results]
    fit = fit_weights(
        logits[rows],
        np.array([results[e] for e in results], dtype=float),
        fusion["start_bias"],
        np.ones(len(fusion["sources"])),
        precision,
    )
    return {
        **fusion,
        "bias": fit.bias,
        "weights": fit.weights.tolist(),
        "intervals": fit.intervals().tolist(),
    }


def fusion_record(state: DiscoveryState) -> dict:
    """What a round records about a fused prior: each source's weight, interval, and AUROC on the
    pairs tested so far (None until both answers occur)."""
    fusion = state["fusion"]
    results = _results(state)
    index = {tuple(e): i for i, e in enumerate(state["pairs"])}
    rows = [index[e] for e in results]
    answers = np.array([results[e] for e in results], dtype=bool)
    sources = current_sources(state)
    intervals = fusion.get("intervals") or [[None, None]] * len(fusion["sources"])
    return {
        "bias": round(fusion["bias"], 4),
        "sources": {
            name: {
                "weight": round(weight, 4),
                "interval": [None if x is None else round(x, 4) for x in interval],
                "auroc": auroc(np.array(sources[name])[rows], answers) if rows else None,
            }
            for name, weight, interval in zip(fusion["sources"], fusion["weights"], intervals)
        },
    }


def score(state: DiscoveryState) -> dict:
    """Close the round: predicted graph, metrics against the truth where known."""
    number = state["round"] + 1
    tested = [r for r in state["results"] if r["round"] == number]
    return {"round": number, "history": state["history"] + [round_record(state, number, tested)]}


def should_continue(state: DiscoveryState) -> str:
    settings = _settings(state)
    untested = len(state["pairs"]) - len(settled_pairs(state))
    return "select" if state["round"] < settings.rounds and untested > 0 else "end"


def _as_bool(answer) -> bool:
    if isinstance(answer, bool):
        return answer
    if isinstance(answer, str) and answer.strip().lower() in ("y", "yes", "true", "1"):
        return True
    if isinstance(answer, str) and answer.strip().lower() in ("n", "no", "false", "0"):
        return False
    raise ValueError(f"a human answer must be yes or no, got {answer!r}")
