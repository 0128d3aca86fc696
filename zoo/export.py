"""SavedModel export with guarded serving endpoints (`export_saved_model`)."""

from __future__ import annotations

from pathlib import Path

import keras

from zoo.backends import backend, require_tensorflow
from zoo.base import ZooModel
from zoo.saving import atomic_path
from zoo.serving import Endpoint, ServingInput
from zoo.validation import check_positive_int


def default_endpoints(model: keras.Model, input_shape=None) -> dict:
    """The endpoint of a plain single-input, single-output `keras.Model`.

    It is called ``classify`` when the output layer is named ``probabilities`` (the zoo's
    classifiers), else ``serve``; its output is named after the output layer. An input
    layer named ``images`` (the zoo's convention) is also checked to lie in [0, 1]. A
    subclassed model, which has no fixed inputs, is served on ``input_shape`` (one
    example's shape): its input is ``inputs``, its output is named after the model.
    """
    if not hasattr(model, "inputs"):  # subclassed: call it on a symbolic batch
        if input_shape is None:
            raise ValueError(f"{model.name} is a subclassed model, whose input shape Keras does "
                             "not fix: pass input_shape=(height, width, channels)")
        inputs = keras.Input(tuple(input_shape), name="inputs")
        model = keras.Model(inputs, model(inputs), name=model.name)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"{model.name} has {len(model.inputs)} inputs and {len(model.outputs)} "
                         "outputs; export_saved_model exports one-input, one-output Keras models "
                         "or models that define export_endpoints()")
    shape = tuple(model.inputs[0].shape[1:])
    if None in shape:
        raise ValueError(f"{model.name} takes inputs of shape (None,) + {shape}; "
                         "serving needs every dimension but the batch fixed")
    input_name = model.inputs[0].name
    # A Sequential model names no outputs: its last layer is its output.
    output_name = model.layers[-1].name if isinstance(model, keras.Sequential) else model.output_names[0]
    serving_input = ServingInput(input_name, shape, unit_range=input_name == "images")
    endpoint = "classify" if output_name == "probabilities" else "serve"
    return {endpoint: Endpoint(serving_input, lambda x: {output_name: model(x, training=False)})}


def jax_function(archive, name: str, endpoint: Endpoint):
    """``endpoint.fn`` converted to a `tf.function` by Keras (``jax2tf``), tracked by
    ``archive`` but not served: only its guarded caller becomes a signature."""
    raw = f"{name}_unguarded"
    # Batches of fixed rank: jax2tf needs the shapes its guarded caller has checked.
    function = archive.add_endpoint(
        raw, endpoint.fn, is_static=False,  # the VAE's encoder advances its noise stream
        input_signature=[keras.InputSpec(shape=(None, *spec.shape), dtype=spec.dtype)
                         for spec in endpoint.inputs])
    archive._endpoint_names.remove(raw)  # Keras makes every endpoint a signature
    return function


def export_saved_model(model, path, version: int | None = None, *, input_shape=None) -> Path:
    """Write ``model`` as a TensorFlow SavedModel whose endpoints check their inputs.

    Parameters
    ----------
    model : keras.Model
        A zoo model (its ``export_endpoints()`` names the endpoints, e.g. ``encode``,
        ``decode``, ``reconstruct``; its ``serving_model()`` is what gets saved, the
        generator alone for a GAN) or any one-input, one-output Keras model
        (see `default_endpoints`): functional, Sequential or subclassed.
    path : str or Path
        The export folder.
    version : int, optional
        Write TF Serving's layout ``path/<version>/saved_model.pb`` instead of ``path/``.
    input_shape : tuple, optional
        One example's shape, for a subclassed Keras model (the others know theirs).

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

    Needs TensorFlow, on the TensorFlow or the JAX backend (Keras converts JAX functions
    with ``jax2tf``); PyTorch raises `NotImplementedError`.
    """
    if backend() == "torch":
        raise NotImplementedError(
            "export_saved_model runs on the TensorFlow and JAX backends, not 'torch': set "
            "KERAS_BACKEND=tensorflow (or jax), load the .keras file and export there")
    tf = require_tensorflow("export_saved_model (a TensorFlow SavedModel)")
    if version is not None:
        check_positive_int(version, "version")

    zoo_model = isinstance(model, ZooModel)
    endpoints = model.export_endpoints() if zoo_model else default_endpoints(model, input_shape)
    archive = keras.export.ExportArchive()
    archive.track(model.serving_model() if zoo_model else model)
    for name, endpoint in endpoints.items():
        signature = [spec.spec() for spec in endpoint.inputs]
        if backend() == "jax":
            endpoint = Endpoint(endpoint.input, jax_function(archive, name, endpoint))
        served = tf.function(endpoint.guarded(), input_signature=signature)
        served.get_concrete_function()  # traced: Keras takes a tf.function as it is
        archive.add_endpoint(name, served)
    path = Path(path) if version is None else Path(path) / str(version)
    with atomic_path(path) as tmp:
        archive.write_out(str(tmp), verbose=False)
    return path
