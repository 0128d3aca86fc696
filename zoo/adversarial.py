"""The base of models trained by two optimizers (`AdversarialModel`): GANs and their kin."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops
from keras.optimizers import LossScaleOptimizer

from zoo.base import GenerativeMixin, ZooModel
from zoo.serving import Endpoint, ServingInput
from zoo.validation import check_codes, check_seed


class OptimizerPair:
    """D's and G's optimizers, where Keras's trainer looks for the one optimizer of a model:
    its ``variables`` are both optimizers' (the state JAX carries through a step)."""

    def __init__(self, d_optimizer, g_optimizer):
        self.optimizers = (d_optimizer, g_optimizer)

    @property
    def variables(self) -> list:
        return [v for optimizer in self.optimizers for v in optimizer.variables]

    @property
    def built(self) -> bool:
        return all(optimizer.built for optimizer in self.optimizers)


class AdversarialModel(GenerativeMixin, ZooModel):
    """The base of models trained by two optimizers: a generator and a critic.

    A subclass creates ``generator`` (codes -> images in [-1, 1]) and ``discriminator``
    (images -> one logit or score per image) and writes the losses of each,
    ``discriminator_losses(real, fake, training)`` (key ``"d_loss"``) and
    ``generator_losses(fake, training)`` (key ``"g_loss"``). The base owns the step, on
    every backend: ``critic_steps`` steps of D, each on a fresh fake batch, then one of G
    (`train_step`); ``evaluate`` reports every term. It also owns
    ``compile(d_optimizer, g_optimizer, loss_fn)``
    (both wrapped in a `LossScaleOptimizer` under ``mixed_float16``), the codes that
    ``call``/``predict`` take, images in [0, 1] out (``generate(n, seed)``), the seeded
    stream of codes each step draws (``real_and_codes``, ``codes_like``; ``real_batch`` and
    ``fake_batch`` say what D reads, which a conditional model extends with the labels),
    and saving the generator for serving.
    """

    progress_metric = "d_loss"  # falls over the first epochs, while D learns to tell them apart
    critic_steps = 1  # D's steps per step of G

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
        # What Keras's trainer reads as the optimizer: JAX carries its variables through
        # each stateless step, which for this model are both optimizers'.
        self.optimizer = OptimizerPair(self.d_optimizer, self.g_optimizer)

    def train_step(self, data):
        real = self.real_batch(self.loss_inputs(data))
        for _ in range(self.critic_steps):  # unrolled in the graph: a Python int
            # G's images are constants in D's step: only D moves.
            fake = keras.tree.map_structure(
                ops.stop_gradient, self.fake_batch(self.codes_like(real), training=True))
            d_losses = self.minimize(lambda: self.discriminator_losses(real, fake, training=True),
                                     self.discriminator.trainable_weights, self.d_optimizer,
                                     key="d_loss")

        g_losses = self.minimize(  # new codes; D's weights are only read here
            lambda: self.generator_losses(self.fake_batch(self.codes_like(real), training=True),
                                          training=True),
            self.generator.trainable_weights, self.g_optimizer, key="g_loss")
        return self.update_trackers({**d_losses, **g_losses})

    def compute_losses(self, inputs, training=False) -> dict:
        """Both networks' terms on a real batch and fresh fakes (``evaluate``)."""
        real, z = self.real_and_codes(inputs)
        fake = self.fake_batch(z, training=training)
        return {**self.discriminator_losses(real, fake, training),
                **self.generator_losses(fake, training)}

    def discriminator_losses(self, real, fake, training=False) -> dict:
        """D's terms on a batch of ``real`` and one of ``fake`` images; ``"d_loss"`` is
        minimised."""
        raise NotImplementedError(f"{type(self).__name__} must define discriminator_losses")

    def generator_losses(self, fake, training=False) -> dict:
        """G's terms on its ``fake`` batch, as D judges it; ``"g_loss"`` is minimised."""
        raise NotImplementedError(f"{type(self).__name__} must define generator_losses")

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
