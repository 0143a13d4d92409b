"""The baselines: round-to-nearest group quantisation and GPTQ (Frantar et al. 2022, arXiv 2210.17323).

Both produce the same stored form (``scalar`` in ``botkit.model.compressed``): ``bits``-bit codes with an
asymmetric min-max grid per row and group of ``group_size`` input columns (``group_size = 0`` is one grid
per output channel), a float16 scale and an integer zero point per grid. GPTQ differs only in how the
codes are chosen: column by column, with each column's rounding error fed back into the columns not yet
quantised through the Cholesky factor of the damped inverse Hessian.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ScalarCodes:
    """A quantised matrix: ``w = (codes - zeros[:, g]) * scales[:, g]`` for column group ``g``."""

    codes: torch.Tensor  # (rows, cols) int64 in [0, 2**bits)
    scales: torch.Tensor  # (rows, groups) float16
    zeros: torch.Tensor  # (rows, groups) uint8
    bits: int
    group_size: int  # columns per group (the full width for per-channel)

    def dequantize(self) -> torch.Tensor:
        """The float32 matrix these codes stand for."""
        group_of = torch.arange(self.codes.shape[1]) // self.group_size
        scale = self.scales.float()[:, group_of]
        return (self.codes.float() - self.zeros.float()[:, group_of]) * scale


def grid(w: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row min-max grid of ``w`` (rows, n): float16-representable scales and integer zero points."""
    maxq = 2**bits - 1
    lo = w.min(dim=1).values.clamp(max=0)
    hi = w.max(dim=1).values.clamp(min=0)
    flat = hi == lo  # an all-zero row still needs a usable grid
    hi = torch.where(flat, lo + 1, hi)
    scale = ((hi - lo) / maxq).half().float()  # the stored precision decides the codes
    zero = torch.round(-lo / scale).clamp(0, maxq)
    return scale, zero


def quantize_column(w: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, bits: int) -> torch.Tensor:
    """Codes of ``w`` (rows,) or (rows, n) on the grid (``scale``, ``zero`` per row)."""
    s, z = (scale, zero) if w.ndim == 1 else (scale[:, None], zero[:, None])
    return torch.clamp(torch.round(w / s) + z, 0, 2**bits - 1)


def _group_size(cols: int, group_size: int) -> int:
    return cols if group_size <= 0 or group_size >= cols else group_size


def rtn(weight: torch.Tensor, bits: int, group_size: int = 0) -> ScalarCodes:
    """Round-to-nearest: each group's codes are its values rounded on its own min-max grid."""
    w = weight.detach().float()
    rows, cols = w.shape
    g = _group_size(cols, group_size)
    codes = torch.empty(rows, cols, dtype=torch.int64)
    scales, zeros = [], []
    for start in range(0, cols, g):
        piece = w[:, start : start + g]
        scale, zero = grid(piece, bits)
        codes[:, start : start + g] = quantize_column(piece, scale, zero, bits).long()
        scales.append(scale)
        zeros.append(zero)
    return ScalarCodes(codes, torch.stack(scales, 1).half(), torch.stack(zeros, 1).to(torch.uint8), bits, g)


def gptq(
    weight: torch.Tensor,
    hessian: torch.Tensor,
    bits: int,
    group_size: int = 0,
    *,
    block_size: int = 128,
    damp: float = 0.01,
) -> ScalarCodes:
    """GPTQ: quantise columns in order, compensating each one's error in the columns still to come.

    Args:
        weight: (rows, cols) matrix of a layer ``y = x W^T``.
        hessian: (cols, cols) ``X^T X`` of the layer's calibration inputs.
        bits: code width.
        group_size: columns per grid (0 = one grid per row, fixed from the whole row up front).
        block_size: columns per lazy batch: errors inside a block are applied at once, the rest of the
            matrix is updated once per block (the paper's "lazy batch" updates).
        damp: added to the Hessian's diagonal as a share of its mean (the paper's 1 %).

    Returns:
        The codes, grids and scales, in the same form as :func:`rtn`.
    """
    w = weight.detach().double().clone()
    rows, cols = w.shape
    g = _group_size(cols, group_size)
    h = hessian.detach().double().clone()
    dead = torch.diag(h) == 0  # inputs never active: their weights cannot matter
    h[dead, dead] = 1
    w[:, dead] = 0
    h += damp * torch.mean(torch.diag(h)) * torch.eye(cols, dtype=h.dtype)
    # Upper Cholesky factor of H^-1: row i holds the update of columns i.. once column i is fixed.
    h_inv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    codes = torch.empty(rows, cols, dtype=torch.int64)
    scales, zeros = [], []
    scale, zero = grid(w.float(), bits)
    for b0 in range(0, cols, block_size):
        b1 = min(b0 + block_size, cols)
        block = w[:, b0:b1].clone()
        errors = torch.zeros_like(block)
        inv = h_inv[b0:b1, b0:b1]
        for i in range(b1 - b0):
            col = b0 + i
            if col % g == 0:  # a new group: its grid comes from the weights as updated so far
                if g < cols:
                    scale, zero = grid(torch.cat([block[:, i:], w[:, b1:]], 1)[:, :g].float(), bits)
                scales.append(scale)
                zeros.append(zero)
            q = quantize_column(block[:, i].float(), scale, zero, bits)
            codes[:, col] = q.long()
            dq = ((q - zero) * scale).double()
            err = (block[:, i] - dq) / inv[i, i]
            block[:, i:] -= err[:, None] * inv[i, i:][None, :]
            errors[:, i] = err
        w[:, b0:b1] = block
        w[:, b1:] -= errors @ h_inv[b0:b1, b1:]
    return ScalarCodes(codes, torch.stack(scales, 1).half(), torch.stack(zeros, 1).to(torch.uint8), bits, g)
