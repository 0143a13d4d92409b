"""The weight codec: a vector-quantised autoencoder over short pieces of the model's weight rows.

Each matrix row is divided by its RMS (one float16 scale per row) and cut into pieces of ``dim`` values.
The encoder maps a piece to ``codebooks`` 8-bit codes, one per codebook, chosen greedily so that each
codebook quantises what the previous ones left (residual vector quantisation, the family of AQLM and
VPTQ); the decoder sums the chosen entries and multiplies by the row's scale. So a piece of ``dim``
weights costs ``8 x codebooks`` bits: with ``dim = 8`` that is ``codebooks`` bits per weight, before the
scales and the codebooks themselves, which all layers share (so their cost is spread over every weight).

Training is the VQ-VAE's codebook learning by expectation-maximisation (k-means), with each coordinate's
squared error weighted by its input column's share of ``diag(X^T X)`` (how much that weight moves the
layer's output on calibration dialogues); a few rounds then re-encode each codebook against the others'
reconstruction. Optionally the codebooks and row scales are fine-tuned by gradient descent on each
layer's relative output error ``tr(dW H dW^T) / tr(W H W^T)`` with the full ``H = X^T X``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)

ENTRIES = 256  # 8-bit codes
_CHUNK = 32768  # pieces scored against a codebook at once (bounds memory to ~32 MB)


@dataclass
class VQCodes:
    """One matrix's codes: ``W[r] ~= scales[r] * concat_p(sum_m codebooks[m, codes[m, p]])``."""

    codes: torch.Tensor  # (codebooks, rows * cols / dim) uint8
    scales: torch.Tensor  # (rows,) float16
    shape: tuple[int, int]


def nearest(pieces: torch.Tensor, weights: torch.Tensor, book: torch.Tensor) -> torch.Tensor:
    """For each piece, the book entry with the least weighted squared error (``sum_j w_j (x_j - c_j)^2``)."""
    out = torch.empty(pieces.shape[0], dtype=torch.long)
    book_sq = (book * book).T  # (dim, K)
    for start in range(0, pieces.shape[0], _CHUNK):
        x, w = pieces[start : start + _CHUNK], weights[start : start + _CHUNK]
        # The ||x||^2 term is the same for every entry, so it is left out of the argmin.
        score = w @ book_sq - 2 * (w * x) @ book.T
        out[start : start + _CHUNK] = score.argmin(dim=1)
    return out


def update(pieces: torch.Tensor, weights: torch.Tensor, codes: torch.Tensor, book: torch.Tensor) -> None:
    """Move each entry to the weighted mean of the pieces coded to it (an entry none chose stays)."""
    num = torch.zeros_like(book).index_add_(0, codes, weights * pieces)
    den = torch.zeros_like(book).index_add_(0, codes, weights)
    used = den > 0
    book[used] = num[used] / den[used]


def learn_codebook(
    target: torch.Tensor, weights: torch.Tensor, iterations: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted k-means with :data:`ENTRIES` entries on ``target`` (N, dim); returns (book, codes)."""
    start = torch.randperm(target.shape[0], generator=generator)[:ENTRIES]
    book = target[start].clone()
    codes = nearest(target, weights, book)
    for _ in range(iterations):
        update(target, weights, codes, book)
        codes = nearest(target, weights, book)
    return book, codes


def normalise(weight: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Row scales (float16-rounded RMS) and the rows divided by them, cut into (N, dim) pieces."""
    w = weight.detach().float()
    scales = w.pow(2).mean(dim=1).sqrt().half().float()  # 0 for a zero row (padding), which stays zero
    divisor = torch.where(scales > 0, scales, torch.ones_like(scales))
    return scales, (w / divisor[:, None]).reshape(-1, dim)


def piece_weights(hessian_diag: torch.Tensor, rows: int, dim: int) -> torch.Tensor:
    """Each coordinate's importance: its input column's share of diag(X^T X), repeated for every row."""
    importance = hessian_diag.float().clamp(min=0)
    importance = importance / importance.mean().clamp(min=1e-12) + 1e-3  # never blind to a column
    return importance.reshape(-1, dim).repeat(rows, 1)


def encode(
    matrices: dict[str, torch.Tensor],
    hessians: dict[str, torch.Tensor],
    *,
    codebooks: int,
    dim: int = 8,
    iterations: int = 10,
    refine_rounds: int = 1,
    sample: int = 1 << 17,
    seed: int = 0,
) -> tuple[torch.Tensor, dict[str, VQCodes]]:
    """Learn shared codebooks for all ``matrices`` and encode each one.

    Args:
        matrices: weight name -> (rows, cols) matrix, cols a multiple of ``dim``.
        hessians: weight name -> (cols, cols) ``X^T X`` of its inputs (only the diagonal is used here).
        codebooks: codebooks (8 bits each per piece of ``dim`` values).
        dim: values per piece.
        iterations: k-means iterations per codebook.
        refine_rounds: rounds re-learning each codebook against the others' reconstruction.
        sample: pieces the codebooks are learned on.
        seed: seeds the codebooks' initial entries.

    Returns:
        The codebooks (codebooks, 256, dim) float16 and each matrix's codes.
    """
    generator = torch.Generator().manual_seed(seed)
    scales, pieces, weights, spans = {}, [], [], {}
    offset = 0
    for name, weight in matrices.items():
        scales[name], p = normalise(weight, dim)
        pieces.append(p)
        weights.append(piece_weights(torch.diag(hessians[name]), weight.shape[0], dim))
        spans[name] = (offset, offset + p.shape[0])
        offset += p.shape[0]
    target, w = torch.cat(pieces), torch.cat(weights)
    # The codebooks are learned on a sample of the pieces (a few hundred thousand values tell 256 entries
    # where to sit); every piece is then coded with them.
    chosen = torch.randperm(target.shape[0], generator=generator)[:sample]
    residual, w_sample = target[chosen].clone(), w[chosen]
    books, codes = [], []
    for m in range(codebooks):
        book, code = learn_codebook(residual, w_sample, iterations, generator)
        residual -= book[code]
        books.append(book)
        codes.append(code)
        log.info(
            "codebook %d/%d: weighted residual %.4f", m + 1, codebooks, float((w_sample * residual**2).mean())
        )
    for _ in range(refine_rounds if codebooks > 1 else 0):
        for m in range(codebooks):
            residual += books[m][codes[m]]  # the target of codebook m with the others fixed
            for _ in range(max(iterations // 2, 1)):
                codes[m] = nearest(residual, w_sample, books[m])
                update(residual, w_sample, codes[m], books[m])
            codes[m] = nearest(residual, w_sample, books[m])
            residual -= books[m][codes[m]]
    all_codes = encode_piece(target, w, torch.stack(books), passes=1)
    codes = list(all_codes)
    stacked = torch.stack(books)
    result = {
        name: VQCodes(
            codes=torch.stack([c[a:b] for c in codes]).to(torch.uint8),
            scales=scales[name].half(),
            shape=(matrices[name].shape[0], matrices[name].shape[1]),
        )
        for name, (a, b) in spans.items()
    }
    return stacked.half(), result


def decode(books: torch.Tensor, vq: VQCodes) -> torch.Tensor:
    """The float32 matrix that ``vq`` stands for (the serving side's decoder, in torch)."""
    codes = vq.codes.long()
    pieces = sum(books[m].float()[codes[m]] for m in range(codes.shape[0]))
    assert isinstance(pieces, torch.Tensor)
    return pieces.reshape(vq.shape) * vq.scales.float()[:, None]


def fine_tune(
    books: torch.Tensor,
    encoded: dict[str, VQCodes],
    matrices: dict[str, torch.Tensor],
    hessians: dict[str, torch.Tensor],
    *,
    steps: int,
    lr: float = 1e-3,
) -> tuple[torch.Tensor, list[float]]:
    """Adjust codebooks and row scales (codes fixed) to cut every layer's relative output error.

    Returns:
        The tuned codebooks (float16; the scales in ``encoded`` are updated in place) and the loss per step.
    """
    table = books.float().clone().requires_grad_(True)
    row_scales = {n: vq.scales.float().clone().requires_grad_(True) for n, vq in encoded.items()}
    hs = {n: hessians[n].float() for n in encoded}
    norms = {n: float(torch.trace(matrices[n].float() @ hs[n] @ matrices[n].float().T)) for n in encoded}
    optimiser = torch.optim.Adam([table, *row_scales.values()], lr=lr)
    losses: list[float] = []
    for _ in range(steps):
        optimiser.zero_grad()
        loss = torch.zeros(())
        for name, vq in encoded.items():
            codes = vq.codes.long()
            pieces = sum(table[m][codes[m]] for m in range(codes.shape[0]))
            assert isinstance(pieces, torch.Tensor)
            error = pieces.reshape(vq.shape) * row_scales[name][:, None] - matrices[name].float()
            loss = loss + (error @ hs[name] * error).sum() / max(norms[name], 1e-12)
        loss = loss / len(encoded)
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    for name, vq in encoded.items():
        tuned = row_scales[name].detach()
        vq.scales = torch.where(vq.scales == 0, torch.zeros_like(tuned), tuned).half()  # zero rows stay so
    return table.detach().half(), losses


def encode_piece(
    target: torch.Tensor, weights: torch.Tensor, books: torch.Tensor, passes: int = 2
) -> torch.Tensor:
    """Residual codes (codebooks, N) of ``target`` (N, dim): greedy, then re-chosen one codebook at a time."""
    table = books.float()
    codes = torch.empty(table.shape[0], target.shape[0], dtype=torch.long)
    residual = target.clone()
    for m in range(table.shape[0]):
        codes[m] = nearest(residual, weights, table[m])
        residual -= table[m][codes[m]]
    for _ in range(passes if table.shape[0] > 1 else 0):
        for m in range(table.shape[0]):
            residual += table[m][codes[m]]
            codes[m] = nearest(residual, weights, table[m])
            residual -= table[m][codes[m]]
    return codes


def encode_with_feedback(
    weight: torch.Tensor, hessian: torch.Tensor, books: torch.Tensor, dim: int, damp: float = 0.01
) -> VQCodes:
    """Encode one matrix with learned ``books``, feeding each piece's error forward as GPTQ does.

    Pieces are ``dim`` consecutive input columns of every row; they are coded a column group at a time,
    and the rounding error of each column is spread over the columns not yet coded through the upper
    Cholesky factor of the damped inverse Hessian (the vector form of GPTQ, as in GPTVQ and VPTQ), so
    later columns compensate for earlier ones on the calibration inputs.
    """
    scales, pieces = normalise(weight, dim)
    w = pieces.double().reshape(weight.shape)
    rows, cols = w.shape
    h = hessian.detach().double().clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    h += damp * torch.mean(torch.diag(h)) * torch.eye(cols, dtype=h.dtype)
    u = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    importance = torch.diag(hessian).float().clamp(min=0)
    importance = importance / importance.mean().clamp(min=1e-12) + 1e-3
    table = books.float()
    codes = torch.empty(books.shape[0], rows, cols // dim, dtype=torch.long)
    for g0 in range(0, cols, dim):
        g1 = g0 + dim
        piece_codes = encode_piece(w[:, g0:g1].float(), importance[g0:g1].expand(rows, dim), books)
        codes[:, :, g0 // dim] = piece_codes
        q = sum(table[m][piece_codes[m]] for m in range(table.shape[0]))
        assert isinstance(q, torch.Tensor)
        errors = torch.empty(rows, dim, dtype=torch.float64)
        for i in range(dim):
            col = g0 + i
            err = (w[:, col] - q[:, i].double()) / u[col, col]
            w[:, col + 1 : g1] -= err[:, None] * u[col, col + 1 : g1][None, :]
            errors[:, i] = err
        w[:, g1:] -= errors @ u[g0:g1, g1:]
    return VQCodes(
        codes=codes.reshape(books.shape[0], -1).to(torch.uint8), scales=scales.half(), shape=(rows, cols)
    )
