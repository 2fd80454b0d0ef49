"""Procedural scenes for the synthetic data set (pure numpy; deterministic for a seed).

A video is a camera window that pans slowly over a larger "world" of textured stuff regions
(sky, grass, wall, road, plus small unlabelled poles). Things (person, car, ball, dog) move in
world coordinates, occlude each other by depth, enter and leave the window; instances of a class
share a look up to a small colour jitter. A global gain and a drifting light gradient change the
illumination over time. `render` gives, per frame, the RGB image and the raw label map in the
VIPSeg ``panomasks`` encoding (0 void, stuff = class + 1, thing = (class + 1) * 100 + instance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# (name, isthing, palette colour): JSON ids are the positions (VIPSeg style, 0-based).
CLASSES: tuple[tuple[str, bool, tuple[int, int, int]], ...] = (
    ("sky", False, (70, 130, 180)),
    ("grass", False, (107, 142, 35)),
    ("wall", False, (102, 102, 156)),
    ("road", False, (128, 64, 128)),
    ("person", True, (220, 20, 60)),
    ("car", True, (0, 0, 142)),
    ("ball", True, (250, 170, 30)),
    ("dog", True, (119, 11, 32)),
)
SKY, GRASS, WALL, ROAD, PERSON, CAR, BALL, DOG = range(8)
THING_CLASSES = (PERSON, CAR, BALL, DOG)
_LOOK = {PERSON: (200, 40, 50), CAR: (40, 70, 190), BALL: (240, 200, 40), DOG: (140, 90, 50)}


@dataclass
class Thing:
    cls: int
    instance: int  # per class, from 0
    color: np.ndarray  # (3,) float
    size: float  # pixels
    start: np.ndarray  # (2,) world (y, x) at frame 0
    velocity: np.ndarray  # (2,) pixels per frame
    depth: float  # larger = nearer, drawn later

    @property
    def raw(self) -> int:
        return (self.cls + 1) * 100 + self.instance


@dataclass
class Scene:
    image: np.ndarray  # (Hw, Ww, 3) float world texture
    labels: np.ndarray  # (Hw, Ww) uint16 raw labels of the stuff layer
    camera: np.ndarray  # (F, 2) world (y, x) of the window's top-left corner
    things: list[Thing]
    gain_period: float
    gain_phase: float


def make_scene(rng: np.random.Generator, frames: int, height: int, width: int) -> Scene:
    """Draw a world, a camera path and moving things for a video of `frames` frames."""
    my, mx = max(4, int(0.15 * height)), max(4, int(0.2 * width))
    hw, ww = height + 2 * my, width + 2 * mx
    yy, xx = np.mgrid[0:hw, 0:ww].astype(np.float32)
    horizon = hw * rng.uniform(0.35, 0.5) + hw * 0.04 * np.sin(
        xx[0] / ww * rng.uniform(3, 8) + rng.uniform(0, 6)
    )
    labels = np.where(yy < horizon[None, :], SKY + 1, GRASS + 1).astype(np.uint16)
    for _ in range(int(rng.integers(1, 3))):  # buildings standing on the horizon
        x0 = int(rng.uniform(0, 0.8) * ww)
        x1 = min(ww, x0 + int(rng.uniform(0.15, 0.4) * ww))
        top = int(horizon[x0:x1].min() - rng.uniform(0.1, 0.25) * hw)
        cols = slice(x0, x1)
        labels[:, cols] = np.where(
            (yy[:, cols] >= top) & (yy[:, cols] < horizon[None, cols] + 2),
            WALL + 1,
            labels[:, cols],
        )
    r0 = hw * rng.uniform(0.6, 0.75) + (xx - ww / 2) * rng.uniform(-0.1, 0.1)
    road = (yy >= r0) & (yy < r0 + hw * rng.uniform(0.12, 0.22))
    labels[road & (yy > horizon[None, :])] = ROAD + 1
    for _ in range(int(rng.integers(0, 3))):  # thin unlabelled poles: void in the ground truth
        x0 = int(rng.uniform(0, ww - 4))
        y0 = int(rng.uniform(0.2, 0.5) * hw)
        labels[y0 : int(y0 + rng.uniform(0.3, 0.5) * hw), x0 : x0 + max(2, width // 60)] = 0
    image = _texture(labels, yy, xx, rng)
    start = np.array([rng.uniform(0, 2 * my), rng.uniform(0, 2 * mx)])
    end = np.array([rng.uniform(0, 2 * my), rng.uniform(0, 2 * mx)])
    t = np.linspace(0.0, 1.0, frames)[:, None]
    camera = start[None] + (end - start)[None] * t
    things = _things(rng, frames, height, width, camera[0])
    return Scene(
        image, labels, camera, things, float(rng.uniform(15, 60)), float(rng.uniform(0, 6.3))
    )


def _texture(
    labels: np.ndarray, yy: np.ndarray, xx: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """World colours: one procedural texture per stuff class, grey poles."""
    hw, ww = labels.shape
    noise = rng.normal(0, 1, (hw, ww)).astype(np.float32)
    img = np.zeros((hw, ww, 3), np.float32)
    sky = np.stack([120 + 0.3 * yy, 170 + 0.2 * yy, 235 - 0.1 * yy], -1)
    sky += 12 * np.sin(xx / 17 + yy / 29)[..., None] + 2 * noise[..., None]
    grass = np.array([70, 140, 55], np.float32) + 18 * noise[..., None]
    grass += (10 * np.sin(xx / 3.0 + 2 * np.sin(yy / 7)))[..., None]
    brick = ((yy % 8) < 1) | (((xx + 6 * ((yy // 8) % 2)) % 12) < 1)
    wall = np.where(brick[..., None], 90.0, 1.0) * np.array([1, 0.9, 0.85]) + np.where(
        brick[..., None], 0.0, 1.0
    ) * (np.array([170, 95, 80]) + 8 * noise[..., None])
    road = np.array([85, 85, 90], np.float32) + 10 * noise[..., None]
    lane = (np.abs(yy - yy.mean()) < 1.5) & ((xx % 24) < 12)
    road = np.where(lane[..., None], 230.0, road)
    for cls, tex in ((SKY, sky), (GRASS, grass), (WALL, wall), (ROAD, road)):
        img = np.where((labels == cls + 1)[..., None], tex, img)
    img[labels == 0] = (150, 150, 150)
    return img


def _things(
    rng: np.random.Generator, frames: int, height: int, width: int, cam0: np.ndarray
) -> list[Thing]:
    things: list[Thing] = []
    classes = rng.choice(THING_CLASSES, size=int(rng.integers(2, 5)), replace=False)
    for cls in classes:
        for k in range(int(rng.integers(1, 4))):  # several similar-looking instances
            size = height * rng.uniform(0.16, 0.3) * (1.3 if cls == CAR else 1.0)
            for _ in range(20):  # redraw until it is visible in some frames
                y = (
                    rng.uniform(0.45, 0.9) * height
                    if cls != BALL
                    else rng.uniform(0.2, 0.9) * height
                )
                x = rng.uniform(-0.2, 1.2) * width
                v = np.array([rng.uniform(-0.3, 0.3), rng.choice([-1, 1]) * rng.uniform(0.8, 4.0)])
                xs = x + v[1] * np.arange(frames)
                if ((xs > 0.05 * width) & (xs < 0.95 * width)).sum() >= max(1, frames // 4):
                    break
            color = np.array(_LOOK[int(cls)], np.float32) + rng.uniform(-12, 12, 3)
            start = np.array([y, x]) + cam0
            things.append(
                Thing(int(cls), k, color, float(size), start, v, float(rng.uniform(0, 1)))
            )
    things.sort(key=lambda t: t.depth)
    return things


def _shape(
    cls: int, dy: np.ndarray, dx: np.ndarray, s: float, t: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mask and shading (dark parts) of a thing of size s around (0, 0), at frame t."""

    def ellipse(cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
        return ((dy - cy) / ry) ** 2 + ((dx - cx) / rx) ** 2 <= 1.0

    if cls == PERSON:
        bob = 0.03 * s * np.sin(t * 0.8)
        body = ellipse(0.1 * s + bob, 0, 0.32 * s, 0.17 * s)
        head = ellipse(-0.32 * s + bob, 0, 0.13 * s, 0.13 * s)
        return body | head, head
    if cls == CAR:
        body = (np.abs(dy) <= 0.22 * s) & (np.abs(dx) <= 0.8 * s)
        cabin = (dy >= -0.45 * s) & (dy < -0.2 * s) & (np.abs(dx) <= 0.4 * s)
        wheels = ellipse(0.22 * s, -0.5 * s, 0.15 * s, 0.15 * s) | ellipse(
            0.22 * s, 0.5 * s, 0.15 * s, 0.15 * s
        )
        return body | cabin | wheels, wheels
    if cls == BALL:
        ball = ellipse(0, 0, 0.35 * s, 0.35 * s)
        return ball, ball & (np.sin((dx + dy) / (0.12 * s) + t) > 0.6)
    body = ellipse(0, 0, 0.2 * s, 0.45 * s)
    head = ellipse(-0.18 * s, 0.45 * s, 0.14 * s, 0.14 * s)
    legs = (
        (dy > 0)
        & (dy < 0.38 * s)
        & ((np.abs(dx - 0.3 * s) < 0.05 * s) | (np.abs(dx + 0.3 * s) < 0.05 * s))
    )
    return body | head | legs, legs


def render(
    scene: Scene, t: int, height: int, width: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Frame t: (H, W, 3) uint8 RGB image and (H, W) uint16 raw label map."""
    cy, cx = np.round(scene.camera[t]).astype(int)
    img = scene.image[cy : cy + height, cx : cx + width].copy()
    lab = scene.labels[cy : cy + height, cx : cx + width].copy()
    for th in scene.things:  # far to near
        py, px = th.start + th.velocity * t - scene.camera[t]
        r = int(th.size)
        y0, y1 = max(0, int(py) - r), min(height, int(py) + r + 1)
        x0, x1 = max(0, int(px) - r), min(width, int(px) + r + 1)
        if y0 >= y1 or x0 >= x1:
            continue
        dy, dx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        mask, dark = _shape(th.cls, dy - py, dx - px, th.size, t)
        shade = (
            np.where(dark, 0.45, 1.0)[..., None] * (1.0 + 0.08 * np.sin((dy - py) / 3.0))[..., None]
        )
        region = img[y0:y1, x0:x1]
        region[mask] = (th.color * shade)[mask]
        lab[y0:y1, x0:x1][mask] = th.raw
    gain = 1.0 + 0.25 * np.sin(2 * np.pi * t / scene.gain_period + scene.gain_phase)
    light = 1.0 + 0.12 * np.sin(np.linspace(0, np.pi, width) + 0.1 * t)[None, :, None]
    img = img * gain * light + rng.normal(0, 3, img.shape)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), lab
