"""Time, peak memory and GFLOP/s of the within-clip temporal attention variants.

One temporal layer (attention + FFN, D = 256, 8 heads) on the stride-8/16/32 features of a
2 x 769 x 1345 clip (97x169, 49x85, 25x43), as in the paper's Tables 5 and 8. Variants:

  axial-trajectory   the method; stage 1 through the fused attention kernel
  axial-traj (mat.)  the same maths with materialised attention weights (as the reference code)
  divided            divided space-time attention (time, then space)
  joint              joint space-time attention over all T*H*W tokens (fused kernel)
  joint (mat.)       the same with materialised weights
  trajectory         full trajectory attention over all H*W positions (fused kernel)
  trajectory (mat.)  the same with materialised weights

Each measurement runs in a fresh subprocess: peak memory is the growth of the process's
maximum resident set (CPU) or `max_memory_allocated` (CUDA) over its state before the call.
A variant whose materialised attention alone would exceed --memory-limit-gb is reported as
N/A, as the paper does (Table 5). GFLOP/s come from `torch.utils.flop_counter` and are compared
with a plain fp32 matmul measured in the same run.

    python benchmarks/attention.py [--device cpu|cuda] [--repeats 3] [--backward]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time

import torch

SIZES = {"stride 32": (25, 43), "stride 16": (49, 85), "stride 8": (97, 169)}
VARIANTS = (
    "axial-trajectory",
    "axial-traj (mat.)",
    "divided",
    "joint",
    "joint (mat.)",
    "trajectory",
    "trajectory (mat.)",
)
T, D, HEADS = 2, 256, 8


def make_layer(variant: str) -> torch.nn.Module:
    from models.layers.space_time import make_temporal_layer

    kind = {"axial": "axial_trajectory", "divid": "divided", "joint": "joint"}.get(
        variant[:5], "trajectory"
    )
    return make_temporal_layer(kind, D, HEADS, 1024, 0.0)


def materialised_bytes(variant: str, h: int, w: int) -> int:
    """fp32 bytes of the attention-weight tensor a materialised variant creates."""
    n = T * h * w
    if variant == "joint (mat.)":
        return 4 * HEADS * n * n
    if variant == "trajectory (mat.)":
        return 4 * HEADS * n * n  # (T*H*W) x T x (H*W) = n^2
    if variant == "axial-traj (mat.)":
        return 4 * HEADS * max(w * (T * h) ** 2, h * (T * w) ** 2)
    return 0


def run(layer: torch.nn.Module, variant: str, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    if variant in ("axial-traj (mat.)", "trajectory (mat.)"):
        return layer(x, pos, need_weights=True)[0]
    if variant == "joint (mat.)":
        b, t, h, w, c = x.shape
        a = layer.attn
        xs = x.reshape(b, t * h * w, c)
        qk = xs + pos.reshape(b, t * h * w, c)

        def split(z):
            return z.view(b, -1, HEADS, c // HEADS).transpose(1, 2)

        q, k, v = split(a.q(qk)), split(a.k(qk)), split(a.v(xs))
        weights = (q @ k.transpose(-1, -2) * (c // HEADS) ** -0.5).softmax(-1)
        out = a.proj((weights @ v).transpose(1, 2).reshape(b, -1, c))
        return layer.finish(x + out.view(b, t, h, w, c))
    return layer(x, pos)[0]


def measure(variant: str, level: str, device: str, repeats: int, backward: bool) -> dict:
    """Runs inside the child process."""
    torch.manual_seed(0)
    h, w = SIZES[level]
    layer = make_layer(variant).to(device)
    x = torch.randn(1, T, h, w, D, device=device, requires_grad=backward)
    pos = torch.randn(1, T, h, w, D, device=device)
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        meta_layer = make_layer(variant)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            run(meta_layer, variant, torch.empty(1, T, h, w, D), torch.empty(1, T, h, w, D))
    flops = counter.get_total_flops() * (3 if backward else 1)

    def step() -> None:
        if backward:
            run(layer, variant, x, pos).sum().backward()
        else:
            with torch.no_grad():
                run(layer, variant, x, pos)
        if device == "cuda":
            torch.cuda.synchronize()

    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    if device == "cuda":
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    best = min(times)
    return {
        "seconds": best,
        "peak_bytes": max(peak, 0),
        "gflops": flops / 1e9,
        "gflop_per_s": flops / 1e9 / best,
    }


def matmul_gflops(device: str) -> float:
    n = 2048
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--backward", action="store_true", help="time forward + backward")
    ap.add_argument("--memory-limit-gb", type=float, default=16.0)
    ap.add_argument("--levels", default=",".join(SIZES))
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        result = measure(args.child[0], args.child[1], args.device, args.repeats, args.backward)
        print(json.dumps(result))
        return

    machine = (
        torch.cuda.get_device_name()
        if args.device == "cuda"
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    print(
        f"# temporal attention, clip {T} x 769 x 1345, D={D}, {HEADS} heads, {args.device} "
        f"({machine}), torch {torch.__version__}, {'fwd+bwd' if args.backward else 'forward'}"
    )
    mm = matmul_gflops(args.device)
    print(f"# plain fp32 matmul 2048^3: {mm:.1f} GFLOP/s")
    print("| level | variant | time (s) | peak memory (MiB) | GFLOP | GFLOP/s | vs matmul |")
    print("|---|---|---:|---:|---:|---:|---:|")
    limit = args.memory_limit_gb * 2**30
    for level in args.levels.split(","):
        h, w = SIZES[level]
        for variant in args.variants.split(","):
            need = materialised_bytes(variant, h, w)
            label = f"| {level} ({h}x{w}) | {variant} |"
            if need > limit:
                print(
                    f"{label} N/A | N/A (weights alone {need / 2**30:.0f} GiB) | | | |", flush=True
                )
                continue
            cmd = [
                sys.executable,
                __file__,
                "--device",
                args.device,
                "--repeats",
                str(args.repeats),
                "--child",
                variant,
                level,
            ]
            if args.backward:
                cmd.append("--backward")
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                reason = "out of memory" if "memory" in proc.stderr.lower() else "failed"
                print(f"{label} N/A | N/A ({reason}) | | | |", flush=True)
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(
                f"{label} {r['seconds']:.3f} | {r['peak_bytes'] / 2**20:.0f} | "
                f"{r['gflops']:.1f} | {r['gflop_per_s']:.1f} | {r['gflop_per_s'] / mm:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
