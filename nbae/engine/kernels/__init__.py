"""Numba kernels: forward pass, backpropagation, optimizer updates and the fused training loop.

Memory layout
-------------
All parameters live in one flat array ``theta``: for weight layer ``l`` the matrix
``W_l`` (shape ``(fan_in, fan_out)``, C order) starts at ``w_off[l]`` and the bias ``b_l`` at
``b_off[l]``. The gradient ``grad`` and the optimizer state (``s1``, ``s2``: momentum buffer,
Adagrad accumulator, or Adam's first and second moments) share that layout, so each optimizer
step is one fused loop over flat arrays.

Activations of a mini-batch of up to ``cap`` rows live in one flat buffer ``buf``: layer ``l``'s
output ``A_l`` (``A_0`` is the input batch) occupies ``cap * sizes[l]`` elements from
``a_off[l]``; a batch of ``B <= cap`` rows uses the first ``B * sizes[l]`` of them, contiguous.

Notation: ``Z_l = A_l W_l + b_l`` and ``A_{l+1} = f_l(Z_l)``. Backpropagation carries
``D = dL/dA_{l+1}``, turns it into ``dL/dZ_l`` in place with the activation's derivative (which
every supported activation can express through its *output*, so ``Z`` is never stored), then
``dL/dW_l = A_l^T D``, ``dL/db_l = sum_rows D`` and ``dL/dA_l = D W_l^T``.

Everything here is compiled with ``cache=True``, so a second process loads machine code from
``__pycache__`` instead of compiling. Kernels are generic in the floating type: float32 arrays
get float32 code. Behaviour is selected by integer codes (nbae.engine.codes), never by passing
functions, which would defeat the on-disk cache.

Modules (all names are re-exported here):

- ``intrinsics``: array views, a bit cast, a dtype cast, vectorisable exp/tanh/sigmoid;
- ``batches``: the splitmix64 generator, shuffling, row gathering, input corruption;
- ``libm``: the project's own log, sin and cos (no machine libm in any reproducible result);
- ``layers``: activations, losses, matrix products, forward and backward passes;
- ``optimizers``: SGD/Adagrad/Adam updates and the ``HP_*`` hyperparameter layout;
- ``loop``: entry points (full-batch gradient, prediction, data-set loss, ``train_epochs``)
  and the named tuples grouping ``train_epochs``' arguments.
"""
# ruff: noqa: F401  (this module re-exports the kernels' public names)

from nbae.engine.codes import (
    ADAGRAD,
    ADAM,
    BCE,
    IDENTITY,
    LEAKY_RELU,
    MSE,
    NOISE_FLIP,
    NOISE_GAUSSIAN,
    NOISE_MASK,
    NOISE_NONE,
    RELU,
    SGD,
    SIGMOID,
    SOFTMAX,
    STATUS_EARLY_STOP,
    STATUS_NONFINITE,
    STATUS_OK,
    TANH,
)
from nbae.engine.kernels.batches import (
    corrupt,
    gather_rows,
    next_normal,
    next_u64,
    next_uniform,
    shuffle_inplace,
)

# the fast exp and its helpers, for engines that build further activations on it
from nbae.engine.kernels.intrinsics import (  # noqa: I001
    JIT,
    JIT_NP,
    _bits_from_f64,
    _exp_nonpositive,
    _f64_from_bits,
    _pow2,
    cast_like,
    sigmoid_inplace,
    tanh_inplace,
    view1d,
    view2d,
)
from nbae.engine.kernels.layers import (
    activate,
    activation_backward,
    backward,
    forward,
    loss_and_output_grad,
    loss_value,
    matmul_nt,
)
from nbae.engine.kernels.loop import (
    Network,
    Optimizer,
    Params,
    Record,
    Sampling,
    Schedule,
    Work,
    dataset_loss,
    loss_and_grad,
    predict,
    train_epochs,
)
from nbae.engine.kernels.optimizers import (
    HP_BETA1,
    HP_BETA2,
    HP_EPS,
    HP_LR,
    HP_MOMENTUM,
    HP_SIZE,
    HP_WEIGHT_DECAY,
    optimizer_step,
)
