"""Point-cloud data sets, built here and seeded: digits as 2-D clouds, and procedural 2-D/3-D shapes.

Every set is a :class:`PointClouds`: padded points (N, n_max, p), a mask (N, n_max) that is True for
real points, integer labels and class names; clouds have different sizes.

- ``digits``: scikit-learn's 8x8 handwritten digits (1,797 images, offline). A cloud samples its
  points from the image's ink: each point picks a pixel with probability proportional to its
  intensity, then a uniform position inside that pixel; coordinates in [-1, 1], y up.
- ``shapes``: points on curves and surfaces (2-D: circle, square, triangle, spiral, star, cross;
  3-D: sphere, cube, torus, cylinder, cone, helix, and a ring and a square frame tilted in space),
  each randomly rotated, scaled and jittered with Gaussian noise.

:func:`remove_disc` cuts the points within a radius of a random point of a cloud: the completion
task's input (:mod:`.train`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial.transform import Rotation

SHAPES_2D = ("circle", "square", "triangle", "spiral", "star", "cross")
SHAPES_3D = ("sphere", "cube", "torus", "cylinder", "cone", "helix", "ring", "frame")
DATASETS = ("digits", "shapes")


@dataclass
class PointClouds:
    points: torch.Tensor  # (N, n_max, p)
    mask: torch.Tensor  # (N, n_max) bool
    labels: torch.Tensor  # (N,) long
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index) -> PointClouds:
        index = torch.as_tensor(index)
        return PointClouds(self.points[index], self.mask[index], self.labels[index], self.classes)

    @property
    def point_dim(self) -> int:
        return self.points.shape[-1]


def pad(clouds: list[np.ndarray], labels, classes) -> PointClouds:
    """Stack clouds of different sizes, zero-padded, with their mask."""
    n_max = max(len(c) for c in clouds)
    points = np.zeros((len(clouds), n_max, clouds[0].shape[1]), dtype=np.float32)
    mask = np.zeros((len(clouds), n_max), dtype=bool)
    for i, cloud in enumerate(clouds):
        points[i, : len(cloud)] = cloud
        mask[i, : len(cloud)] = True
    return PointClouds(torch.from_numpy(points), torch.from_numpy(mask), torch.as_tensor(labels), tuple(classes))


def digit_clouds(min_points: int = 48, max_points: int = 64, seed: int = 0) -> PointClouds:
    """All 1,797 scikit-learn digits as 2-D clouds of ``min_points``..``max_points`` points."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    rows, cols = np.divmod(np.arange(64), 8)
    clouds = []
    for image in digits.images:
        weights = image.ravel() / image.sum()
        n = rng.integers(min_points, max_points + 1)
        pixel = rng.choice(64, size=n, p=weights)
        x = cols[pixel] + rng.random(n)
        y = 8 - (rows[pixel] + rng.random(n))
        clouds.append(np.stack([x, y], 1) / 4.0 - 1.0)
    return pad(clouds, digits.target, [str(d) for d in range(10)])


def _on_polygon(corners: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Points at fractions t of the perimeter of a closed polygon."""
    closed = np.vstack([corners, corners[:1]])
    lengths = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    cumulative = np.concatenate([[0], np.cumsum(lengths)]) / lengths.sum()
    side = np.clip(np.searchsorted(cumulative, t, side="right") - 1, 0, len(corners) - 1)
    local = ((t - cumulative[side]) / (cumulative[side + 1] - cumulative[side]))[:, None]
    return closed[side] * (1 - local) + closed[side + 1] * local


def sample_shape(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points on a unit-size shape (before rotation, scale and noise)."""
    t = rng.random(n)
    u = rng.random(n)
    angle = 2 * math.pi * t
    if name in ("circle", "ring"):
        points = np.stack([np.cos(angle), np.sin(angle)], 1)
    elif name in ("square", "frame"):
        points = _on_polygon(np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * 0.8, t)
    elif name == "triangle":
        corners = np.array([[math.cos(a), math.sin(a)] for a in (math.pi / 2 + k * 2 * math.pi / 3 for k in range(3))])
        points = _on_polygon(corners, t)
    elif name == "spiral":
        radius = 0.15 + 0.85 * t
        points = np.stack([radius * np.cos(4 * math.pi * t), radius * np.sin(4 * math.pi * t)], 1)
    elif name == "star":
        corners = np.array(
            [[r * math.cos(a), r * math.sin(a)] for k in range(10) for r, a in [((1.0, 0.4)[k % 2], k * math.pi / 5)]]
        )
        points = _on_polygon(corners, t)
    elif name == "cross":
        along = 2 * u - 1
        horizontal = t < 0.5
        points = np.stack([np.where(horizontal, along, 0.0), np.where(horizontal, 0.0, along)], 1)
    elif name == "sphere":
        direction = rng.normal(size=(n, 3))
        points = direction / np.linalg.norm(direction, axis=1, keepdims=True)
    elif name == "cube":
        points = rng.uniform(-0.7, 0.7, size=(n, 3))
        face = rng.integers(0, 3, n)
        points[np.arange(n), face] = np.where(rng.random(n) < 0.5, -0.7, 0.7)
    elif name == "torus":
        tube = 2 * math.pi * u
        radius = 0.7 + 0.3 * np.cos(tube)
        points = np.stack([radius * np.cos(angle), radius * np.sin(angle), 0.3 * np.sin(tube)], 1)
    elif name == "cylinder":
        points = np.stack([0.6 * np.cos(angle), 0.6 * np.sin(angle), 2 * u - 1], 1)
    elif name == "cone":
        height = np.sqrt(u)  # uniform over the lateral surface
        points = np.stack([0.7 * height * np.cos(angle), 0.7 * height * np.sin(angle), 1 - 2 * height], 1)
    elif name == "helix":
        points = np.stack([0.6 * np.cos(3 * angle), 0.6 * np.sin(3 * angle), 2 * t - 1], 1)
    else:
        raise ValueError(f"unknown shape {name!r}")
    if name in ("ring", "frame"):  # planar shapes in 3-D
        points = np.hstack([points, np.zeros((n, 1))])
    return points


def random_rotation(dim: int, rng: np.random.Generator) -> np.ndarray:
    if dim == 2:
        a = rng.uniform(0, 2 * math.pi)
        return np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return Rotation.random(random_state=rng).as_matrix()


def shape_clouds(
    n_per_class: int = 200,
    dim: int = 3,
    min_points: int = 48,
    max_points: int = 64,
    noise: float = 0.03,
    scale: tuple[float, float] = (0.7, 1.2),
    seed: int = 0,
) -> PointClouds:
    """``n_per_class`` clouds of each 2-D or 3-D shape class, randomly rotated, scaled and jittered."""
    if dim not in (2, 3):
        raise ValueError(f"shapes come in 2 or 3 dimensions, got {dim}")
    classes = SHAPES_2D if dim == 2 else SHAPES_3D
    rng = np.random.default_rng(seed)
    clouds, labels = [], []
    for label, name in enumerate(classes):
        for _ in range(n_per_class):
            n = rng.integers(min_points, max_points + 1)
            points = sample_shape(name, n, rng) @ random_rotation(dim, rng).T
            clouds.append(points * rng.uniform(*scale) + rng.normal(scale=noise, size=points.shape))
            labels.append(label)
    return pad(clouds, labels, classes)


def load(name: str, seed: int = 0, **options) -> PointClouds:
    """A data set by name: ``digits`` or ``shapes`` (options go to the builder)."""
    if name == "digits":
        return digit_clouds(seed=seed, **options)
    if name == "shapes":
        return shape_clouds(seed=seed, **options)
    raise ValueError(f"unknown point-cloud data set {name!r}; choose one of {DATASETS}")


def split(data: PointClouds, test_fraction: float = 0.25, seed: int = 0) -> tuple[PointClouds, PointClouds]:
    """A seeded, stratified train/test split."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        np.arange(len(data)), test_size=test_fraction, random_state=seed, stratify=data.labels.numpy()
    )
    return data.subset(np.sort(train)), data.subset(np.sort(test))


def remove_disc(
    points: torch.Tensor, mask: torch.Tensor, fraction: float = 0.25, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The mask after cutting, from each cloud, the ``fraction`` of its real points nearest to one of
    them chosen at random (a disc, or ball, around it)."""
    kept = mask.clone()
    for i in range(len(points)):
        real = mask[i].nonzero().squeeze(1)
        centre = points[i, real[torch.randint(len(real), (1,), generator=generator)]]
        distance = (points[i, real] - centre).norm(dim=1)
        cut = distance.argsort()[: int(round(fraction * len(real)))]
        kept[i, real[cut]] = False
    return kept
