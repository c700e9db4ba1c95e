#!/usr/bin/env python3
"""PyTorch on the same GPU, for the side-by-side table of BENCHMARKS.md.

Times, in F16 on the GPU PyTorch sees: the heaviest ops of a guided SD 1.5 U-Net step (batch 2, 64x64 latents) at
their shapes, the same ones as jdiffusion's GpuOpBenchmark, and a whole U-Net forward. The U-Net is written out
here with plain torch modules in the layout of diffusers' UNet2DConditionModel for SD 1.5 (the same convolutions,
group norms, linear layers and scaled_dot_product_attention, in NCHW), with random weights: its time depends only
on the shapes. Each figure is the median of --runs after warm-up runs, timed with CUDA events.

Usage: python3 torch_side_by_side.py [--runs 20] [--compile]
"""
import argparse
import math
import statistics

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResnetBlock(nn.Module):
    def __init__(self, channels_in, channels_out, time_channels=1280):
        super().__init__()
        self.norm1 = nn.GroupNorm(32, channels_in, eps=1e-5)
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1)
        self.time_emb_proj = nn.Linear(time_channels, channels_out)
        self.norm2 = nn.GroupNorm(32, channels_out, eps=1e-5)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1)
        self.shortcut = nn.Conv2d(channels_in, channels_out, 1) if channels_in != channels_out else None

    def forward(self, x, time):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(time))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.shortcut is None else self.shortcut(x)) + h


class Attention(nn.Module):
    def __init__(self, width, heads, context_width=None):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(width, width, bias=False)
        self.to_k = nn.Linear(context_width or width, width, bias=False)
        self.to_v = nn.Linear(context_width or width, width, bias=False)
        self.to_out = nn.Linear(width, width)

    def forward(self, x, context=None):
        context = x if context is None else context
        batch, tokens, width = x.shape

        def split(t):
            return t.view(batch, -1, self.heads, width // self.heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(split(self.to_q(x)), split(self.to_k(context)), split(self.to_v(context)))
        return self.to_out(out.transpose(1, 2).reshape(batch, tokens, width))


class TransformerBlock(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn1 = Attention(width, heads)
        self.norm2 = nn.LayerNorm(width)
        self.attn2 = Attention(width, heads, 768)
        self.norm3 = nn.LayerNorm(width)
        self.ff_in = nn.Linear(width, 8 * width)
        self.ff_out = nn.Linear(4 * width, width)

    def forward(self, x, context):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        hidden, gate = self.ff_in(self.norm3(x)).chunk(2, dim=-1)
        return self.ff_out(hidden * F.gelu(gate)) + x


class Transformer2D(nn.Module):
    def __init__(self, channels, heads=8):
        super().__init__()
        self.norm = nn.GroupNorm(32, channels, eps=1e-6)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.block = TransformerBlock(channels, heads)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x, context):
        batch, channels, height, width = x.shape
        h = self.proj_in(self.norm(x)).permute(0, 2, 3, 1).reshape(batch, height * width, channels)
        h = self.block(h, context).reshape(batch, height, width, channels).permute(0, 3, 1, 2)
        return self.proj_out(h) + x


class UNet(nn.Module):
    """SD 1.5's U-Net: blocks of 320, 640, 1280 and 1280 channels, attention in the first three and the middle."""

    def __init__(self):
        super().__init__()
        widths = [320, 640, 1280, 1280]
        self.conv_in = nn.Conv2d(4, 320, 3, padding=1)
        self.time_1 = nn.Linear(320, 1280)
        self.time_2 = nn.Linear(1280, 1280)
        skips = [320]
        channels = 320
        self.down = nn.ModuleList()
        for level, width in enumerate(widths):
            layers = nn.ModuleList()
            for _ in range(2):
                layers.append(nn.ModuleList([ResnetBlock(channels, width), Transformer2D(width) if level < 3 else nn.Identity()]))
                channels = width
                skips.append(width)
            downsample = nn.Conv2d(width, width, 3, stride=2, padding=1) if level < 3 else nn.Identity()
            if level < 3:
                skips.append(width)
            self.down.append(nn.ModuleList([layers, downsample]))
        self.mid = nn.ModuleList([ResnetBlock(1280, 1280), Transformer2D(1280), ResnetBlock(1280, 1280)])
        self.up = nn.ModuleList()
        for level, width in enumerate(reversed(widths)):
            layers = nn.ModuleList()
            for _ in range(3):
                layers.append(nn.ModuleList([ResnetBlock(channels + skips.pop(), width), Transformer2D(width) if level > 0 else nn.Identity()]))
                channels = width
            upsample = nn.Conv2d(width, width, 3, padding=1) if level < 3 else nn.Identity()
            self.up.append(nn.ModuleList([layers, upsample]))
        self.norm_out = nn.GroupNorm(32, 320, eps=1e-5)
        self.conv_out = nn.Conv2d(320, 4, 3, padding=1)

    def forward(self, x, timestep, context):
        half = 160
        frequencies = torch.exp(-math.log(10000) * torch.arange(half, device=x.device, dtype=torch.float32) / half)
        angles = timestep.float()[:, None] * frequencies[None, :]
        embedding = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1).to(x.dtype)
        time = self.time_2(F.silu(self.time_1(embedding)))
        x = self.conv_in(x)
        skips = [x]
        for layers, downsample in self.down:
            for resnet, attention in layers:
                x = resnet(x, time)
                x = attention(x, context) if isinstance(attention, Transformer2D) else x
                skips.append(x)
            if isinstance(downsample, nn.Conv2d):
                x = downsample(x)
                skips.append(x)
        x = self.mid[2](self.mid[1](self.mid[0](x, time), context), time)
        for layers, upsample in self.up:
            for resnet, attention in layers:
                x = resnet(torch.cat([x, skips.pop()], dim=1), time)
                x = attention(x, context) if isinstance(attention, Transformer2D) else x
            if isinstance(upsample, nn.Conv2d):
                x = upsample(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(x)))


def median_ms(run, runs, warmups=3):
    for _ in range(warmups):
        run()
    times = []
    for _ in range(runs):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def ops(runs):
    """The U-Net step's heaviest ops at their shapes (batch 2, 64x64 latents), F16."""
    h = dict(device="cuda", dtype=torch.float16)
    rows = []
    for tokens, k, n in [(8192, 320, 320), (8192, 320, 2560), (2048, 640, 640), (2048, 640, 5120), (512, 1280, 1280),
                         (512, 1280, 10240)]:
        x, w, b = torch.randn(tokens, k, **h), torch.randn(n, k, **h) / k ** 0.5, torch.randn(n, **h)
        rows.append((f"linear {tokens}x{k} -> {n}", 2 * tokens * k * n, median_ms(lambda: F.linear(x, w, b), runs)))
    for size, c_in, c_out in [(64, 320, 320), (32, 640, 640), (16, 1280, 1280), (16, 2560, 1280)]:
        x = torch.randn(2, c_in, size, size, **h)
        w = torch.randn(c_out, c_in, 3, 3, **h) / (9 * c_in) ** 0.5
        b = torch.randn(c_out, **h)
        rows.append((f"conv3x3 2x{size}x{size}x{c_in} -> {c_out}", 2 * 2 * size * size * c_in * c_out * 9,
                     median_ms(lambda: F.conv2d(x, w, b, padding=1), runs)))
    for queries, keys, head in [(4096, 4096, 40), (4096, 77, 40), (1024, 1024, 80), (256, 256, 160)]:
        q = torch.randn(2, 8, queries, head, **h)
        k = torch.randn(2, 8, keys, head, **h)
        v = torch.randn(2, 8, keys, head, **h)
        rows.append((f"attention 2x{queries}x{keys}, 8 heads of {head}", 2 * 2 * 2 * 8 * queries * keys * head,
                     median_ms(lambda: F.scaled_dot_product_attention(q, k, v), runs)))
    return rows


def memory_bound(runs):
    """The norms, adds and GEGLU at the 64x64 level's sizes, F16 (the activations' type there): (name, bytes, ms)."""
    h = dict(device="cuda", dtype=torch.float16)
    image, other = torch.randn(2, 320, 64, 64, **h), torch.randn(2, 320, 64, 64, **h)
    gamma, beta = torch.randn(320, **h), torch.randn(320, **h)
    rows, wide = torch.randn(8192, 320, **h), torch.randn(8192, 2560, **h)
    image_bytes = image.numel() * image.element_size()

    def geglu():
        hidden, gate = wide.chunk(2, dim=-1)
        return hidden * F.gelu(gate)

    return [("groupNorm+silu 2x64x64x320, 32 groups", 2 * image_bytes,
             median_ms(lambda: F.silu(F.group_norm(image, 32, gamma, beta, 1e-5)), runs)),
            ("layerNorm 8192x320", 2 * image_bytes, median_ms(lambda: F.layer_norm(rows, (320,), gamma, beta), runs)),
            ("add 2x64x64x320", 3 * image_bytes, median_ms(lambda: image + other, runs)),
            ("geglu 8192x2560 -> 1280", 1.5 * wide.numel() * wide.element_size(), median_ms(geglu, runs))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--compile", action="store_true", help="also time the U-Net through torch.compile")
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"PyTorch {torch.__version__}, {torch.cuda.get_device_name()}, F16")
    print("| op | ms (median) | TFLOP/s |")
    print("|---|---:|---:|")
    for name, flop, ms in ops(args.runs):
        print(f"| {name} | {ms:.3f} | {flop / ms / 1e9:.0f} |")
    for name, size, ms in memory_bound(args.runs):
        print(f"| {name} | {ms:.3f} | {size / ms / 1e6:.0f} GB/s |")

    unet = UNet().to("cuda", torch.float16).eval()
    print(f"\nU-Net parameters: {sum(p.numel() for p in unet.parameters()) / 1e6:.2f} M (diffusers' SD 1.5 U-Net: 859.52 M)")
    latents = torch.randn(2, 4, 64, 64, device="cuda", dtype=torch.float16)
    timestep = torch.tensor([999, 999], device="cuda")
    context = torch.randn(2, 77, 768, device="cuda", dtype=torch.float16)
    print("\n| U-Net step, batch 2, 64x64 latent | ms (median) | steps/s |")
    print("|---|---:|---:|")
    with torch.inference_mode():
        eager = median_ms(lambda: unet(latents, timestep, context), args.runs)
        print(f"| eager | {eager:.2f} | {1e3 / eager:.1f} |")
        graph = torch.cuda.CUDAGraph()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                unet(latents, timestep, context)
        torch.cuda.current_stream().wait_stream(stream)
        with torch.cuda.graph(graph):
            unet(latents, timestep, context)
        replay = median_ms(graph.replay, args.runs)
        print(f"| eager, captured as a CUDA graph | {replay:.2f} | {1e3 / replay:.1f} |")
        if args.compile:
            compiled = torch.compile(unet)
            ms = median_ms(lambda: compiled(latents, timestep, context), args.runs, warmups=5)
            print(f"| torch.compile | {ms:.2f} | {1e3 / ms:.1f} |")
    print(f"device memory peak: {torch.cuda.max_memory_allocated() / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
