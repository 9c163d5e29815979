"""Seeded tasks for the MoE study: phone-book memorization and shortest paths on held-out random graphs.

After Jelassi et al. (2024), "Mixture of Parrots: Experts improve memorization more than reasoning".
Both tasks are next-token prediction with the loss on the answer tokens only: a batch is
``(inputs, targets)`` of shape (B, L) with ``IGNORE`` in ``targets`` wherever there is nothing to
predict. An example counts as correct when every answer token is the argmax; with teacher forcing
this equals greedy decoding of the answer being exactly right.

* :class:`PhoneBook`: N random names (``name_length`` letters out of ``n_letters``, distinct) each with
  a random ``n_digits``-digit number. Trained on all N entries, tested on exact recall of the same
  entries: pure memorization, about N * n_digits * log2(10) bits of information to store.
  Chance: 10^-n_digits.
* :class:`ShortestPath`: a random simple undirected graph on ``n_nodes`` nodes (random labels out of
  ``n_labels``) with ``n_edges`` edges, written as its edge list in random order (one token per edge:
  the unordered label pair; or, ``edge_tokens="labels"``, its two label tokens), then ``n_queries``
  questions ``? {s,t}``; each answer is the shortest-path distance in classes 1, 2, ...,
  ``max_distance`` and "further" (longer or unreachable); with the default ``max_distance=2`` this is
  the edge / length-2-path question. Queries are stratified: a class present in the graph is drawn
  uniformly, then a pair of that class, so that the class prior is near uniform. Test graphs come from a
  separate seed stream and training batches drop any graph whose labelled edge set equals a test
  graph's, so the test measures the computation, not recall. Accuracy is per question; chance is the
  test set's most frequent class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from discolab.core.errors import DiscolabError

IGNORE = -100  # target value skipped by the loss and the accuracy
EDGE_TOKENS = {"pair": 1, "labels": 2}  # ShortestPath's edge encodings: tokens per edge
TEST_SEED_OFFSET = 1_000_003  # test graphs come from seed + this, training batches from seed


def exact_match(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per example: all answer tokens correct (bool, (B,)); per answer token: correct (bool, (n,))."""
    mask = targets != IGNORE
    correct = (logits.argmax(-1) == targets) | ~mask
    return correct.all(dim=1), correct[mask]


@dataclass
class PhoneBook:
    """N name -> number pairs. Vocabulary: digits 0-9, the separator, then the letters."""

    n_entries: int = 2000
    name_length: int = 3
    n_letters: int = 16
    n_digits: int = 4
    seed: int = 0
    name: str = "phonebook"

    def __post_init__(self):
        possible = self.n_letters**self.name_length
        if self.n_entries < 1 or self.n_entries > possible:
            raise DiscolabError(
                f"phone book n_entries must be between 1 and n_letters ** name_length = {possible}, "
                f"got {self.n_entries}"
            )
        if self.n_digits < 1 or self.name_length < 1 or self.n_letters < 2:
            raise DiscolabError("phone book needs n_digits >= 1, name_length >= 1 and n_letters >= 2")
        generator = torch.Generator().manual_seed(self.seed)
        codes = torch.randperm(possible, generator=generator)[: self.n_entries]  # distinct names
        powers = self.n_letters ** torch.arange(self.name_length - 1, -1, -1)
        self.names = (codes.unsqueeze(1) // powers) % self.n_letters
        self.numbers = torch.randint(0, 10, (self.n_entries, self.n_digits), generator=generator)
        self.separator = 10
        sequences = torch.cat(
            [self.names + 11, torch.full((self.n_entries, 1), self.separator), self.numbers], dim=1
        )  # name letters, separator, digits
        self.inputs = sequences[:, :-1]
        self.targets = torch.full_like(self.inputs, IGNORE)
        self.targets[:, self.name_length :] = sequences[:, self.name_length + 1 :]

    @property
    def vocab_size(self) -> int:
        return 11 + self.n_letters

    @property
    def block_size(self) -> int:
        return self.name_length + self.n_digits

    @property
    def chance(self) -> float:
        return 10.0**-self.n_digits

    @property
    def information_bits(self) -> float:
        return self.n_entries * self.n_digits * math.log2(10)

    def train_batch(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.randint(0, self.n_entries, (batch_size,), generator=generator)
        return self.inputs[rows], self.targets[rows]

    def test_set(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every entry: memorization is tested on what was trained."""
        return self.inputs, self.targets


@dataclass
class ShortestPath:
    """Shortest-path distance classes on random graphs, ``n_queries`` questions per graph.

    Sequence (``edge_tokens="pair"``): the edges, one token each for the unordered pair of node labels
    (``n_nodes`` distinct labels out of ``n_labels``), then ``n_queries`` times ``? {s,t} a`` with
    ``{s,t}`` the pair's token and ``a`` the distance class of (s, t). Vocabulary: the
    n_labels (n_labels - 1) / 2 label pairs, ``?``, the answer classes. With ``edge_tokens="labels"``
    an edge is its two label tokens ``u v`` (in random order) and a question ``? s t a``; vocabulary:
    the n_labels labels, ``?``, the answer classes. A model then reads a node's label straight from
    its token, where a pair token's two labels must first be learned from data. Every ``a`` is a
    target; accuracy is per question.
    """

    n_nodes: int = 6
    n_edges: int = 6
    n_labels: int = 12
    max_distance: int = 2
    n_queries: int = 4
    n_test: int = 1000
    edge_tokens: str = "pair"  # "pair": one token per edge; "labels": its two label tokens
    seed: int = 0
    name: str = "shortest_path"
    score_per_answer = True  # accuracy counts each question, not whole sequences

    @property
    def classes(self) -> tuple[str, ...]:
        return (*(str(d) for d in range(1, self.max_distance + 1)), "further")

    def __post_init__(self):
        pairs = self.n_nodes * (self.n_nodes - 1) // 2
        if self.n_nodes < 3 or not 1 <= self.n_edges <= pairs:
            raise DiscolabError(
                f"shortest path needs n_nodes >= 3 and 1 <= n_edges <= {pairs} (all pairs), "
                f"got n_nodes={self.n_nodes}, n_edges={self.n_edges}"
            )
        if self.n_labels < self.n_nodes:
            raise DiscolabError(f"n_labels ({self.n_labels}) must be at least n_nodes ({self.n_nodes})")
        if not 1 <= self.max_distance < self.n_nodes:
            raise DiscolabError(f"max_distance must be between 1 and n_nodes - 1, got {self.max_distance}")
        if self.edge_tokens not in EDGE_TOKENS:
            raise DiscolabError(f"edge_tokens must be one of {', '.join(EDGE_TOKENS)}, got {self.edge_tokens!r}")
        if self.n_test < 1 or self.n_queries < 1:
            raise DiscolabError(f"n_test and n_queries must be at least 1, got {self.n_test}, {self.n_queries}")
        self.pair_u, self.pair_v = torch.triu_indices(self.n_nodes, self.n_nodes, offset=1)
        n_pairs = self.n_labels * (self.n_labels - 1) // 2
        self.pair_token = torch.zeros(self.n_labels, self.n_labels, dtype=torch.long)  # unordered label pair -> token
        first, second = torch.triu_indices(self.n_labels, self.n_labels, offset=1)
        self.pair_token[first, second] = torch.arange(n_pairs)
        self.pair_token[second, first] = torch.arange(n_pairs)
        self.width = EDGE_TOKENS[self.edge_tokens]  # tokens per edge and per question's pair
        self.query_token = n_pairs if self.width == 1 else self.n_labels
        self.answer_offset = self.query_token + 1
        # Zobrist hashing: a random 62-bit number per label pair; a labelled graph's key is the sum over its edges.
        hashes = torch.randint(0, 2**62, (self.n_labels, self.n_labels), generator=torch.Generator().manual_seed(99))
        self.pair_hash = torch.triu(hashes, 1) + torch.triu(hashes, 1).t()
        generator = torch.Generator().manual_seed(self.seed + TEST_SEED_OFFSET)
        self.test_inputs, self.test_targets, self.test_keys = self._sample(self.n_test, generator)
        self.rejected = 0  # training graphs dropped for equalling a test graph
        self.drawn = 0  # training graphs drawn, dropped ones included

    @property
    def vocab_size(self) -> int:
        return self.answer_offset + len(self.classes)

    @property
    def block_size(self) -> int:
        return self.width * self.n_edges + (2 + self.width) * self.n_queries - 1

    def pair_tokens(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """The tokens of label pairs (..., ) -> (..., width): one pair token, or the two label tokens."""
        if self.width == 1:
            return self.pair_token[first, second].unsqueeze(-1)
        return torch.stack([first, second], dim=-1)

    @property
    def chance(self) -> float:
        """Accuracy of always answering the test set's most frequent class."""
        answers = self.test_targets[self.test_targets != IGNORE]
        return answers.bincount().max().item() / len(answers)

    def distances(self, adjacency: torch.Tensor) -> torch.Tensor:
        """All-pairs shortest-path lengths (B, n, n) by breadth-first expansion; n (never reached) if unreachable."""
        n = self.n_nodes
        reached = torch.eye(n, dtype=torch.bool).expand_as(adjacency).clone()
        distance = torch.full(adjacency.shape, n, dtype=torch.long)
        distance[reached] = 0
        step = adjacency.float()
        for length in range(1, n):
            grown = reached | (torch.bmm(reached.float(), step) > 0)
            distance[grown & ~reached] = length
            reached = grown
        return distance

    def _sample(self, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n, m, q = self.n_nodes, self.n_edges, self.n_queries
        pairs = len(self.pair_u)
        chosen = torch.rand(count, pairs, generator=generator).argsort(dim=1)[:, :m]  # (B, m) pair indices
        u, v = self.pair_u[chosen], self.pair_v[chosen]
        flip = torch.rand(count, m, generator=generator) < 0.5
        u, v = torch.where(flip, v, u), torch.where(flip, u, v)
        adjacency = torch.zeros(count, n, n, dtype=torch.bool)
        rows = torch.arange(count).unsqueeze(1)
        adjacency[rows, u, v] = True
        adjacency[rows, v, u] = True
        distance = self.distances(adjacency)
        answer = distance.clamp(max=self.max_distance + 1) - 1  # class d - 1 for distance d; the last: further
        answer = answer.masked_fill(torch.eye(n, dtype=torch.bool), -1).view(count, n * n)
        # Stratified questions: a uniform class among those present, then a uniform pair of that class.
        per_class = torch.stack([(answer == c).sum(dim=1) for c in range(len(self.classes))], dim=1)
        present = (per_class > 0).sum(dim=1, keepdim=True)
        weight = torch.zeros(count, n * n)
        for c in range(len(self.classes)):
            weight += (answer == c) / (per_class[:, c : c + 1].clamp(min=1) * present)
        query = torch.multinomial(weight, q, replacement=True, generator=generator)  # (B, q)
        labels = torch.rand(count, self.n_labels, generator=generator).argsort(dim=1)[:, :n]  # node -> label
        keys = self.pair_hash[labels.gather(1, u), labels.gather(1, v)].sum(dim=1)
        edges = self.pair_tokens(labels.gather(1, u), labels.gather(1, v)).view(count, -1)  # (B, m width)
        questions = torch.cat(
            [
                torch.full((count, q, 1), self.query_token),
                self.pair_tokens(labels.gather(1, query // n), labels.gather(1, query % n)),
                (answer.gather(1, query) + self.answer_offset).unsqueeze(-1),
            ],
            dim=2,
        ).view(count, -1)
        sequence = torch.cat([edges, questions], dim=1)
        inputs = sequence[:, :-1]
        targets = torch.full_like(inputs, IGNORE)
        # the position of each question's last pair token, which predicts a
        answer_positions = self.width * m + (2 + self.width) * torch.arange(q) + self.width
        targets[:, answer_positions] = sequence[:, answer_positions + 1]
        return inputs, targets, keys

    def train_batch(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Fresh graphs every batch; any that equals a test graph (same labelled edge set) is dropped."""
        inputs, targets, keys = self._sample(batch_size, generator)
        fresh = ~torch.isin(keys, self.test_keys)
        self.drawn += len(keys)
        self.rejected += int((~fresh).sum())
        return inputs[fresh], targets[fresh]

    def test_set(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.test_inputs, self.test_targets


TASKS = {"phonebook": PhoneBook, "shortest_path": ShortestPath}


def make_task(name: str, seed: int = 0, **parameters):
    """A task by name with its parameters (unknown names and parameters raise :class:`DiscolabError`)."""
    if name not in TASKS:
        raise DiscolabError(f"unknown MoE task {name!r}; choose from {', '.join(TASKS)}")
    cls = TASKS[name]
    allowed = set(cls.__dataclass_fields__) - {"name", "seed"}
    unknown = set(parameters) - allowed
    if unknown:
        raise DiscolabError(
            f"unknown parameters for task {name}: {', '.join(sorted(unknown))}; allowed: {sorted(allowed)}"
        )
    return cls(seed=seed, **parameters)
