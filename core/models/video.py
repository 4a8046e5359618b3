"""A compact factorised space-time UNet for clips (B, T, C, H, W): every block mixes space within
each frame, then time across frames at each pixel, the factorisation of Ho et al. 2022 ("Video
Diffusion Models") and of ModelScope / diffusers' ``UNet3DConditionModel``.

Per level: diffusers' ``ResnetBlock2D`` (spatial 3x3 convolutions on every frame, timestep
embedding added) followed by diffusers' ``TemporalConvLayer`` (four (3, 1, 1) convolutions across
frames, zero-initialised so it starts as the identity); at the coarsest level and in the middle a
temporal self-attention over the T frames of each pixel (diffusers' ``Attention`` with sin-cos
frame positions, zero-initialised output), and one spatial self-attention in the middle. Frames are
first folded 2x2 into channels (pixel unshuffle, lossless) so the network works at half the
resolution: the point is a CPU-sized model.

Why our own network instead of ``UNet3DConditionModel`` / ``UNetSpatioTemporalConditionModel``:
both require text / image conditioning (cross-attention inputs, added-time ids) and are 10**8-10**9
parameters at their configured widths; Noisebloom's clip models are unconditional and must train
on a 2-core CPU. This network reuses their building blocks and is saved like any diffusers model
(``config.json`` + safetensors); a folder holding it ships this file, which imports only torch
and diffusers (:mod:`core.models.shipped`). Called as ``network(x, t).sample`` like ``UNet2DModel``,
with x (B, T, C, H, W) and t (B,) timesteps (ints 0..999 for DDPM objectives, floats 1000*sigma
for flow); the output has the input's shape.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.attention_processor import Attention
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.modeling_outputs import Transformer2DModelOutput
from diffusers.models.modeling_utils import ModelMixin
from diffusers.models.resnet import ResnetBlock2D
from torch import nn


def frame_positions(frames: int, dim: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(frames, dim) sin-cos position codes (Vaswani et al. 2017) for the frame index."""
    half = dim // 2
    freq = torch.exp(-math.log(10000.0) * torch.arange(half, device=device, dtype=torch.float32) / half)
    ang = torch.arange(frames, device=device, dtype=torch.float32)[:, None] * freq[None]
    pe = torch.cat([ang.sin(), ang.cos()], dim=1)
    if pe.shape[1] < dim:
        pe = F.pad(pe, (0, dim - pe.shape[1]))
    return pe.to(dtype)


class TemporalConv(nn.Module):
    """Residual convolution across frames at each pixel: GroupNorm, SiLU, a (3, 1) kernel over
    (T, H*W), twice; the second is zero-initialised so the block starts as the identity.

    The same computation as diffusers' ``TemporalConvLayer`` (there four (3, 1, 1) Conv3d layers),
    written as Conv2d over (B, C, T, H*W): on CPU the Conv3d backward pass took ~3x as long.
    """

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, channels, eps=1e-6)
        self.conv1 = nn.Conv2d(channels, channels, (3, 1), padding=(1, 0))
        self.norm2 = nn.GroupNorm(groups, channels, eps=1e-6)
        self.conv2 = nn.Conv2d(channels, channels, (3, 1), padding=(1, 0))
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        bt, c, h, w = x.shape
        y = x.reshape(bt // frames, frames, c, h * w).transpose(1, 2)  # (B, C, T, H*W)
        r = self.conv1(F.silu(self.norm1(y)))
        r = self.conv2(F.silu(self.norm2(r)))
        return x + r.transpose(1, 2).reshape(bt, c, h, w)


class TemporalAttention(nn.Module):
    """Self-attention across the T frames at each pixel; residual, zero-initialised output."""

    def __init__(self, channels: int, head_dim: int, groups: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        heads = max(1, channels // head_dim)
        self.attn = Attention(channels, heads=heads, dim_head=channels // heads, bias=True, out_bias=True)
        nn.init.zeros_(self.attn.to_out[0].weight)
        nn.init.zeros_(self.attn.to_out[0].bias)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        bt, c, h, w = x.shape
        b = bt // frames
        y = self.norm(x).reshape(b, frames, c, h, w).permute(0, 3, 4, 1, 2).reshape(b * h * w, frames, c)
        y = y + frame_positions(frames, c, y.device, y.dtype)[None]
        y = self.attn(y)
        y = y.reshape(b, h, w, frames, c).permute(0, 3, 4, 1, 2).reshape(bt, c, h, w)
        return x + y


class NoisebloomVideoNet(ModelMixin, ConfigMixin):
    """Unconditional factorised space-time UNet over (B, T, C, H, W); see the module docstring."""

    @register_to_config
    def __init__(
        self,
        sample_size: int = 32,
        in_channels: int = 3,
        out_channels: int | None = None,
        num_frames: int = 16,
        patch_size: int = 2,
        block_out_channels: tuple[int, ...] = (32, 64),
        norm_num_groups: int = 8,
        attention_head_dim: int = 32,
        temporal_attention: bool = True,
    ) -> None:
        super().__init__()
        out_channels = out_channels or in_channels
        ch = tuple(int(c) for c in block_out_channels)
        g, p = norm_num_groups, patch_size
        temb = ch[0] * 4
        self.time_proj = Timesteps(ch[0], flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embed = TimestepEmbedding(ch[0], temb)
        self.conv_in = nn.Conv2d(in_channels * p * p, ch[0], 3, padding=1)

        def res(cin: int, cout: int) -> ResnetBlock2D:
            return ResnetBlock2D(in_channels=cin, out_channels=cout, temb_channels=temb, groups=g)

        self.down_res = nn.ModuleList(res(c, c) for c in ch)
        self.down_time = nn.ModuleList(TemporalConv(c, g) for c in ch)
        self.downsample = nn.ModuleList(
            nn.Conv2d(ch[i], ch[i + 1], 3, stride=2, padding=1) for i in range(len(ch) - 1)
        )
        c_mid = ch[-1]
        self.mid_res1, self.mid_res2 = res(c_mid, c_mid), res(c_mid, c_mid)
        self.mid_space = Attention(
            c_mid,
            heads=max(1, c_mid // attention_head_dim),
            dim_head=c_mid // max(1, c_mid // attention_head_dim),
            norm_num_groups=g,
            residual_connection=True,
            bias=True,
            upcast_softmax=True,
            _from_deprecated_attn_block=True,
        )
        self.mid_time = TemporalConv(c_mid, g)
        self.time_attn = nn.ModuleList(
            [TemporalAttention(c_mid, attention_head_dim, g), TemporalAttention(c_mid, attention_head_dim, g)]
            if temporal_attention
            else []
        )
        self.up_res = nn.ModuleList(res(2 * c, c) for c in ch)
        self.up_time = nn.ModuleList(TemporalConv(c, g) for c in ch)
        self.upsample = nn.ModuleList(nn.Conv2d(ch[i + 1], ch[i], 3, padding=1) for i in range(len(ch) - 1))
        self.norm_out = nn.GroupNorm(g, ch[0], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[0], out_channels * p * p, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor | float, return_dict: bool = True):
        if sample.ndim != 5:
            raise ValueError(
                f"NoisebloomVideoNet takes clips (B, T, C, H, W), got shape {tuple(sample.shape)}"
            )
        b, frames, c, h, w = sample.shape
        p, levels = self.config.patch_size, len(self.down_res)
        t = torch.as_tensor(timestep, device=sample.device)
        if t.ndim == 0:
            t = t.expand(b)
        emb = self.time_embed(self.time_proj(t).to(sample.dtype)).repeat_interleave(frames, dim=0)
        x = sample.reshape(b * frames, c, h, w)
        if p > 1:
            x = F.pixel_unshuffle(x, p)
        x = self.conv_in(x)
        skips = []
        for i in range(levels):
            x = self.down_time[i](self.down_res[i](x, emb), frames)
            if i == levels - 1 and self.time_attn:
                x = self.time_attn[0](x, frames)
            skips.append(x)
            if i < levels - 1:
                x = self.downsample[i](x)
        x = self.mid_res1(x, emb)
        x = self.mid_space(x)
        x = self.mid_time(x, frames)
        if self.time_attn:
            x = self.time_attn[1](x, frames)
        x = self.mid_res2(x, emb)
        for i in reversed(range(levels)):
            x = self.up_time[i](self.up_res[i](torch.cat([x, skips.pop()], dim=1), emb), frames)
            if i > 0:
                x = self.upsample[i - 1](F.interpolate(x, scale_factor=2.0, mode="nearest"))
        x = self.conv_out(F.silu(self.norm_out(x)))
        if p > 1:
            x = F.pixel_shuffle(x, p)
        out = x.reshape(b, frames, -1, h, w)
        return Transformer2DModelOutput(sample=out) if return_dict else (out,)
