"""A small English grammar for question formation and tense reinflection, and the seeded datasets built from it.

After McCoy, Frank & Linzen (2020) and Qin, Saphra & Alvarez-Melis (2024), "Sometimes I am a tree".
Every sentence is generated from a *template*: the subject's modifier, the predicate and (for a
transitive predicate) the object's modifier. Written as categories (quest form)::

    S          -> NP_subj A V_pred .                       A: do / does / don't / doesn't
    NP         -> D N | D N MOD
    MOD        -> P D N                                    pp     prepositional phrase
                | R A Vi                                   rc_v   "who doesn't giggle"
                | R A Vt D N                               rc_vo  "who doesn't amuse the yak"
                | R D N A Vt                               rc_sv  "that the yak doesn't amuse" (object gap)
    V_pred     -> Vi | Vi P D N | Vt NP

Modifier noun phrases are bare (D N): one level of embedding keeps sentences short (at most 16
words) while every test item still needs the hierarchical rule. That gives 5 subject modifiers x
7 predicates = 35 templates; 21 of them are *center-embedded* (a relative clause on the subject).
Agreement: an auxiliary agrees in number with its clause's subject (does / doesn't singular, do /
don't plural); a relative clause with a subject gap agrees with the noun it modifies.

Tasks, as one language-model sequence ``input . MARKER output``:

* question formation (``task="question"``): ``DECL`` repeats the declarative (identity); ``QUEST``
  moves the main clause's auxiliary to the front and ends with ``?``. Training questions never have a
  relative clause on the subject, so there the first auxiliary *is* the main one and both rules
  agree; test questions always have one, and their auxiliaries are drawn so that the first auxiliary
  (linear rule) differs from the main auxiliary (hierarchical rule). Measured: the first output token.
* tense reinflection (``task="tense"``, the option): no auxiliaries; the input is in the past tense,
  ``PAST`` repeats it, ``PRESENT`` rewrites every verb in the present, where the main verb agrees with
  the subject's head noun (hierarchical) rather than the closest noun before it (linear). Training
  present-tense items have no relative clause on the subject and a prepositional noun, if any, of the
  head's number; test items have a relative clause with a noun of the other number before the main
  verb. Measured: the main verb of the output.

Complexity = the share of training declaratives (identity items) that are center-embedded;
diversity = how many templates training draws from (a fixed, seeded subset of each pool).
:func:`parse` maps tokens back to their template without knowing how they were made.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cached_property

from discolab.core.errors import DiscolabError

DETERMINERS = ("the", "some", "my", "your", "our", "her")
NOUNS = (
    ("walrus", "walruses"),
    ("newt", "newts"),
    ("yak", "yaks"),
    ("peacock", "peacocks"),
    ("quail", "quails"),
    ("raven", "ravens"),
    ("salamander", "salamanders"),
    ("unicorn", "unicorns"),
    ("vulture", "vultures"),
    ("zebra", "zebras"),
    ("orangutan", "orangutans"),
    ("xylophone", "xylophones"),
)
# (base, third person singular present, past): the base follows an auxiliary, the others are the tense task's forms
INTRANSITIVE = (
    ("giggle", "giggles", "giggled"),
    ("smile", "smiles", "smiled"),
    ("sleep", "sleeps", "slept"),
    ("swim", "swims", "swam"),
    ("wait", "waits", "waited"),
    ("move", "moves", "moved"),
    ("change", "changes", "changed"),
    ("laugh", "laughs", "laughed"),
    ("eat", "eats", "ate"),
)
TRANSITIVE = (
    ("entertain", "entertains", "entertained"),
    ("amuse", "amuses", "amused"),
    ("applaud", "applauds", "applauded"),
    ("confuse", "confuses", "confused"),
    ("admire", "admires", "admired"),
    ("accept", "accepts", "accepted"),
    ("remember", "remembers", "remembered"),
    ("comfort", "comforts", "comforted"),
)
PREPOSITIONS = ("around", "near", "with", "upon", "by", "behind", "above", "below")
RELATIVES = ("who", "that")
AUXILIARIES = {("sg", False): "does", ("pl", False): "do", ("sg", True): "doesn't", ("pl", True): "don't"}
AUXILIARY_TOKENS = tuple(AUXILIARIES.values())
NUMBERS = ("sg", "pl")

PAD = "<pad>"
MARKERS = {"question": ("DECL", "QUEST"), "tense": ("PAST", "PRESENT")}
TASKS = tuple(MARKERS)

SUBJECT_MODIFIERS = ("none", "pp", "rc_v", "rc_vo", "rc_sv")
RELATIVE_CLAUSES = ("rc_v", "rc_vo", "rc_sv")
PREDICATES = ("vi", "vi_pp", "vt")
MODIFIER_CATEGORIES = {
    "none": (),
    "pp": ("P", "D", "N"),
    "rc_v": ("R", "A", "Vi"),
    "rc_vo": ("R", "A", "Vt", "D", "N"),
    "rc_sv": ("R", "D", "N", "A", "Vt"),
}


@dataclass(frozen=True, order=True)
class Template:
    """A sentence structure: the subject's modifier, the predicate and, for ``vt``, the object's modifier."""

    subject: str
    predicate: str
    object: str | None = None

    def __post_init__(self):
        if self.subject not in SUBJECT_MODIFIERS or self.predicate not in PREDICATES:
            raise DiscolabError(f"not a template: {self}")
        if (self.predicate == "vt") != (self.object is not None) or (self.object or "none") not in SUBJECT_MODIFIERS:
            raise DiscolabError(f"not a template: {self} (an object modifier goes with, and only with, vt)")

    @property
    def center_embedded(self) -> bool:
        """A relative clause on the subject: the main auxiliary is not the first one."""
        return self.subject in RELATIVE_CLAUSES

    def categories(self, task: str = "question") -> tuple[str, ...]:
        """The category sequence of the declarative (without the final "."). The tense task has no auxiliaries."""
        predicate = {"vi": ("A", "Vi"), "vi_pp": ("A", "Vi", "P", "D", "N"), "vt": ("A", "Vt", "D", "N")}
        out = ("D", "N", *MODIFIER_CATEGORIES[self.subject], *predicate[self.predicate])
        out += MODIFIER_CATEGORIES[self.object or "none"]
        return tuple(c for c in out if c != "A") if task == "tense" else out

    @property
    def name(self) -> str:
        return " ".join(self.categories())


ALL_TEMPLATES = tuple(
    Template(s, p, o)
    for s in SUBJECT_MODIFIERS
    for p in PREDICATES
    for o in (SUBJECT_MODIFIERS if p == "vt" else (None,))
)
SIMPLE_TEMPLATES = tuple(t for t in ALL_TEMPLATES if not t.center_embedded)  # 14
CENTER_TEMPLATES = tuple(t for t in ALL_TEMPLATES if t.center_embedded)  # 21


@dataclass
class Lexicon:
    """The words in use: the first ``n_*`` of each class (smaller lexicons make a smaller, faster problem)."""

    n_nouns: int = 6
    n_intransitive: int = 4
    n_transitive: int = 4
    n_determiners: int = 3
    n_prepositions: int = 3

    def __post_init__(self):
        limits = {
            "n_nouns": NOUNS,
            "n_intransitive": INTRANSITIVE,
            "n_transitive": TRANSITIVE,
            "n_determiners": DETERMINERS,
            "n_prepositions": PREPOSITIONS,
        }
        minimum = {"n_nouns": 2}  # the test needs a noun other than the head, in either number
        for name, words in limits.items():
            value = getattr(self, name)
            if not minimum.get(name, 1) <= value <= len(words):
                raise DiscolabError(f"{name} must be between {minimum.get(name, 1)} and {len(words)}, got {value}")

    @cached_property
    def nouns(self):
        return NOUNS[: self.n_nouns]

    @cached_property
    def intransitive(self):
        return INTRANSITIVE[: self.n_intransitive]

    @cached_property
    def transitive(self):
        return TRANSITIVE[: self.n_transitive]

    @cached_property
    def determiners(self):
        return DETERMINERS[: self.n_determiners]

    @cached_property
    def prepositions(self):
        return PREPOSITIONS[: self.n_prepositions]

    def words(self, task: str) -> list[str]:
        """Every word the task can produce, in a fixed order."""
        out = [*self.determiners, *(w for pair in self.nouns for w in pair), *self.prepositions, *RELATIVES]
        verbs = [*self.intransitive, *self.transitive]
        if task == "question":
            out += [*AUXILIARY_TOKENS, *(v[0] for v in verbs)]
        else:
            out += [form for v in verbs for form in v]  # base (plural present), singular present, past
        return list(dict.fromkeys(out))

    def category(self, token: str, task: str) -> str | None:
        return self._categories[task].get(token)

    @cached_property
    def _categories(self) -> dict[str, dict[str, str]]:
        common = {w: "D" for w in self.determiners}
        common |= {w: "N" for pair in self.nouns for w in pair}
        common |= {w: "P" for w in self.prepositions} | {w: "R" for w in RELATIVES}
        question = common | {a: "A" for a in AUXILIARY_TOKENS}
        question |= {v[0]: "Vi" for v in self.intransitive} | {v[0]: "Vt" for v in self.transitive}
        tense = dict(common)
        for kind, verbs in (("Vi", self.intransitive), ("Vt", self.transitive)):
            tense |= {form: kind for v in verbs for form in v}
        return {"question": question, "tense": tense}


# -- sentences --------------------------------------------------------------------------------
@dataclass
class Verb:
    """A verb slot: its lemma (base, singular present, past), its subject's number, negation, and whether it heads
    the main clause."""

    forms: tuple[str, str, str]
    kind: str  # Vi or Vt
    number: str
    negated: bool
    main: bool

    def render(self, form: str) -> list[str]:
        """``aux``: [auxiliary, base]; ``past``: [past]; ``present``: [singular or plural present]."""
        if form == "aux":
            return [AUXILIARIES[(self.number, self.negated)], self.forms[0]]
        if form == "past":
            return [self.forms[2]]
        return [self.forms[1] if self.number == "sg" else self.forms[0]]


@dataclass
class Sentence:
    """One abstract declarative: a list of slots (a word, or a :class:`Verb`), rendered per task."""

    template: Template
    slots: list = field(default_factory=list)
    head_number: str = "sg"  # of the subject's head noun
    attractor_number: str | None = None  # the closest noun before the main verb, when not the head

    def tokens(self, form: str) -> list[str]:
        out = []
        for slot in self.slots:
            out += slot.render(form) if isinstance(slot, Verb) else [slot]
        return out

    def auxiliaries(self) -> list[tuple[int, str, bool]]:
        """(index in the aux-form tokens, auxiliary, is main) for each verb, in order."""
        out, index = [], 0
        for slot in self.slots:
            if isinstance(slot, Verb):
                out.append((index, AUXILIARIES[(slot.number, slot.negated)], slot.main))
                index += 2
            else:
                index += 1
        return out

    def question(self) -> list[str]:
        """The hierarchical rule: the main auxiliary moves to the front."""
        tokens = self.tokens("aux")
        main = next(i for i, _, is_main in self.auxiliaries() if is_main)
        return [tokens[main], *tokens[:main], *tokens[main + 1 :]]

    @property
    def first_auxiliary(self) -> str:
        return self.auxiliaries()[0][1]

    @property
    def main_auxiliary(self) -> str:
        return next(a for _, a, is_main in self.auxiliaries() if is_main)

    def main_verb_index(self, form: str) -> int:
        """Index of the main verb in the rendered tokens (``past`` or ``present``: one token per verb)."""
        index = 0
        for slot in self.slots:
            if isinstance(slot, Verb) and slot.main:
                return index + (1 if form == "aux" else 0)
            index += len(slot.render(form)) if isinstance(slot, Verb) else 1
        raise AssertionError("a sentence always has a main verb")


def sample_sentence(template: Template, lexicon: Lexicon, rng: random.Random) -> Sentence:
    """A random sentence of ``template``: words, numbers and negations drawn uniformly."""
    sentence = Sentence(template)
    slots = sentence.slots

    def noun_phrase() -> str:
        number = rng.choice(NUMBERS)
        slots.extend([rng.choice(lexicon.determiners), rng.choice(lexicon.nouns)[NUMBERS.index(number)]])
        return number

    def verb(kind: str, number: str, main: bool) -> None:
        verbs = lexicon.intransitive if kind == "Vi" else lexicon.transitive
        slots.append(Verb(rng.choice(verbs), kind, number, rng.random() < 0.5, main))

    def modifier(name: str, head: str) -> str | None:
        """Add the modifier of a noun of number ``head``; returns the number of the modifier's last noun, if any."""
        if name == "pp":
            slots.append(rng.choice(lexicon.prepositions))
            return noun_phrase()
        if name in RELATIVE_CLAUSES:
            slots.append(rng.choice(RELATIVES))
            if name == "rc_v":
                verb("Vi", head, False)
                return None
            if name == "rc_vo":
                verb("Vt", head, False)
                return noun_phrase()
            number = noun_phrase()  # object gap: R D N A Vt, the clause's verb agrees with its own subject
            verb("Vt", number, False)
            return number
        return None

    sentence.head_number = noun_phrase()
    attractor = modifier(template.subject, sentence.head_number)
    sentence.attractor_number = attractor
    if template.predicate == "vi":
        verb("Vi", sentence.head_number, True)
    elif template.predicate == "vi_pp":
        verb("Vi", sentence.head_number, True)
        slots.append(rng.choice(lexicon.prepositions))
        noun_phrase()
    else:
        verb("Vt", sentence.head_number, True)
        modifier(template.object, noun_phrase())
    return sentence


# -- parsing ----------------------------------------------------------------------------------
@dataclass
class Parse:
    """What the parser recovers from tokens alone: the template and the main verb's position (its auxiliary's in
    the question task)."""

    template: Template
    main_index: int


def parse(tokens: list[str] | tuple[str, ...], lexicon: Lexicon, task: str = "question") -> Parse:
    """Parse a declarative (no final ".") back to its template, by recursive descent over the categories.

    Raises :class:`DiscolabError` if the tokens are not a sentence of the grammar.
    """
    categories = []
    for token in tokens:
        category = lexicon.category(token, task)
        if category is None:
            raise DiscolabError(f"unknown word {token!r}")
        categories.append(category)
    verb_group = ("A", "V") if task == "question" else ("V",)
    position = 0

    def take(*expected: str) -> bool:
        """Consume the categories if they come next (V matches Vi or Vt)."""
        nonlocal position
        window = categories[position : position + len(expected)]
        if len(window) == len(expected) and all(
            c == e or (e == "V" and c in ("Vi", "Vt")) for c, e in zip(window, expected)
        ):
            position += len(expected)
            return True
        return False

    def fail():
        raise DiscolabError(f"not a sentence of the grammar at word {position}: {' '.join(tokens)}")

    def verb_kind() -> str:
        if not take(*verb_group):
            fail()
        return categories[position - 1]

    def modifier() -> str:
        if take("P", "D", "N"):
            return "pp"
        if not take("R"):
            return "none"
        if take("D", "N"):
            if verb_kind() != "Vt":
                fail()
            return "rc_sv"
        if verb_kind() == "Vi":
            return "rc_v"
        if not take("D", "N"):
            fail()
        return "rc_vo"

    if not take("D", "N"):
        fail()
    subject = modifier()
    main_index = position
    kind = verb_kind()
    if kind == "Vi":
        predicate, obj = ("vi_pp", None) if take("P", "D", "N") else ("vi", None)
    else:
        if not take("D", "N"):
            fail()
        predicate, obj = "vt", modifier()
    if position != len(categories):
        fail()
    return Parse(Template(subject, predicate, obj), main_index)


def question_by_parse(tokens: list[str], lexicon: Lexicon) -> list[str]:
    """The question from the declarative's parse alone (independent of :meth:`Sentence.question`)."""
    main = parse(tokens, lexicon).main_index
    return [tokens[main], *tokens[:main], *tokens[main + 1 :]]


# -- datasets ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Item:
    """One sequence ``input . MARKER output END``. ``measure_at`` indexes the token the study scores (the first
    output token of a question, the main verb of a present-tense output); ``hierarchical`` and ``linear`` are
    what each rule puts there (equal on training-distribution items)."""

    tokens: tuple[str, ...]
    template: Template
    transform: bool  # QUEST / PRESENT, not the identity task
    input_length: int  # the declarative's words, without "."
    measure_at: int
    hierarchical: str
    linear: str


def make_item(sentence: Sentence, task: str, transform: bool) -> Item:
    """The sentence as an identity item or as a transform item (question, present tense) of ``task``."""
    identity_marker, transform_marker = MARKERS[task]
    source = sentence.tokens("aux" if task == "question" else "past")
    output = len(source) + 2  # after the input, "." and the marker
    if not transform:
        tokens = (*source, ".", identity_marker, *source, ".")
        return Item(tokens, sentence.template, False, len(source), output, tokens[output], tokens[output])
    if task == "question":
        tokens = (*source, ".", transform_marker, *sentence.question(), "?")
        hierarchical, linear = sentence.main_auxiliary, sentence.first_auxiliary
        return Item(tokens, sentence.template, True, len(source), output, hierarchical, linear)
    tokens = (*source, ".", transform_marker, *sentence.tokens("present"), ".")
    at = output + sentence.main_verb_index("present")
    main = next(s for s in sentence.slots if isinstance(s, Verb) and s.main)
    closest = sentence.attractor_number or sentence.head_number  # the noun nearest before the main verb
    linear = main.forms[1] if closest == "sg" else main.forms[0]
    return Item(tokens, sentence.template, True, len(source), at, tokens[at], linear)


def ambiguous(sentence: Sentence, task: str) -> bool:
    """Both rules give the same answer: the only transform items training may contain."""
    if task == "question":
        return sentence.first_auxiliary == sentence.main_auxiliary
    return sentence.attractor_number in (None, sentence.head_number) and not sentence.template.center_embedded


def disambiguating(sentence: Sentence, task: str) -> bool:
    """A test item: relative clause on the subject and the two rules disagree."""
    if not sentence.template.center_embedded:
        return False
    if task == "question":
        return sentence.first_auxiliary != sentence.main_auxiliary
    return sentence.attractor_number is not None and sentence.attractor_number != sentence.head_number


@dataclass
class TreeDataConfig:
    """What the data depend on. ``center_share``: complexity, the share of training declaratives (identity items)
    whose subject carries a relative clause. ``n_templates``: diversity, how many templates of each pool (simple:
    14, center-embedded: 21; capped at the pool's size; None = all) training draws from, the same seeded subset
    for every run seed. ``transform_share``: share of training items that are questions (present-tense rewrites)."""

    task: str = "question"
    center_share: float = 0.5
    n_templates: int | None = None
    template_seed: int = 0
    transform_share: float = 0.5
    n_train: int = 20000
    n_test: int = 500
    n_nouns: int = 6
    n_intransitive: int = 4
    n_transitive: int = 4
    n_determiners: int = 3
    n_prepositions: int = 3

    def __post_init__(self):
        if self.task not in TASKS:
            raise DiscolabError(f"unknown task {self.task!r}; choose from {', '.join(TASKS)}")
        for name in ("center_share", "transform_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise DiscolabError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.n_templates is not None and self.n_templates < 1:
            raise DiscolabError(f"n_templates must be at least 1 (or None: all), got {self.n_templates}")
        if self.n_train < 1 or self.n_test < 1:
            raise DiscolabError(f"n_train and n_test must be positive, got {self.n_train}, {self.n_test}")

    @property
    def lexicon(self) -> Lexicon:
        return Lexicon(self.n_nouns, self.n_intransitive, self.n_transitive, self.n_determiners, self.n_prepositions)


def training_templates(config: TreeDataConfig) -> tuple[list[Template], list[Template]]:
    """(simple, center-embedded) templates training draws from: the first ``n_templates`` of each pool in a fixed
    order shuffled by ``template_seed``."""
    rng = random.Random(config.template_seed)
    simple, center = list(SIMPLE_TEMPLATES), list(CENTER_TEMPLATES)
    rng.shuffle(simple)
    rng.shuffle(center)
    k = config.n_templates
    return (simple, center) if k is None else (simple[:k], center[:k])


@dataclass
class TreeData:
    """The vocabulary, training items, held-out training-distribution questions (``id_test``) and the
    generalization items (``ood_test``) of one seed."""

    config: TreeDataConfig
    vocab: list[str]
    train: list[Item]
    id_test: list[Item]
    ood_test: list[Item]
    simple_templates: list[Template]
    center_templates: list[Template]

    @property
    def index(self) -> dict[str, int]:
        return {token: i for i, token in enumerate(self.vocab)}

    @property
    def block_size(self) -> int:
        return max(len(item.tokens) for item in self.train + self.id_test + self.ood_test)


MAX_TRIES = 200
MAX_MISSES = 2000  # consecutive repeats before the space of distinct inputs counts as exhausted


def _distinct(draw, n: int, exclude: set, what: str) -> list[Item]:
    """``n`` items with distinct inputs not in ``exclude`` (which grows), from ``draw()``."""
    out, misses = [], 0  # consecutive draws already taken
    while len(out) < n:
        item = draw()
        key = item.tokens[: item.input_length]
        if key in exclude:
            misses += 1
            if misses > MAX_MISSES:
                raise DiscolabError(
                    f"the lexicon is too small for {n} distinct {what} items: enlarge it or lower n_test"
                )
            continue
        exclude.add(key)
        out.append(item)
        misses = 0
    return out


def build_data(config: TreeDataConfig, seed: int) -> TreeData:
    """The seed's data. Test sets first (distinct inputs), then training items whose inputs are in neither test set."""
    lexicon = config.lexicon
    rng = random.Random(seed)
    simple, center = training_templates(config)
    task = config.task
    ood_templates = [t for t in CENTER_TEMPLATES if task == "question" or t.subject != "rc_v"]

    def sample(templates, keep) -> Sentence:
        for _ in range(MAX_TRIES):
            sentence = sample_sentence(rng.choice(templates), lexicon, rng)
            if keep(sentence):
                return sentence
        raise AssertionError("acceptance is at least 1/4 for every template")

    def train_item() -> Item:
        if rng.random() < config.transform_share:
            return make_item(sample(simple, lambda s: ambiguous(s, task)), task, True)
        pool = center if rng.random() < config.center_share else simple
        return make_item(sample(pool, lambda s: True), task, False)

    held_out: set = set()
    ood = _distinct(
        lambda: make_item(sample(ood_templates, lambda s: disambiguating(s, task)), task, True),
        config.n_test,
        held_out,
        "test",
    )
    in_distribution = _distinct(
        lambda: make_item(sample(simple, lambda s: ambiguous(s, task)), task, True),
        config.n_test,
        held_out,
        "in-distribution test",
    )
    train = []
    while len(train) < config.n_train:
        item = train_item()
        if item.tokens[: item.input_length] not in held_out:
            train.append(item)
    vocab = [PAD, ".", "?", *MARKERS[task], *lexicon.words(task)]
    return TreeData(config, vocab, train, in_distribution, ood, simple, center)
