"""A small Diffusion Transformer (Peebles & Xie 2023, "Scalable Diffusion Models with
Transformers"): patchify, transformer blocks with adaLN-Zero conditioning on the timestep, unpatchify.

Built from diffusers parts (``PatchEmbed`` with fixed sin-cos positions, ``Timesteps`` +
``TimestepEmbedding``, ``Attention``, ``FeedForward``) and saved like any diffusers model
(``config.json`` + safetensors). Called as ``network(x, t).sample`` like ``UNet2DModel``;
unconditional, so it needs no class labels. A folder holding it ships this file, which imports
only torch, diffusers and ``augment_labels`` (:mod:`core.models.shipped`). ``augment_dim`` > 0 adds
``augment_labels`` through a zero-initialised linear map to the timestep embedding, as
:mod:`core.models.pixel_unet` does (None, what samplers pass, means "not augmented").
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.attention import FeedForward
from diffusers.models.attention_processor import Attention
from diffusers.models.embeddings import PatchEmbed, TimestepEmbedding, Timesteps
from diffusers.models.modeling_outputs import Transformer2DModelOutput
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from .augment_labels import embed_labels, label_map


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


class DiTBlock(nn.Module):
    """Self-attention + MLP, each with adaLN-Zero shift / scale / gate from the timestep (DiT, fig. 3)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, heads=heads, dim_head=dim // heads, bias=True, out_bias=True)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ff = FeedForward(dim, mult=4, activation_fn="gelu-approximate")
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        s1, sc1, g1, s2, sc2, g2 = self.ada(c).chunk(6, dim=1)
        x = x + g1[:, None] * self.attn(_modulate(self.norm1(x), s1, sc1))
        return x + g2[:, None] * self.ff(_modulate(self.norm2(x), s2, sc2))


class NoisebloomDiT(ModelMixin, ConfigMixin):
    """Unconditional DiT over (B, C, H, W); ``forward(sample, timestep).sample`` has the input's shape."""

    @register_to_config
    def __init__(
        self,
        sample_size: int = 32,
        in_channels: int = 3,
        out_channels: int | None = None,
        patch_size: int = 2,
        hidden_size: int = 192,
        depth: int = 6,
        num_heads: int = 3,
        augment_dim: int = 0,
    ) -> None:
        super().__init__()
        out_channels = out_channels or in_channels
        self.patch = PatchEmbed(
            height=sample_size,
            width=sample_size,
            patch_size=patch_size,
            in_channels=in_channels,
            embed_dim=hidden_size,
            interpolation_scale=1,
        )
        self.time_proj = Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embed = TimestepEmbedding(256, hidden_size)
        self.blocks = nn.ModuleList(DiTBlock(hidden_size, num_heads) for _ in range(depth))
        self.norm_out = nn.LayerNorm(hidden_size, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Sequential(nn.SiLU(), nn.Linear(hidden_size, 2 * hidden_size))
        self.proj_out = nn.Linear(hidden_size, patch_size * patch_size * out_channels)
        for layer in (self.ada_out[1], self.proj_out):  # adaLN-Zero: the network starts as zero
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.augment_embed = label_map(
            augment_dim, hidden_size
        )  # built last: other initial weights unchanged

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | float,
        return_dict: bool = True,
        *,
        augment_labels: torch.Tensor | None = None,
    ):
        b, _, h, w = sample.shape
        p, c_out = self.config.patch_size, self.config.out_channels or self.config.in_channels
        t = torch.as_tensor(timestep, device=sample.device)
        if t.ndim == 0:
            t = t.expand(b)
        c = self.time_embed(self.time_proj(t).to(sample.dtype))
        extra = embed_labels(self.augment_embed, augment_labels, b)
        if extra is not None:
            c = c + extra
        x = self.patch(sample)
        for block in self.blocks:
            x = block(x, c)
        shift, scale = self.ada_out(c).chunk(2, dim=1)
        x = self.proj_out(_modulate(self.norm_out(x), shift, scale))
        x = x.view(b, h // p, w // p, p, p, c_out).permute(0, 5, 1, 3, 2, 4).reshape(b, c_out, h, w)
        return Transformer2DModelOutput(sample=x) if return_dict else (x,)
