"""The generative model of one Table I case: PVRNN, per-sample coordinates and (optionally) embeddings.

Case (i) ``no-embedding``: every training sample owns a free latent z_i in R^L; the pattern is told to
the network only through its initial states. Cases (ii) ``embedding`` and (iii)
``embedding+regularization``: every sample owns local coordinates xi_i in R^K, and z_i = m_p(xi_i)
through its behaviour's embedding. (ii) and (iii) differ only in the loss (see ``training.py``).

"Coordinates" below means whatever inference searches over: xi (cases ii, iii) or z (case i).
"""

from __future__ import annotations

import torch
from torch import nn

from latent_nodes.config import CASE_NO_EMBEDDING, CASES, ModelConfig
from latent_nodes.model.embedding import PatternEmbedding
from latent_nodes.model.pvrnn import PVRNN


class LatentModel(nn.Module):
    """f_theta o m_p: coordinates -> z -> behaviour sequence, with one coordinate vector per training sample."""

    def __init__(self, cfg: ModelConfig, sample_patterns: torch.Tensor) -> None:
        super().__init__()
        if cfg.case not in CASES:
            raise ValueError(f"unknown case {cfg.case!r}; expected one of {CASES}")
        self.cfg = cfg
        self.pvrnn = PVRNN(cfg)
        self.uses_embedding = cfg.case != CASE_NO_EMBEDDING
        # Which behaviour each training sample shows; inference draws its starting points from these.
        self.register_buffer("sample_patterns", torch.as_tensor(sample_patterns, dtype=torch.long).clone())
        n = int(self.sample_patterns.shape[0])
        if self.uses_embedding:
            self.embedding: PatternEmbedding | None = PatternEmbedding(
                cfg.n_patterns, cfg.local_dim, cfg.latent_dim, cfg.embedding_hidden)
            self.coords = nn.Parameter(0.1 * torch.randn(n, cfg.local_dim))
        else:
            self.embedding = None
            self.coords = nn.Parameter(0.1 * torch.randn(n, cfg.latent_dim))

    @property
    def coord_dim(self) -> int:
        """Dimension of the searched coordinates: K with an embedding, L without."""
        return int(self.coords.shape[1])

    def to_latent(self, coords: torch.Tensor, pattern: torch.Tensor) -> torch.Tensor:
        """z for coordinates of the given patterns (identity in the no-embedding case)."""
        return self.embedding(coords, pattern) if self.embedding is not None else coords

    def generate(self, coords: torch.Tensor, pattern: torch.Tensor, steps: int | None = None,
                 coords_dot: torch.Tensor | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Sequences [B, steps, O] (normalized units) for coordinates [B, D] and patterns [B].

        With a tangent ``coords_dot`` [B, D] it returns (x, J x) through embedding and PVRNN together.
        """
        if coords_dot is None:
            return self.pvrnn(self.to_latent(coords, pattern), pattern, steps)
        if self.embedding is None:
            return self.pvrnn(coords, pattern, steps, z_dot=coords_dot)
        z, z_dot = self.embedding(coords, pattern, coords_dot)
        return self.pvrnn(z, pattern, steps, z_dot=z_dot)

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        """Reconstruct training samples by index with their own learned coordinates."""
        return self.generate(self.coords[index], self.sample_patterns[index])

    def pattern_coords(self, pattern: int) -> torch.Tensor:
        """Learned coordinates of the training samples of one behaviour."""
        return self.coords[self.sample_patterns == pattern]
