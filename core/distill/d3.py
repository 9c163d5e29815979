"""D3: distributional dataset distillation with subtask decomposition (after Qin et al., 2024).

Each class c is stored as L diagonal-Gaussian latents N(mu_cl, diag(exp(logvar_cl))) in R^d plus a
decoder g: R^d -> images shared by the classes of a subtask. Decoder and latents are trained
jointly to minimise, summed over classes, the squared maximum mean discrepancy between expert
features of decoded samples and of real samples of the class,

    MMD^2(P, Q) = E k(a, a') + E k(b, b') - 2 E k(a, b),   a ~ phi(g(z)), z ~ mix_l N(mu_cl, s_cl),
                                                           b ~ phi(x), x real of class c,

with a multi-bandwidth RBF kernel k(a, b) = sum_s exp(-||a - b||^2 / (2 s^2 m^2)), s in
:data:`BANDWIDTHS` and m the median pairwise distance of the class's real features (Gretton et al.,
2012, "A kernel two-sample test"; the biased V-statistic). z is drawn by reparameterisation, so
the gradient reaches mu, logvar and g. (The paper adds trajectory matching; this version does not:
the MMD term alone, see docs/distill.md.)

Federated distillation splits the classes into subtasks; each subtask's latents and decoder are
distilled with an expert trained on that subtask only (:func:`distill_subtask`, one sweep cell per
subtask, so they run in parallel through the sweep runner's executor), then the parts are
re-aggregated and every latent gets one soft label, softmax(z(g(mu)) / T) from a full-data expert.
A student sees, every epoch, each latent's decoded mean and ``fresh`` new samples from it.

Storage: latents (2 d floats each), decoder parameters (every subtask's), labels (C floats per
latent when soft, none when hard); divided by C x (floats per image) it is an images-per-class
equivalent, the unit in which pixel prototypes and random real images are budgeted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from discolab.core.errors import DiscolabError
from torch import nn

from .data import ImageData
from .labels import soft_labels

BANDWIDTHS = (0.5, 1.0, 2.0)


class Decoder(nn.Module):
    """g(z) = sigmoid(W2 relu(W1 z + b1) + b2), reshaped to the image shape (pixels in [0, 1])."""

    def __init__(self, latent_dim: int, hidden: int, image_shape: tuple[int, ...]):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, math.prod(image_shape)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(z)).reshape(len(z), *self.image_shape)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


class ClassLatents(nn.Module):
    """mu and logvar of L latents for each of C classes: tensors (C, L, d)."""

    def __init__(self, n_classes: int, per_class: int, latent_dim: int, generator: torch.Generator):
        super().__init__()
        self.mean = nn.Parameter(torch.randn(n_classes, per_class, latent_dim, generator=generator))
        self.logvar = nn.Parameter(torch.full((n_classes, per_class, latent_dim), math.log(0.1)))

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` reparameterised draws per class, each from a uniformly chosen latent: (C, n, d)."""
        n_classes, per_class, dim = self.mean.shape
        which = torch.randint(0, per_class, (n_classes, n), generator=generator)
        index = which.unsqueeze(-1).expand(-1, -1, dim)
        mean, logvar = self.mean.gather(1, index), self.logvar.gather(1, index)
        noise = torch.randn(mean.shape, generator=generator)
        return mean + torch.exp(0.5 * logvar) * noise


def mmd2_rbf(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Biased MMD^2 between the sets a (B, n, F) and b (B, m, F), per batch entry, with the kernel
    sum_s exp(-||x - y||^2 / (2 (s * scale)^2)) over s in :data:`BANDWIDTHS`; ``scale`` is (B,)."""

    def kernel(x, y):
        squared = torch.cdist(x, y).pow(2)
        width = 2 * scale.view(-1, 1, 1).pow(2)
        return sum(torch.exp(-squared / (width * s * s)) for s in BANDWIDTHS)

    return kernel(a, a).mean((1, 2)) + kernel(b, b).mean((1, 2)) - 2 * kernel(a, b).mean((1, 2))


def class_feature_bank(expert: nn.Module, data: ImageData, per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``expert.features`` of the first ``per_class`` training images of each class (C, per_class, F)
    and each class's median pairwise feature distance (the kernel scale)."""
    counts = torch.bincount(data.train_y, minlength=data.n_classes)
    per_class = min(per_class, int(counts.min()))
    with torch.no_grad():
        bank = torch.stack([expert.features(data.class_images(c)[:per_class]) for c in range(data.n_classes)])
        distances = torch.cdist(bank, bank)
        upper = torch.triu_indices(per_class, per_class, 1)
        scale = distances[:, upper[0], upper[1]].median(dim=1).values.clamp_min(1e-3)
    return bank, scale


def pca_initialise(decoder: Decoder, latents: ClassLatents, data: ImageData, generator: torch.Generator) -> None:
    """Start the decoder as a PCA decoder in logit space and each latent mean at a real image's code.

    With k = min(d, h // 2) components U (scaled to unit-variance codes) and the data's mean logit m,
    hidden units i and k + i compute relu(z_i) and relu(-z_i), so g(z) = sigmoid(U z_:k + m) at the
    start; every other weight starts at zero or small. Latent means: the codes of random real images
    of their class (so decoding a mean starts as a PCA reconstruction of a real image)."""
    from sklearn.decomposition import PCA

    latent_dim, hidden = decoder.net[0].in_features, decoder.net[0].out_features
    k = min(latent_dim, hidden // 2)
    if k < 1:
        return
    logits = torch.logit(data.train_x.flatten(1).clamp(0.02, 0.98)).double().numpy()
    pca = PCA(n_components=k, random_state=0).fit(logits)
    basis = torch.tensor(pca.components_.T * pca.explained_variance_[None] ** 0.5, dtype=torch.float32)
    with torch.no_grad():
        first, second = decoder.net[0], decoder.net[2]
        first.weight.mul_(0.01)
        first.bias.zero_()
        first.weight[:k, :k] = torch.eye(k)
        first.weight[k : 2 * k, :k] = -torch.eye(k)
        second.weight.mul_(0.01)
        second.weight[:, :k] = basis
        second.weight[:, k : 2 * k] = -basis
        second.bias.copy_(torch.tensor(pca.mean_, dtype=torch.float32))
        codes = torch.tensor(pca.transform(logits) / pca.explained_variance_[None] ** 0.5, dtype=torch.float32)
        per_class = latents.mean.shape[1]
        for c in range(latents.mean.shape[0]):
            members = torch.nonzero(data.train_y == c).flatten()
            pick = members[torch.randint(0, len(members), (per_class,), generator=generator)]
            latents.mean[c, :, :k] = codes[pick]
            latents.mean[c, :, k:] = 0.0


@dataclass
class DistilledPart:
    """One subtask's distilled storage: latents for its classes (global class ids) and its decoder."""

    classes: list[int]
    mean: torch.Tensor  # (C_sub, L, d)
    logvar: torch.Tensor
    decoder_state: dict
    latent_dim: int
    hidden: int
    image_shape: tuple[int, ...]
    final_mmd: float

    def decoder(self) -> Decoder:
        decoder = Decoder(self.latent_dim, self.hidden, self.image_shape)
        decoder.load_state_dict(self.decoder_state)
        return decoder.eval()

    def to_dict(self) -> dict:
        return {**self.__dict__, "image_shape": list(self.image_shape)}

    @classmethod
    def from_dict(cls, stored: dict) -> DistilledPart:
        return cls(**{**stored, "image_shape": tuple(stored["image_shape"])})


def distill_classes(
    data: ImageData,
    expert: nn.Module,
    per_class: int,
    latent_dim: int,
    hidden: int,
    steps: int,
    seed: int,
    samples_per_class: int = 32,
    real_per_class: int = 64,
    lr: float = 1e-2,
    classes: list[int] | None = None,
    init: str = "pca",
    progress: Callable[[str], None] | None = None,
) -> DistilledPart:
    """Train latents and a decoder for every class of ``data`` by minimising the class-wise MMD^2
    between expert features of decoded samples and of real images (module docstring); Adam.
    ``classes``: the global ids of ``data``'s classes (a subtask's), recorded in the result.
    ``init``: ``pca`` (:func:`pca_initialise`, the analogue of starting pixel prototypes from real
    images) or ``random``."""
    if min(per_class, latent_dim, hidden, steps) < 1:
        raise DiscolabError("D3 needs per_class, latent_dim, hidden and steps >= 1")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    expert.eval().requires_grad_(False)
    decoder = Decoder(latent_dim, hidden, data.image_shape)
    latents = ClassLatents(data.n_classes, per_class, latent_dim, generator)
    if init == "pca":
        pca_initialise(decoder, latents, data, generator)
    elif init != "random":
        raise DiscolabError(f"unknown D3 initialisation {init!r}; choose 'pca' or 'random'")
    bank, scale = class_feature_bank(expert, data, real_per_class)
    optimizer = torch.optim.Adam([*decoder.parameters(), *latents.parameters()], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    n_real = bank.shape[1]
    for step in range(steps):
        z = latents.sample(samples_per_class, generator)
        images = decoder(z.reshape(-1, latent_dim))
        fake = expert.features(images).reshape(data.n_classes, samples_per_class, -1)
        real = bank[:, torch.randperm(n_real, generator=generator)[: min(n_real, 2 * samples_per_class)]]
        loss = mmd2_rbf(fake, real, scale).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        with torch.no_grad():
            latents.logvar.clamp_(-8.0, 2.0)
        if progress and (step + 1) % max(1, steps // 5) == 0:
            progress(f"D3 step {step + 1}/{steps}: MMD^2 per class {loss.item() / data.n_classes:.4f}")
    return DistilledPart(
        classes=list(classes if classes is not None else range(data.n_classes)),
        mean=latents.mean.detach().clone(),
        logvar=latents.logvar.detach().clone(),
        decoder_state={k: v.detach().clone() for k, v in decoder.state_dict().items()},
        latent_dim=latent_dim,
        hidden=hidden,
        image_shape=data.image_shape,
        final_mmd=loss.item() / data.n_classes,
    )


def distill_pixels(
    data: ImageData,
    expert: nn.Module,
    per_class: int,
    steps: int,
    seed: int,
    real_per_class: int = 64,
    lr: float = 1e-2,
) -> torch.Tensor:
    """Pixel prototypes, the equal-storage baseline: ``per_class`` images per class, initialised from
    random real images and moved by the same class-wise MMD^2 on expert features (distribution
    matching in pixel space); pixels kept in [0, 1]. Returns (C, per_class, *image_shape)."""
    generator = torch.Generator().manual_seed(seed)
    expert.eval().requires_grad_(False)
    start = [data.class_images(c) for c in range(data.n_classes)]
    start = [x[torch.randperm(len(x), generator=generator)[:per_class]] for x in start]
    images = nn.Parameter(torch.stack(start).clone())
    bank, scale = class_feature_bank(expert, data, real_per_class)
    optimizer = torch.optim.Adam([images], lr=lr)
    n_real = bank.shape[1]
    for _ in range(steps):
        fake = expert.features(images.reshape(-1, *data.image_shape)).reshape(data.n_classes, per_class, -1)
        real = bank[:, torch.randperm(n_real, generator=generator)[: min(n_real, 64)]]
        loss = mmd2_rbf(fake, real, scale).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            images.clamp_(0.0, 1.0)
    return images.detach()


@dataclass
class DistributionalSet:
    """The re-aggregated distilled set: every subtask's part, and one label row per latent."""

    parts: list[DistilledPart]
    n_classes: int
    labels: torch.Tensor  # (C, L, C) target distributions, indexed by global class

    @property
    def per_class(self) -> int:
        return self.parts[0].mean.shape[1]

    def decode(self, z_by_class: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
        out = {}
        with torch.no_grad():
            for part in self.parts:
                decoder = part.decoder()
                for c in part.classes:
                    if c in z_by_class:
                        out[c] = decoder(z_by_class[c])
        return out

    def latent_draws(self, fresh: int, generator: torch.Generator) -> dict[int, torch.Tensor]:
        """Per class (L * (1 + fresh), d): each latent's mean, then ``fresh`` samples from it."""
        out = {}
        for part in self.parts:
            for row, c in enumerate(part.classes):
                mean, std = part.mean[row], torch.exp(0.5 * part.logvar[row])
                noise = torch.randn(fresh, *mean.shape, generator=generator)
                draws = torch.cat([mean.unsqueeze(0), mean + std * noise])  # (1 + fresh, L, d)
                out[c] = draws.reshape(-1, mean.shape[-1])
        return out

    def training_set(self, fresh: int) -> Callable[[torch.Generator], tuple[torch.Tensor, torch.Tensor]]:
        """The student's epoch sampler: decoded means and ``fresh`` new samples per latent, each with
        its latent's label."""

        def sample(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
            decoded = self.decode(self.latent_draws(fresh, generator))
            images = torch.cat([decoded[c] for c in range(self.n_classes)])
            targets = torch.cat([self.labels[c].repeat(1 + fresh, 1) for c in range(self.n_classes)])
            return images, targets

        return sample

    def decoded_means(self) -> torch.Tensor:
        """(C, L, *image_shape): every latent's mean decoded (what the dashboard shows)."""
        decoded = self.decode({c: part.mean[row] for part in self.parts for row, c in enumerate(part.classes)})
        return torch.stack([decoded[c] for c in range(self.n_classes)])


def aggregate(parts: list[DistilledPart], n_classes: int, label_net: nn.Module | None, temperature: float = 1.0):
    """Re-aggregate subtask parts into one :class:`DistributionalSet`. Labels: one-hot of the class
    when ``label_net`` is None (hard), else softmax(label_net(g(mu)) / T) per latent (soft)."""
    covered = sorted(c for part in parts for c in part.classes)
    if covered != list(range(n_classes)):
        raise DiscolabError(f"the subtasks cover classes {covered}, not 0..{n_classes - 1} once each")
    per_class = {part.mean.shape[1] for part in parts}
    if len(per_class) != 1:
        raise DiscolabError(f"subtasks disagree on latents per class: {sorted(per_class)}")
    (per_class,) = per_class
    hard = torch.eye(n_classes).unsqueeze(1).expand(-1, per_class, -1).clone()
    distilled = DistributionalSet(parts, n_classes, hard)
    if label_net is not None:
        with torch.no_grad():
            means = distilled.decoded_means()
            logits = label_net.eval()(means.reshape(-1, *means.shape[2:]))
        distilled.labels = soft_labels(logits, temperature).reshape(n_classes, per_class, n_classes)
    return distilled


def split_classes(n_classes: int, subtasks: int) -> list[list[int]]:
    """Classes 0..C-1 split into ``subtasks`` contiguous groups of near-equal size."""
    if not 1 <= subtasks <= n_classes:
        raise DiscolabError(f"subtasks must be in 1..{n_classes}, got {subtasks}")
    bounds = [round(i * n_classes / subtasks) for i in range(subtasks + 1)]
    return [list(range(bounds[i], bounds[i + 1])) for i in range(subtasks)]


def decoder_params(latent_dim: int, hidden: int, image_floats: int) -> int:
    """Parameters of one :class:`Decoder`: d h + h + h P + P."""
    return latent_dim * hidden + hidden + hidden * image_floats + image_floats


def storage(
    n_classes: int,
    per_class: int,
    latent_dim: int,
    decoder_floats: int,
    image_floats: int,
    soft_labels: bool,
) -> dict:
    """Stored floats of a distributional set and its images-per-class equivalent."""
    latents = n_classes * per_class * 2 * latent_dim
    labels = n_classes * per_class * n_classes if soft_labels else 0
    total = latents + decoder_floats + labels
    return {
        "latent_floats": latents,
        "decoder_floats": decoder_floats,
        "label_floats": labels,
        "total_floats": total,
        "ipc_equivalent": total / (n_classes * image_floats),
    }


def latents_for_budget(
    budget_ipc: float,
    n_classes: int,
    image_floats: int,
    latent_dim: int,
    decoder_floats: int,
    soft_labels: bool,
) -> int:
    """The most latents per class whose :func:`storage` fits ``budget_ipc`` images per class."""
    free = budget_ipc * n_classes * image_floats - decoder_floats
    per_latent = n_classes * (2 * latent_dim + (n_classes if soft_labels else 0))
    per_class = int(free // per_latent)
    if per_class < 1:
        raise DiscolabError(
            f"a budget of {budget_ipc} images per class ({budget_ipc * n_classes * image_floats:.0f} floats) "
            f"does not fit the decoder ({decoder_floats} floats) and one latent per class"
        )
    return per_class
