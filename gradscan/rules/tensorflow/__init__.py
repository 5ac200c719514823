"""GS4xx: TensorFlow and Keras: variables Keras does not track, NumPy and non-differentiable ops
on the loss path, losses computed after the tape stopped, tapes that watch nothing, freezes
that never take effect, values computed from weights once in `build()`, gradients applied
to another model's variables, float variables frozen at a constant that nothing writes,
integer variables trained as weights, weights a Lambda layer's function closes over, and
frozen networks whose (empty) variable list a step differentiates, hand-written steps
that drop the layers' own losses, and weight lists saved before the network was built.

Which Keras a file uses matters (facts tf25, tf40, tf45): the semantic model classifies a class
deriving from `keras.*` as Keras 3 and one deriving from `tf.keras.*` as Keras 3 unless the file
imports `tf_keras`, mentions `TF_USE_LEGACY_KERAS`, or the configuration says `keras = "legacy"`.

The family's helpers (`helpers.py`) answer the questions every rule of the family asks:
- where a node is evaluated (`tf_site`): a GradientTape body, a Keras `call`/`compute_loss` (and
  what it calls), or a helper called inside a tape block; `None` elsewhere (a `train_step`
  outside its tape, metrics, `tf.data` code, inference);
- whether the value reaches the loss (`reaches_loss`): what `call()` returns or what
  `tape.gradient` differentiates, never a `train_step`'s metrics dictionary;
- whether an expression carries gradient at all (`model.sources.tensorflow.carries`: the
  engine's one walk with TensorFlow's facts): the output of a layer or model call,
  a trainable variable, a watched tensor, or arithmetic on them. Data, labels, shapes and
  configuration do not, which keeps the rules silent on masks, indices and label casts.
"""
from gradscan.rules.tensorflow import (  # noqa: F401 (importing a rule module registers its rule)
    gs401_untracked_tf_variable,
    gs402_variable_created_in_call,
    gs403_numpy_function_in_training_path,
    gs404_numpy_in_tape,
    gs405_loss_outside_tape,
    gs406_stop_gradient_on_output,
    gs407_non_differentiable_op_in_loss_tf,
    gs408_tape_watches_nothing,
    gs409_trainable_changed_after_compile,
    gs410_weight_derived_once,
    gs411_gradients_applied_to_other_variables,
    gs412_frozen_constant_variable,
    gs413_integer_variable_trained,
    gs414_variable_in_lambda_layer,
    gs415_frozen_network_differentiated,
    gs416_layer_losses_dropped,
    gs417_variables_listed_before_build,
)
