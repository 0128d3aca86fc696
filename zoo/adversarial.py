"""The base of models trained by two optimizers (`AdversarialModel`): GANs and their kin."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from keras.optimizers import LossScaleOptimizer

from zoo.base import GenerativeMixin, ZooModel
from zoo.export import Endpoint, ServingInput
from zoo.validation import check_codes, check_seed


class AdversarialModel(GenerativeMixin, ZooModel):
    """The base of models trained by two optimizers: a generator and a critic.

    A subclass creates ``generator`` (codes -> images in [-1, 1]) and ``discriminator``
    (images -> one logit or score per image), writes ``compute_losses`` (every term, for
    ``evaluate``) and a ``train_step`` that steps each network with ``minimize`` and ends
    in ``update_trackers``. The base owns ``compile(d_optimizer, g_optimizer, loss_fn)``
    (both wrapped in a `LossScaleOptimizer` under ``mixed_float16``), the codes that
    ``call``/``predict`` take, images in [0, 1] out (``generate(n, seed)``), the seeded
    stream of codes each step draws (``real_and_codes``, ``codes_like``; ``real_batch`` and
    ``fake_batch`` say what D reads, which a conditional model extends with the labels),
    and saving the generator for serving.
    """

    progress_metric = "d_loss"  # falls over the first epochs, while D learns to tell them apart

    def __init__(self, *, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)  # the codes of every step
        # compile's default, already here so the loss terms can be traced at build time.
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def compile(self, d_optimizer=None, g_optimizer=None, loss_fn=None, **kwargs):
        """Set one optimizer per network and the loss on D's logits.

        Defaults: Adam(2e-4, beta_1=0.5) for both (Radford et al., 2016) and
        ``BinaryCrossentropy(from_logits=True)``. Both optimizers are built here, so their
        state exists before a `.keras` file or a `BackupAndRestore` backup is loaded.
        ``kwargs`` go to Keras (``jit_compile``, ``steps_per_execution``, ...).
        """
        d_optimizer = keras.optimizers.get(d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5))
        g_optimizer = keras.optimizers.get(g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5))
        if d_optimizer is g_optimizer:
            raise ValueError("d_optimizer and g_optimizer must be two optimizer instances; "
                             "one optimizer cannot hold the state of both networks")
        self.loss_fn = keras.losses.get(loss_fn or keras.losses.BinaryCrossentropy(from_logits=True))
        # A loss given by name is Keras's function on probabilities; D outputs logits.
        if not isinstance(self.loss_fn, keras.losses.Loss) \
                or self.loss_fn.get_config().get("from_logits") is False:
            raise ValueError("the discriminator outputs logits: use a keras.losses.Loss with "
                             "from_logits=True, e.g. keras.losses.BinaryCrossentropy(from_logits=True)")
        # What Keras's compile does for its one optimizer, for both.
        if self.dtype_policy.name == "mixed_float16":
            d_optimizer, g_optimizer = (opt if isinstance(opt, LossScaleOptimizer)
                                        else LossScaleOptimizer(opt) for opt in (d_optimizer, g_optimizer))
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def train_step(self, data):
        raise NotImplementedError(f"{type(self).__name__} must write its train_step: one tape "
                                  "per network, each ending in minimize (see CONTRIBUTING.md)")

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {name: keras.saving.serialize_keras_object(getattr(self, name))
                for name in ("d_optimizer", "g_optimizer", "loss_fn")}

    def compile_from_config(self, config):
        self.compile(**{name: keras.saving.deserialize_keras_object(value)
                        for name, value in config.items()})

    def optimizers(self) -> list:
        return [self.d_optimizer, self.g_optimizer]

    def mean_loss(self, labels, logits):
        """``loss_fn`` averaged over the batch, in float32.

        Called unreduced: a `keras.losses.Loss` called as a whole already divides by the
        replica count under a strategy, and ``minimize`` does that once, for the gradient.
        """
        return ops.mean(self.loss_fn.call(ops.cast(labels, "float32"), ops.cast(logits, "float32")))

    def real_and_codes(self, inputs):
        """D's real batch (``real_batch``) and a fresh draw of codes for it (``codes_like``)."""
        real = self.real_batch(inputs)
        return real, self.codes_like(real)

    def real_batch(self, images):
        """Real images in G's range [-1, 1]: what D reads as real."""
        return ops.cast(images, "float32") * 2.0 - 1.0

    def codes_like(self, real):
        """One draw of z ~ N(0, I) per image of the real batch: what G reads."""
        return keras.random.normal((ops.shape(real)[0], self.latent_dim), seed=self.seed_generator)

    def fake_batch(self, codes, training=False):
        """G's images of ``codes``, as D reads them (the conditional GAN adds the labels)."""
        return self.generator(codes, training=training)

    def generator_step(self, real) -> dict:
        """One step of G on fresh codes, one per image of ``real``: ``minimize`` its
        ``generator_losses(fake)["g_loss"]`` (D's weights are only read); returns the terms."""
        with tf.GradientTape() as tape:
            g_losses = self.generator_losses(self.fake_batch(self.codes_like(real), training=True),
                                             training=True)
        self.minimize(tape, g_losses["g_loss"], self.generator.trainable_weights, self.g_optimizer)
        return g_losses

    def call(self, inputs, training=False):
        """Images in [0, 1] generated from codes ``(batch, latent_dim)``."""
        return (self.generator(inputs, training=training) + 1.0) / 2.0

    def call_input(self) -> ServingInput:
        return self.code_input()

    def serving_model(self) -> keras.Model:
        """What an export saves: the generator alone (D is only needed for training)."""
        return self.generator

    def generate_from(self, z, batch_size: int = 256) -> np.ndarray:
        """Images in [0, 1] generated from codes ``z`` of shape ``(N, latent_dim)``."""
        return self.predict(check_codes(z, self.latent_dim), batch_size=batch_size, verbose=0)

    def export_endpoints(self) -> dict:
        """Serving endpoint ``generate``: ``codes`` ``(N, latent_dim)`` -> ``images`` in [0, 1]."""
        return {"generate": Endpoint(self.code_input(), lambda z: {"images": self(z, training=False)})}

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
