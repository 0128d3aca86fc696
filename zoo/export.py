"""Saving without half-written files, and SavedModel export with guarded serving endpoints."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Callable, NamedTuple

import keras
import tensorflow as tf

from zoo.validation import check_positive_int


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary sibling of ``path``; move it onto ``path`` only on success.

    Works for files and folders. A crash or kill inside the block leaves the old
    ``path`` untouched (plus, at worst, a stray ``.tmp-`` sibling), never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep the suffix: keras.saving insists on ".keras".
    tmp = path.with_name(f".{path.stem}.tmp-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        yield tmp
        if tmp.is_dir() and path.exists():
            old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        else:
            os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def save_model(model: keras.Model, path) -> Path:
    """`model.save(path)` for a ``.keras`` file, atomically."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"save_model writes .keras files, got {path}")
    with atomic_path(path) as tmp:
        model.save(tmp)
    return path


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
    def dtype(self) -> tf.DType:
        return tf.float32 if self.classes is None else tf.int32

    def spec(self) -> tf.TensorSpec:
        # Unknown rank on purpose: with a static rank TensorFlow folds a rank check away
        # at trace time, and a served rank-3 batch would reach the convolutions (where
        # oneDNN aborts the whole process) instead of failing the check.
        return tf.TensorSpec(None, self.dtype, name=self.name)

    def checked(self, x):
        """``x`` reshaped to ``(-1,) + shape`` once in-graph checks pass.

        A failing check raises ``InvalidArgumentError`` naming what was expected; the
        model's ops depend on the checks, so they never run on bad input.
        """
        expected = f"{self.dtype.name} {self.name} of shape (N{''.join(f', {d}' for d in self.shape)})"
        shape_ok = tf.cond(tf.equal(tf.rank(x), len(self.shape) + 1),
                           lambda: tf.reduce_all(tf.equal(tf.shape(x)[1:], self.shape)),
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


def default_endpoints(model: keras.Model) -> dict:
    """The endpoint of a plain single-input, single-output `keras.Model`.

    It is called ``classify`` when the output layer is named ``probabilities`` (the zoo's
    classifiers), else ``serve``; its output is named after the output layer. An input
    layer named ``images`` (the zoo's convention) is also checked to lie in [0, 1].
    """
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"{model.name} has {len(model.inputs)} inputs and {len(model.outputs)} "
                         "outputs; export_saved_model exports one-input, one-output Keras models "
                         "or models that define export_endpoints()")
    shape = tuple(model.inputs[0].shape[1:])
    if None in shape:
        raise ValueError(f"{model.name} takes inputs of shape (None,) + {shape}; "
                         "serving needs every dimension but the batch fixed")
    input_name = model.inputs[0].name
    output_name = model.output_names[0]
    serving_input = ServingInput(input_name, shape, unit_range=input_name == "images")
    endpoint = "classify" if output_name == "probabilities" else "serve"
    return {endpoint: Endpoint(serving_input, lambda x: {output_name: model(x, training=False)})}


def export_saved_model(model, path, version: int | None = None) -> Path:
    """Write ``model`` as a TensorFlow SavedModel whose endpoints check their inputs.

    Parameters
    ----------
    model : keras.Model
        A zoo model (its ``export_endpoints()`` names the endpoints, e.g. ``encode``,
        ``decode``, ``reconstruct``; its ``serving_model()`` is what gets saved, the
        generator alone for a GAN) or any one-input, one-output Keras model
        (see `default_endpoints`).
    path : str or Path
        The export folder.
    version : int, optional
        Write TF Serving's layout ``path/<version>/saved_model.pb`` instead of ``path/``.

    Returns
    -------
    Path
        The folder written.

    Notes
    -----
    Every endpoint is a signature (the first is also ``serving_default``) with named
    inputs and outputs, e.g. ``encode``: ``images`` -> ``codes``. Inside the graph it
    checks rank, shape, finiteness and, for images, the range [0, 1]; bad input raises
    ``InvalidArgumentError`` before any model op runs. Reload anywhere with
    ``tf.saved_model.load(path)`` and call ``loaded.encode(images)["codes"]``; no zoo
    import is needed to serve it.
    """
    from zoo.base import ZooModel  # zoo.base builds on this module

    if version is not None:
        check_positive_int(version, "version")

    zoo_model = isinstance(model, ZooModel)
    endpoints = model.export_endpoints() if zoo_model else default_endpoints(model)
    archive = keras.export.ExportArchive()
    archive.track(model.serving_model() if zoo_model else model)
    for name, endpoint in endpoints.items():
        archive.add_endpoint(name, endpoint.guarded(),
                             input_signature=[spec.spec() for spec in endpoint.inputs])
    path = Path(path) if version is None else Path(path) / str(version)
    with atomic_path(path) as tmp:
        archive.write_out(str(tmp), verbose=False)
    return path
