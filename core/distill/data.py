"""The image data sets of the distillation study, as float tensors of shape (N, 1, 8, 8).

``digits``: scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes), pixel values 0..16
scaled to [0, 1]. Every set is split stratified into training (55%), validation (15%: where
settings such as the soft-label temperature are chosen) and test (30%: where results are read).
``nested``: a synthetic many-class set with nested
class structure, built so that soft labels have structure to carry: ``n_super`` super-classes, each
with ``per_super`` classes whose centres lie near the super-class centre in a latent space; an
image is a fixed random two-layer map of a latent drawn around its class centre, so the classes of
one super-class overlap in pixel space and an expert's errors stay mostly inside the super-class.

Everything is a pure function of the data seed (``data_seed``), independent of the experiment
seed, so that every seed of a sweep sees the same data set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from discolab.core.errors import DiscolabError

DATASETS = ("digits", "nested")
IMAGE_SHAPE = (1, 8, 8)


@dataclass
class ImageData:
    """Train, validation and test images (N, 1, 8, 8) and labels (N,)."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    n_classes: int
    superclass: np.ndarray | None = None  # class -> super-class (nested data only)
    val_x: torch.Tensor | None = None
    val_y: torch.Tensor | None = None

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The images and labels of ``test`` or ``validation``."""
        if name == "test":
            return self.test_x, self.test_y
        if name == "validation" and self.val_x is not None:
            return self.val_x, self.val_y
        raise DiscolabError(f"{self.name} has no {name!r} split; choose test or validation")

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.train_x.shape[1:])

    @property
    def image_floats(self) -> int:
        return int(np.prod(self.image_shape))

    def class_images(self, label: int) -> torch.Tensor:
        return self.train_x[self.train_y == label]

    def subset(self, classes: list[int]) -> ImageData:
        """The data of ``classes`` only, relabelled 0..len(classes)-1 in the given order (a subtask)."""
        remap = torch.full((self.n_classes,), -1, dtype=torch.long)
        remap[torch.tensor(classes)] = torch.arange(len(classes))
        keep_train = remap[self.train_y] >= 0
        keep_test = remap[self.test_y] >= 0
        val = {}
        if self.val_x is not None:
            keep_val = remap[self.val_y] >= 0
            val = {"val_x": self.val_x[keep_val], "val_y": remap[self.val_y[keep_val]]}
        return ImageData(
            f"{self.name}[{','.join(map(str, classes))}]",
            self.train_x[keep_train],
            remap[self.train_y[keep_train]],
            self.test_x[keep_test],
            remap[self.test_y[keep_test]],
            len(classes),
            **val,
        )


def load_data(name: str, data_seed: int = 0) -> ImageData:
    """The named data set (:data:`DATASETS`)."""
    if name == "digits":
        return digits(data_seed)
    if name == "nested":
        return nested_classes(seed=data_seed)
    raise DiscolabError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")


TEST_FRACTION, VALIDATION_FRACTION = 0.3, 0.15  # of the whole set


def _split(name: str, x: np.ndarray, y: np.ndarray, n_classes: int, seed: int, **extra) -> ImageData:
    """Stratified train / validation / test split (:data:`TEST_FRACTION`, :data:`VALIDATION_FRACTION`)."""
    from sklearn.model_selection import train_test_split

    rest_x, test_x, rest_y, test_y = train_test_split(x, y, test_size=TEST_FRACTION, stratify=y, random_state=seed)
    val_share = VALIDATION_FRACTION / (1 - TEST_FRACTION)
    train_x, val_x, train_y, val_y = train_test_split(
        rest_x, rest_y, test_size=val_share, stratify=rest_y, random_state=seed
    )
    as_images = lambda a: torch.tensor(a, dtype=torch.float32).reshape(-1, *IMAGE_SHAPE)  # noqa: E731
    return ImageData(
        name,
        as_images(train_x),
        torch.tensor(train_y),
        as_images(test_x),
        torch.tensor(test_y),
        n_classes,
        val_x=as_images(val_x),
        val_y=torch.tensor(val_y),
        **extra,
    )


def digits(data_seed: int = 0) -> ImageData:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return _split("digits", bunch.data / 16.0, bunch.target, 10, data_seed)


def nested_classes(
    n_super: int = 10,
    per_super: int = 5,
    per_class: int = 100,
    latent_dim: int = 12,
    super_spread: float = 3.0,
    class_spread: float = 1.0,
    noise: float = 0.75,
    seed: int = 0,
) -> ImageData:
    """The synthetic nested-class set: ``n_super * per_super`` classes, ``per_class`` images each.
    Latent z = super centre + class offset + noise, with the three scales ``super_spread`` >
    ``class_spread`` ~ ``noise`` (so sibling classes overlap and super-classes do not); image =
    sigmoid(W2 tanh(W1 z)) reshaped to 8x8, with W1, W2 fixed Gaussian maps drawn from ``seed``."""
    if min(n_super, per_super, per_class, latent_dim) < 1:
        raise DiscolabError("nested_classes: n_super, per_super, per_class and latent_dim must be positive")
    rng = np.random.default_rng(seed)
    n_classes = n_super * per_super
    super_centres = rng.normal(0, super_spread, (n_super, latent_dim))
    superclass = np.repeat(np.arange(n_super), per_super)
    centres = super_centres[superclass] + rng.normal(0, class_spread, (n_classes, latent_dim))
    labels = np.repeat(np.arange(n_classes), per_class)
    latents = centres[labels] + rng.normal(0, noise, (len(labels), latent_dim))
    w1 = rng.normal(0, 1 / np.sqrt(latent_dim), (latent_dim, 32))
    w2 = rng.normal(0, 1.5 / np.sqrt(32), (32, int(np.prod(IMAGE_SHAPE))))
    pixels = 1 / (1 + np.exp(-np.tanh(latents @ w1) @ w2))
    return _split("nested", pixels, labels, n_classes, seed, superclass=superclass)
