"""Class-guided diffusion (Ho et al., 2020; Song et al., 2021) and rectified flow (Liu et al.,
2023), with classifier-free guidance (Ho & Salimans, 2022)."""

from __future__ import annotations

import functools
import math
import numbers

import keras
import numpy as np
from keras import ops

from zoo import backends
from zoo.base import (ZooModel, as_float32, gaussian_codes, moving_average_of,
                       update_moving_average)
from zoo.blocks import unet
from zoo.conditional import ConditionalMixin
from zoo.serving import Endpoint
from zoo.validation import (check_batch_size, check_choice, check_codes, check_fraction,
                            check_image_shape, check_positive_int, check_scalar, check_seed)

OBJECTIVES = ("v", "epsilon", "flow")
SAMPLERS = ("ddim", "ddpm")
# The cosine schedule's signal rate runs from MAX_SIGNAL (t = 0) to MIN_SIGNAL (t = 1), not
# from 1 to 0: at 0 the noise prediction of the last step divides by zero.
MIN_SIGNAL, MAX_SIGNAL = 0.02, 0.98


@keras.saving.register_keras_serializable(package="zoo")
class Diffusion(ConditionalMixin, ZooModel):
    """A U-Net that learns to undo noise, sampled from pure noise in a few steps, told the
    class and guided towards it without a classifier.

    Training draws a time ``t ~ U(0, 1)`` per image and mixes image and noise,
    ``x_t = signal(t) x + noise(t) eps``; the `zoo.blocks.unet` reads ``[x_t, t, label]``
    and is trained with the mean squared error against its target (``objective``):

    - ``"v"`` (default): ``v = signal eps - noise x`` on the cosine schedule (Salimans &
      Ho, 2022), well scaled at every noise level;
    - ``"epsilon"``: the noise itself on the same schedule (Ho et al., 2020);
    - ``"flow"``: rectified flow, ``x_t = (1 - t) x + t eps`` and the velocity ``eps - x``
      (Liu et al., 2023; Stable Diffusion 3's objective). Its DDIM step is Euler's.

    With probability ``label_dropout`` a label is replaced by the null label
    ``num_classes``, so one network learns p(x | class) and p(x). Sampling mixes both,
    ``uncond + guidance (cond - uncond)``: ``guidance=0`` samples p(x), 1 the class, and
    more than 1 trades diversity for class fidelity (classifier-free guidance).

    Each training step also moves ``ema_denoiser``, an exponential moving average of the
    denoiser's weights (`zoo.base.update_moving_average`, momentum ``ema_momentum``);
    sampling (``generate``, ``call``, the served endpoint) reads the average, as diffusion
    models are sampled, while training goes on from the raw weights. ::

        model = Diffusion(widths=(32, 64, 128))
        model.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=1e-4))
        model.fit(x_train, y_train, epochs=20, batch_size=128)
        shoes = model.generate(16, seed=0, labels=np.full(16, 7), steps=50, guidance=2.0)

    The codes of ``call``/``predict``/``generate_from`` are the initial noise, flattened:
    ``(N, H * W * C)`` (``latent_dim``), so that a seed gives the same images everywhere.

    Parameters
    ----------
    widths : sequence of int, default=(32, 64, 128)
        The U-Net's channels per resolution (see `zoo.blocks.unet`).
    objective : {"v", "epsilon", "flow"}, default="v"
    attention : bool, default=True
        Self-attention at the lowest resolution.
    label_dropout : float, default=0.1
        The share of training labels replaced by the null label, in [0, 1).
    ema_momentum : float, default=0.999
        The moving average's momentum per step, in [0, 1).
    sampling_steps : int, default=50
        The steps of ``call``, ``predict`` and the served ``generate``.
    guidance : float, default=1.25
        Their guidance scale, >= 0. 1.25 gave the Fashion-MNIST preset its lowest domain
        FID (Ho & Salimans's best FIDs sit at 1.1-1.3 in this convention); 2.0 draws more
        samples of the class asked for, at a higher FID.
    num_classes : int, default=10
    input_shape : tuple, default=(28, 28, 1)
    seed : int or None
        The stream of training times, noise and dropped labels.

    """

    def __init__(self, widths=(32, 64, 128), objective: str = "v", attention: bool = True,
                 label_dropout: float = 0.1, ema_momentum: float = 0.999,
                 sampling_steps: int = 50, guidance: float = 1.25,
                 num_classes: int = 10, input_shape=(28, 28, 1), seed=None, **kwargs):
        super().__init__(input_shape=input_shape, num_classes=num_classes,
                         latent_dim=math.prod(check_image_shape(input_shape)), **kwargs)
        if isinstance(widths, (str, bytes)) or not isinstance(widths, (list, tuple)) or not widths:
            raise TypeError(f"widths must be a non-empty list of channel counts, e.g. (32, 64, "
                            f"128), got {widths!r}")
        self.widths = [check_positive_int(w, "widths[i]") for w in widths]
        self.objective = check_choice(objective, "objective", OBJECTIVES)
        self.attention = bool(attention)
        self.label_dropout = check_fraction(label_dropout, "label_dropout")
        self.ema_momentum = check_fraction(ema_momentum, "ema_momentum")
        self.sampling_steps = check_positive_int(sampling_steps, "sampling_steps")
        self.guidance = check_guidance(guidance)
        self.seed = check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.denoiser = unet(self.image_shape, self.widths, self.num_classes,
                             attention=self.attention)
        self.ema_denoiser = moving_average_of(self.denoiser, name="ema_denoiser")
        self.build(self.call_shapes())

    def train_step(self, data):
        """The base's step on ``compute_losses``, then the moving average follows."""
        logs = super().train_step(data)
        update_moving_average(self.ema_denoiser, self.denoiser, self.ema_momentum,
                              self.optimizer.iterations)
        return logs

    # ---------------------------------------------------------------------- the maths

    def rates(self, t):
        """``(signal, noise)`` at times ``t`` in [0, 1]: ``x_t = signal x + noise eps``."""
        if self.objective == "flow":
            return 1.0 - t, t
        start, end = math.acos(MAX_SIGNAL), math.acos(MIN_SIGNAL)
        angle = start + t * (end - start)
        return ops.cos(angle), ops.sin(angle)

    def target(self, images, noise, signal, noise_rate):
        """What the network learns to predict from ``x_t`` (images in [-1, 1])."""
        if self.objective == "epsilon":
            return noise
        if self.objective == "v":
            return signal * noise - noise_rate * images
        return noise - images

    def denoised(self, noisy, prediction, signal, noise_rate) -> tuple:
        """``(images, noise)`` that ``x_t = noisy`` is made of, read from the prediction."""
        if self.objective == "epsilon":
            return (noisy - noise_rate * prediction) / signal, prediction
        if self.objective == "v":  # signal^2 + noise^2 = 1 on the cosine schedule
            return signal * noisy - noise_rate * prediction, noise_rate * noisy + signal * prediction
        return noisy - noise_rate * prediction, noisy + signal * prediction

    def compute_losses(self, inputs, training=False) -> dict:
        """``loss``: the mean squared error of the prediction, at random times and noise."""
        images, labels = inputs
        images = 2.0 * ops.cast(images, "float32") - 1.0
        batch = ops.shape(images)[0]
        t = keras.random.uniform((batch,), seed=self.seed_generator)
        noise = keras.random.normal(ops.shape(images), seed=self.seed_generator)
        if training and self.label_dropout:
            dropped = keras.random.uniform((batch,), seed=self.seed_generator) < self.label_dropout
            labels = ops.where(dropped, self.num_classes, labels)
        signal, noise_rate = (ops.reshape(r, (-1, 1, 1, 1)) for r in self.rates(t))
        noisy = signal * images + noise_rate * noise
        prediction = ops.cast(self.denoiser([noisy, t, labels], training=training), "float32")
        return {"loss": ops.mean(ops.square(prediction - self.target(images, noise, signal,
                                                                     noise_rate)))}

    def guided_prediction(self, noisy, t: float, labels, guidance: float):
        """The network's prediction at time ``t``, ``uncond + guidance (cond - uncond)``;
        one pass of the network where ``guidance`` is 0 or 1, else one of twice the batch."""
        times = ops.ones_like(labels, dtype="float32") * t
        null = ops.ones_like(labels) * self.num_classes
        if guidance in (0.0, 1.0):
            chosen = labels if guidance else null
            return ops.cast(self.ema_denoiser([noisy, times, chosen], training=False), "float32")
        both = ops.cast(self.ema_denoiser([ops.concatenate([noisy, noisy]),
                                       ops.concatenate([times, times]),
                                       ops.concatenate([labels, null])], training=False), "float32")
        conditional, unconditional = ops.split(both, 2)
        return unconditional + guidance * (conditional - unconditional)

    def denoising_step(self, x, labels, t, t_next, guidance: float, fresh_noise=None) -> tuple:
        """``(x at t_next, predicted clean images)`` from ``x`` at time ``t`` (images in [-1, 1]).

        The network predicts the clean images (clipped to [-1, 1]), which fixes the noise
        ``x`` is made of; DDIM's deterministic step (Song et al., 2021) mixes them at the rates of
        ``t_next``. With ``fresh_noise`` (N(0, I), shaped as ``x``), DDPM's ancestral step
        replaces part of the predicted noise by it.
        """
        signal, noise_rate = self.rates(t)
        clean, _ = self.denoised(x, self.guided_prediction(x, t, labels, guidance), signal,
                                 noise_rate)
        clean = ops.clip(clean, -1.0, 1.0)
        # The noise that x holds beside the clipped images: a step that reused the network's
        # own noise after clipping would drift from x, more with each step (guided samples
        # at 50 steps came out blotched and saturated).
        noise = (x - signal * clean) / noise_rate
        next_signal, next_noise = self.rates(t_next)
        if fresh_noise is None:
            return next_signal * clean + next_noise * noise, clean
        spread = next_noise / noise_rate * ops.sqrt(1.0 - (signal / next_signal) ** 2)
        return (next_signal * clean + ops.sqrt(next_noise**2 - spread**2) * noise
                + spread * fresh_noise), clean

    def sample(self, codes, labels, steps: int, guidance: float, noise_stream=None,
               trajectory: bool = False, step=None):
        """Images in [0, 1] of classes ``labels`` from the initial noise ``codes``.

        ``steps`` `denoising_step`s from t = 1 to 0, evenly spaced; the last one's
        prediction is the sample. DDIM, or DDPM with a ``noise_stream`` (a
        `keras.random.SeedGenerator`). ``step`` is `denoising_step` or a compiled copy.
        With ``trajectory``, every step's prediction, ``(steps, N, H, W, C)``.
        """
        step = step or functools.partial(self.denoising_step, guidance=guidance)
        x = ops.reshape(ops.cast(codes, "float32"), (-1, *self.image_shape))
        labels = ops.cast(labels, "int32")
        times = [ops.convert_to_tensor(t, "float32") for t in np.linspace(1.0, 0.0, steps + 1)]
        predictions = []
        for t, t_next in zip(times[:-1], times[1:]):
            fresh = None if noise_stream is None else keras.random.normal(ops.shape(x), seed=noise_stream)
            x, clean = step(x, labels, t, t_next, fresh_noise=fresh)
            predictions.append((clean + 1.0) / 2.0)
        return ops.stack(predictions) if trajectory else predictions[-1]

    # ------------------------------------------------------------ what users call

    def call(self, inputs, training=False):
        """Images in [0, 1] from ``[codes, labels]``: ``sampling_steps`` DDIM steps at
        guidance ``guidance`` (the served ``generate``), as `sample` takes them."""
        codes, labels = inputs
        x = ops.reshape(ops.cast(codes, "float32"), (-1, *self.image_shape))
        labels = ops.cast(labels, "int32")
        steps = self.sampling_steps

        def step(i, state):  # a loop in the graph: one step traced, not sampling_steps
            t = 1.0 - ops.cast(i, "float32") / steps
            return self.denoising_step(state[0], labels, t, t - 1.0 / steps, self.guidance)

        _, clean = ops.fori_loop(0, steps, step, (x, ops.zeros_like(x)))
        return (clean + 1.0) / 2.0

    def compute_output_spec(self, inputs, training=False):
        """The images ``call`` makes, known without tracing its ``sampling_steps`` steps."""
        codes, _ = inputs
        return keras.KerasTensor((codes.shape[0], *self.image_shape), "float32")

    def call_input(self) -> tuple:
        """``codes`` (the initial noise) and ``labels``, as a conditional GAN's."""
        return (self.code_input(), self.label_input())

    def generate(self, n: int, seed=None, *, labels=None, steps: int | None = None,
                 guidance: float | None = None, sampler: str = "ddim",
                 batch_size: int = 256) -> np.ndarray:
        """``n`` images in [0, 1] of classes ``labels`` (int ``(n,)``; None: drawn uniformly).

        ``steps`` and ``guidance`` default to the model's ``sampling_steps`` and
        ``guidance``; ``sampler`` is ``"ddim"`` (deterministic: the same ``seed``, the same
        images) or ``"ddpm"`` (ancestral: fresh noise each step, from ``seed`` too).
        """
        n = check_positive_int(n, "n")
        seed = check_seed(seed)
        return self.generate_from(gaussian_codes(n, self.latent_dim, seed),
                                  labels=self.generation_labels(labels, n, seed),
                                  batch_size=batch_size, steps=steps, guidance=guidance, sampler=sampler,
                                  sampler_seed=None if seed is None else seed + 1)

    def generate_from(self, z, *, labels, batch_size: int = 256, steps: int | None = None,
                      guidance: float | None = None, sampler: str = "ddim", sampler_seed=None,
                      trajectory: bool = False) -> np.ndarray:
        """Images in [0, 1] from the initial noise ``z`` ``(N, latent_dim)`` and ``labels``;
        with ``trajectory``, every step's prediction ``(steps, N, H, W, C)``."""
        z = check_codes(z, self.latent_dim)
        labels = self.checked_labels(labels, len(z))
        steps = self.sampling_steps if steps is None else check_positive_int(steps, "steps")
        guidance = self.guidance if guidance is None else check_guidance(guidance)
        sampler = check_choice(sampler, "sampler", SAMPLERS)
        if sampler == "ddpm" and self.objective == "flow":
            raise ValueError("sampler='ddpm' is for objective 'v' or 'epsilon'; a flow model "
                             "samples with 'ddim' (Euler's steps)")
        batch_size = check_batch_size(batch_size, allow_none=False)
        noise_stream = keras.random.SeedGenerator(check_seed(sampler_seed)) if sampler == "ddpm" else None
        step = backends.compiled(functools.partial(self.denoising_step, guidance=guidance))
        batches = [as_float32(self.sample(z[start:start + batch_size], labels[start:start + batch_size],
                                          steps, guidance, noise_stream, trajectory, step))
                   for start in range(0, len(z), batch_size)]
        return np.concatenate(batches, axis=1 if trajectory else 0)

    def export_endpoints(self) -> dict:
        """``generate``: ``codes`` (the initial noise, ``(N, latent_dim)``) and ``labels``
        -> ``images``, by ``sampling_steps`` DDIM steps at guidance ``guidance``."""
        return {"generate": Endpoint((self.code_input(), self.label_input()),
                                     lambda z, y: {"images": self([z, y], training=False)})}

    def parameter_count(self) -> int:
        """The denoiser's parameters (``ema_denoiser`` is a second copy of the same)."""
        return self.denoiser.count_params()

    def get_config(self):
        config = {**super().get_config(), "widths": self.widths, "objective": self.objective,
                  "attention": self.attention, "label_dropout": self.label_dropout,
                  "ema_momentum": self.ema_momentum,
                  "sampling_steps": self.sampling_steps, "guidance": self.guidance,
                  "seed": self.seed}
        del config["latent_dim"]  # the image size, not a choice
        return config


def check_guidance(guidance) -> float:
    """A guidance scale: a float >= 0 (0: unconditional, 1: conditional, more: guided)."""
    return float(check_scalar(guidance, "guidance", numbers.Real, min_val=0.0))
