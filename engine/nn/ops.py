"""Integer codes shared by the network compiler (:mod:`engine.nn.network`) and its kernels.

A network is compiled to a table of ops: one row of ``OPI_COLS`` integers and one row of
``OPF_COLS`` floats per op.  Ops read and write numbered activation buffers; buffer 0 is
the input.  The kernels dispatch on these codes, so any architecture runs through one
compiled kernel.
"""
from __future__ import annotations

# Op kinds.
DENSE, ACT, DROPOUT, BATCHNORM, LAYERNORM, ADD, HIGHWAY = 0, 1, 2, 3, 4, 5, 6

# Activation codes (the registry in activations.py maps ids onto these).
IDENTITY, SIGMOID, TANH, RELU, LEAKY_RELU, PRELU, ELU, SOFTPLUS, GELU = 0, 1, 2, 3, 4, 5, 6, 7, 8

# Loss codes.
SOFTMAX_CE, MSE, BCE = 0, 1, 2

# Dropout modes.
INVERTED, ORIGINAL = 0, 1

# Columns of the integer op table.
KIND = 0
IN0, IN1, IN2 = 1, 2, 3  # input buffers (-1 unused)
OUT = 4  # output buffer
POFF = 5  # offset of the op's parameters in the flat vector
NPAR = 6  # DENSE: 1 with bias; ACT: PReLU slopes (1 or width); norms: 1 if affine
CODE = 7  # ACT: activation code; DROPOUT / DENSE DropConnect: mode
MOFF = 8  # DENSE with DropConnect: offset of its mask and effective weights in the weight scratch
ROFF = 9  # BATCHNORM: offset of running mean (then variance) in the running-statistics vector
ACC0, ACC1, ACC2 = 10, 11, 12  # 1 when backward must add into that input's gradient
MASK = 13  # DROPOUT: buffer holding the mask
OPI_COLS = 14

# Columns of the float op table.
P = 0  # DROPOUT / DropConnect drop probability
ALPHA = 1  # leaky slope, ELU alpha, batch-norm momentum
EPS = 2  # norm epsilon
OPF_COLS = 3

# Telemetry columns per tapped buffer.
T_GRAD_NORM, T_GRAD_MEANABS, T_MEAN, T_STD, T_DEAD = 0, 1, 2, 3, 4
TAP_COLS = 5
# Telemetry columns per dense layer: its weight gradient's L2 norm, mean |g| and max |g| (as
# backprop computed it), and the step's update-to-weight ratio |dW| / |W| (L2 norms over the
# layer's weights; dW is the step the optimizer took, after noise and clipping; |W| before it).
W_GRAD_NORM, W_GRAD_MEANABS, W_GRAD_MAX, W_UPDATE_RATIO = 0, 1, 2, 3
DENSE_COLS = 4
