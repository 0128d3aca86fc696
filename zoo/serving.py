"""What a serving endpoint takes and how it guards it (`ServingInput`, `Endpoint`).

A leaf module: the model base declares its endpoints with these, and `zoo.export` writes
them out. TensorFlow is imported only when an endpoint is guarded, at export time.
"""

from __future__ import annotations

from typing import Callable, NamedTuple


class ServingInput(NamedTuple):
    """What one input of a serving endpoint accepts: a batch ``(N,) + shape``.

    ``name`` is the signature's input key (``"images"``, ``"codes"`` or ``"labels"``).
    Float32 and finite, unless ``classes`` is set: then int32 class labels in
    ``[0, classes)``. ``unit_range`` adds the check that every value lies in [0, 1], as
    zoo images do.
    """

    name: str
    shape: tuple
    unit_range: bool = False
    classes: int | None = None

    @property
    def dtype(self) -> str:
        """``"float32"``, or ``"int32"`` for class labels."""
        return "float32" if self.classes is None else "int32"

    def spec(self):
        """The `tf.TensorSpec` of the SavedModel signature's input."""
        import tensorflow as tf

        # Unknown rank on purpose: with a static rank TensorFlow folds a rank check away
        # at trace time, and a served rank-3 batch would reach the convolutions (where
        # oneDNN aborts the whole process) instead of failing the check.
        return tf.TensorSpec(None, self.dtype, name=self.name)

    def checked(self, x):
        """``x`` reshaped to ``(-1,) + shape`` once in-graph checks pass.

        A failing check raises ``InvalidArgumentError`` naming what was expected; the
        model's ops depend on the checks, so they never run on bad input.
        """
        import tensorflow as tf

        expected = (f"{self.dtype} {self.name} of shape (N{''.join(f', {d}' for d in self.shape)}),"
                    " N >= 1")
        # An empty batch is refused here too: it would fail inside a convolution.
        shape_ok = tf.cond(tf.equal(tf.rank(x), len(self.shape) + 1),
                           lambda: tf.reduce_all(tf.equal(tf.shape(x)[1:], self.shape))
                           & (tf.shape(x)[0] > 0),
                           lambda: tf.constant(False))
        checks = [tf.debugging.Assert(shape_ok, [f"expected {expected}; got shape", tf.shape(x)])]
        if self.classes is not None:
            checks.append(tf.debugging.Assert(
                tf.reduce_all((x >= 0) & (x < self.classes)),
                [f"{self.name} must be integers in [0, {self.classes}); got min",
                 tf.reduce_min(x), "max", tf.reduce_max(x)]))
        else:
            checks.append(tf.debugging.Assert(
                tf.reduce_all(tf.math.is_finite(x)),
                [f"{self.name} hold NaN or infinite values; expected finite {expected}"]))
        if self.unit_range:
            checks.append(tf.debugging.Assert(
                tf.reduce_all((x >= 0.0) & (x <= 1.0)),
                [f"{self.name} must lie in [0, 1] (for uint8 pixels send x / 255); got min",
                 tf.reduce_min(x), "max", tf.reduce_max(x)]))
        with tf.control_dependencies(checks):
            # Reshape, not ensure_shape: TFLite converts it (and then drops the asserts).
            return tf.reshape(x, (-1, *self.shape))


class Endpoint(NamedTuple):
    """A serving endpoint: ``fn`` maps checked input batches to ``{output name: tensor}``.

    ``input`` is one `ServingInput` or a tuple of them (a conditional model's codes and
    labels); ``fn`` takes one argument per input, in that order.
    """

    input: ServingInput | tuple
    fn: Callable

    @property
    def inputs(self) -> tuple:
        return (self.input,) if isinstance(self.input, ServingInput) else tuple(self.input)

    def guarded(self) -> Callable:
        """``fn`` behind the inputs' checks, float32 out: what the SavedModel serves.

        A model trained under a mixed dtype policy computes in float16 or bfloat16; a
        server sees float32 in and out whatever the policy was (integer outputs, such as
        code indices, stay integers). Several inputs must hold
        one row per example each.
        """
        import tensorflow as tf

        def serve(*batches):
            checked = [spec.checked(batch) for spec, batch in zip(self.inputs, batches)]
            if len(checked) > 1:
                sizes = tf.stack([tf.shape(batch)[0] for batch in checked])
                agree = tf.debugging.Assert(
                    tf.reduce_all(tf.equal(sizes, sizes[0])),
                    [f"{', '.join(spec.name for spec in self.inputs)} must hold one row per "
                     "example each; got batch sizes", sizes])
                with tf.control_dependencies([agree]):
                    checked = [tf.identity(batch) for batch in checked]
            return {name: tf.cast(value, tf.float32) if value.dtype.is_floating else value
                    for name, value in self.fn(*checked).items()}

        return serve
