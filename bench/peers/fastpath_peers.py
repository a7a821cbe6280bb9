#!/usr/bin/env python3
"""fastpath's peer harness: the same operation, on the same inputs, in numpy, PyTorch (CPU,
CUDA, MPS), MLX (CPU, GPU) and CuPy — whichever are importable — timed properly.

`fastpath bench --compare numpy,torch,mlx,cupy` writes a plan (JSON: cases with their .npy
inputs and parameters) and runs

    python3 fastpath_peers.py run --plan PLAN.json --out RESULT.json

Cases that carry fastpath's own outputs are *checks*: the peer's result is compared with
fastpath's, so a ratio is only reported for an operation that computes the same thing.

    python3 fastpath_peers.py list [--markdown]

prints the mapping table (kernel -> peer call). Only numpy is required (to load the shared
inputs); every other library is optional and reported as missing when it cannot be imported.

Timing: warm-up first, then repetitions until a count or a time budget is reached, rotating
between copies of the inputs so repeated runs do not measure a cache. CPU peers are timed with
time.perf_counter around the call; CUDA peers with CUDA events around the call (device time,
comparable with fastpath's GPU timestamps) plus a synchronized wall time; MPS and MLX by
synchronizing (torch.mps.synchronize / mx.eval) inside the timed region.
"""

import argparse
import json
import math
import operator
import os
import platform
import sys
import time
import traceback

try:
    import numpy as np
except ImportError:  # reported to fastpath as "every peer missing"
    np = None

# ---------------------------------------------------------------------------------------------
# The mapping table: kernel id -> library -> (call as written in reports, function).
#
# Each function takes (module, inputs, params) and returns the kernel's outputs in contract
# order (a tuple when the kernel has several). "numpy" entries also serve CuPy (same API) unless
# a "cupy" entry exists. A library absent from a kernel's entry has no equivalent operation;
# the report says so rather than timing something different.
# ---------------------------------------------------------------------------------------------

COMPARE = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
    "eq": operator.eq,
    "ne": operator.ne,
}
GELU_C = 0.7978845608


def _np_scan_exclusive(xp, x):
    out = xp.empty_like(x)
    out[:1] = 0
    xp.cumsum(x[:-1], dtype=x.dtype, out=out[1:])
    return out


def _np_topk(xp, x, k):
    idx = xp.sort(xp.argpartition(x, x.size - k)[x.size - k :])  # k largest, ascending index
    order = xp.argsort(-x[idx], kind="stable")  # descending value, ties by ascending index
    return x[idx[order]], idx[order].astype(xp.uint32)


def _np_argext(xp, x, fn):
    i = fn(x)
    return x[i], xp.uint32(i) if xp is np else i.astype(xp.uint32)


def _np_compact(x, keep):
    y = x[keep]
    return y, np.uint32(y.size) if isinstance(y, np.ndarray) else y.size


def _torch_compact(t, x, keep):
    y = x[keep]
    return y, y.numel()


def _mlx_topk(mx, x, k):
    idx = mx.argpartition(-x, kth=k - 1)[:k]
    order = mx.argsort(-x[idx])
    idx = idx[order]
    return x[idx], idx


def _mlx_order_stat(mx, x, q):
    s = mx.sort(x)
    h = (x.size - 1) * q
    lo = int(math.floor(h))
    hi = min(lo + 1, x.size - 1)
    return s[lo] + (h - lo) * (s[hi] - s[lo])


def _tf(t):
    return t.nn.functional


MAPPING = {
    # reductions
    "REDUCE_SUM": {
        "numpy": ("np.sum(x)", lambda xp, a, p: xp.sum(a[0])),
        "torch": ("torch.sum(x)", lambda t, a, p: t.sum(a[0])),
        "mlx": ("mx.sum(x)", lambda mx, a, p: mx.sum(a[0])),
    },
    "REDUCE_MEAN": {
        "numpy": ("np.mean(x)", lambda xp, a, p: xp.mean(a[0])),
        "torch": ("torch.mean(x)", lambda t, a, p: t.mean(a[0])),
        "mlx": ("mx.mean(x)", lambda mx, a, p: mx.mean(a[0])),
    },
    "REDUCE_MIN": {
        "numpy": ("np.min(x)", lambda xp, a, p: xp.min(a[0])),
        "torch": ("torch.min(x)", lambda t, a, p: t.min(a[0])),
        "mlx": ("mx.min(x)", lambda mx, a, p: mx.min(a[0])),
    },
    "REDUCE_MAX": {
        "numpy": ("np.max(x)", lambda xp, a, p: xp.max(a[0])),
        "torch": ("torch.max(x)", lambda t, a, p: t.max(a[0])),
        "mlx": ("mx.max(x)", lambda mx, a, p: mx.max(a[0])),
    },
    "REDUCE_L2": {
        "numpy": ("np.linalg.norm(x)", lambda xp, a, p: xp.linalg.norm(a[0])),
        "torch": ("torch.linalg.vector_norm(x)", lambda t, a, p: t.linalg.vector_norm(a[0])),
        "mlx": ("mx.linalg.norm(x)", lambda mx, a, p: mx.linalg.norm(a[0])),
    },
    "REDUCE_VAR": {
        "numpy": ("np.var(x, ddof=ddof)", lambda xp, a, p: xp.var(a[0], ddof=p["ddof"])),
        "torch": (
            "torch.var(x, correction=ddof)",
            lambda t, a, p: t.var(a[0], correction=p["ddof"]),
        ),
        "mlx": ("mx.var(x, ddof=ddof)", lambda mx, a, p: mx.var(a[0], ddof=p["ddof"])),
    },
    "REDUCE_STDDEV": {
        "numpy": ("np.std(x, ddof=ddof)", lambda xp, a, p: xp.std(a[0], ddof=p["ddof"])),
        "torch": (
            "torch.std(x, correction=ddof)",
            lambda t, a, p: t.std(a[0], correction=p["ddof"]),
        ),
        "mlx": ("mx.std(x, ddof=ddof)", lambda mx, a, p: mx.std(a[0], ddof=p["ddof"])),
    },
    "REDUCE_HISTOGRAM": {
        "numpy": (
            "np.histogram(x, bins=256, range=(min_val, max_val))[0]",
            lambda xp, a, p: xp.histogram(a[0], bins=256, range=(p["min_val"], p["max_val"]))[0],
        ),
        "torch": (
            "torch.histc(x, bins=256, min=min_val, max=max_val)",
            lambda t, a, p: t.histc(a[0], bins=256, min=p["min_val"], max=p["max_val"]),
        ),
    },
    "REDUCE_ARGMAX": {
        "numpy": ("i = np.argmax(x); (x[i], i)", lambda xp, a, p: _np_argext(xp, a[0], xp.argmax)),
        "torch": ("torch.max(x, dim=0)", lambda t, a, p: tuple(t.max(a[0], dim=0))),
        "mlx": ("i = mx.argmax(x); (x[i], i)", lambda mx, a, p: (lambda i: (a[0][i], i))(mx.argmax(a[0]))),
    },
    "REDUCE_ARGMIN": {
        "numpy": ("i = np.argmin(x); (x[i], i)", lambda xp, a, p: _np_argext(xp, a[0], xp.argmin)),
        "torch": ("torch.min(x, dim=0)", lambda t, a, p: tuple(t.min(a[0], dim=0))),
        "mlx": ("i = mx.argmin(x); (x[i], i)", lambda mx, a, p: (lambda i: (a[0][i], i))(mx.argmin(a[0]))),
    },
    # elementwise_unary
    "MAP_EXP": {
        "numpy": ("np.exp(x)", lambda xp, a, p: xp.exp(a[0])),
        "torch": ("torch.exp(x)", lambda t, a, p: t.exp(a[0])),
        "mlx": ("mx.exp(x)", lambda mx, a, p: mx.exp(a[0])),
    },
    "MAP_LOG": {
        "numpy": ("np.log(x)", lambda xp, a, p: xp.log(a[0])),
        "torch": ("torch.log(x)", lambda t, a, p: t.log(a[0])),
        "mlx": ("mx.log(x)", lambda mx, a, p: mx.log(a[0])),
    },
    "MAP_SIGMOID": {
        "numpy": ("1 / (1 + np.exp(-x))", lambda xp, a, p: 1 / (1 + xp.exp(-a[0]))),
        "torch": ("torch.sigmoid(x)", lambda t, a, p: t.sigmoid(a[0])),
        "mlx": ("mx.sigmoid(x)", lambda mx, a, p: mx.sigmoid(a[0])),
    },
    "MAP_TANH": {
        "numpy": ("np.tanh(x)", lambda xp, a, p: xp.tanh(a[0])),
        "torch": ("torch.tanh(x)", lambda t, a, p: t.tanh(a[0])),
        "mlx": ("mx.tanh(x)", lambda mx, a, p: mx.tanh(a[0])),
    },
    "MAP_SOFTPLUS": {
        "numpy": ("np.logaddexp(0, x)", lambda xp, a, p: xp.logaddexp(a[0].dtype.type(0), a[0])),
        "torch": ("F.softplus(x)", lambda t, a, p: _tf(t).softplus(a[0])),
        "mlx": ("nn.softplus(x)", lambda mx, a, p: _mlx_nn().softplus(a[0])),
    },
    "MAP_CLAMP": {
        "numpy": ("np.clip(x, lo, hi)", lambda xp, a, p: xp.clip(a[0], p["lo"], p["hi"])),
        "torch": ("torch.clamp(x, lo, hi)", lambda t, a, p: t.clamp(a[0], p["lo"], p["hi"])),
        "mlx": ("mx.clip(x, lo, hi)", lambda mx, a, p: mx.clip(a[0], p["lo"], p["hi"])),
    },
    "MAP_ABS": {
        "numpy": ("np.abs(x)", lambda xp, a, p: xp.abs(a[0])),
        "torch": ("torch.abs(x)", lambda t, a, p: t.abs(a[0])),
        "mlx": ("mx.abs(x)", lambda mx, a, p: mx.abs(a[0])),
    },
    # activations
    "MAP_RELU": {
        "numpy": ("np.maximum(x, 0)", lambda xp, a, p: xp.maximum(a[0], a[0].dtype.type(0))),
        "torch": ("torch.relu(x)", lambda t, a, p: t.relu(a[0])),
        "mlx": ("nn.relu(x)", lambda mx, a, p: _mlx_nn().relu(a[0])),
    },
    "MAP_LEAKY_RELU": {
        "numpy": (
            "np.where(x > 0, x, alpha * x)",
            lambda xp, a, p: xp.where(a[0] > 0, a[0], a[0].dtype.type(p["alpha"]) * a[0]),
        ),
        "torch": ("F.leaky_relu(x, alpha)", lambda t, a, p: _tf(t).leaky_relu(a[0], p["alpha"])),
        "mlx": ("nn.leaky_relu(x, alpha)", lambda mx, a, p: _mlx_nn().leaky_relu(a[0], p["alpha"])),
    },
    "MAP_ELU": {
        "numpy": (
            "np.where(x > 0, x, alpha * np.expm1(x))",
            lambda xp, a, p: xp.where(a[0] > 0, a[0], a[0].dtype.type(p["alpha"]) * xp.expm1(a[0])),
        ),
        "torch": ("F.elu(x, alpha)", lambda t, a, p: _tf(t).elu(a[0], p["alpha"])),
        "mlx": ("nn.elu(x, alpha)", lambda mx, a, p: _mlx_nn().elu(a[0], p["alpha"])),
    },
    "MAP_GELU": {
        "numpy": (
            "0.5*x*(1 + np.tanh(0.7978845608*(x + 0.044715*x**3)))",
            lambda xp, a, p: 0.5 * a[0] * (1 + xp.tanh(GELU_C * (a[0] + 0.044715 * a[0] ** 3))),
        ),
        "torch": ("F.gelu(x, approximate='tanh')", lambda t, a, p: _tf(t).gelu(a[0], approximate="tanh")),
        "mlx": ("nn.gelu_approx(x)", lambda mx, a, p: _mlx_nn().gelu_approx(a[0])),
    },
    "MAP_SILU": {
        "numpy": ("x / (1 + np.exp(-x))", lambda xp, a, p: a[0] / (1 + xp.exp(-a[0]))),
        "torch": ("F.silu(x)", lambda t, a, p: _tf(t).silu(a[0])),
        "mlx": ("nn.silu(x)", lambda mx, a, p: _mlx_nn().silu(a[0])),
    },
    "MAP_MISH": {
        "numpy": (
            "x * np.tanh(np.logaddexp(0, x))",
            lambda xp, a, p: a[0] * xp.tanh(xp.logaddexp(a[0].dtype.type(0), a[0])),
        ),
        "torch": ("F.mish(x)", lambda t, a, p: _tf(t).mish(a[0])),
        "mlx": ("nn.mish(x)", lambda mx, a, p: _mlx_nn().mish(a[0])),
    },
    # elementwise_binary
    "MAP_ADD": {
        "numpy": ("a + b", lambda xp, a, p: a[0] + a[1]),
        "torch": ("torch.add(a, b)", lambda t, a, p: t.add(a[0], a[1])),
        "mlx": ("mx.add(a, b)", lambda mx, a, p: mx.add(a[0], a[1])),
    },
    "MAP_MUL": {
        "numpy": ("a * b", lambda xp, a, p: a[0] * a[1]),
        "torch": ("torch.mul(a, b)", lambda t, a, p: t.mul(a[0], a[1])),
        "mlx": ("mx.multiply(a, b)", lambda mx, a, p: mx.multiply(a[0], a[1])),
    },
    "MAP_DIV": {
        "numpy": ("a / b", lambda xp, a, p: a[0] / a[1]),
        "torch": ("torch.div(a, b)", lambda t, a, p: t.div(a[0], a[1])),
        "mlx": ("mx.divide(a, b)", lambda mx, a, p: mx.divide(a[0], a[1])),
    },
    "MAP_FMA": {
        "numpy": ("a * b + c", lambda xp, a, p: a[0] * a[1] + a[2]),
        "torch": ("torch.addcmul(c, a, b)", lambda t, a, p: t.addcmul(a[2], a[0], a[1])),
        "mlx": ("a * b + c", lambda mx, a, p: a[0] * a[1] + a[2]),
    },
    "MAP_COMPARE": {
        "numpy": (
            "(a op b).astype(np.uint32)",
            lambda xp, a, p: COMPARE[p["op"]](a[0], a[1]).astype(xp.uint32),
        ),
        "torch": ("(a op b).to(torch.int32)", lambda t, a, p: COMPARE[p["op"]](a[0], a[1]).to(t.int32)),
        "mlx": ("(a op b).astype(mx.uint32)", lambda mx, a, p: COMPARE[p["op"]](a[0], a[1]).astype(mx.uint32)),
    },
    # fused_map_reduce
    "MAP_REDUCE_SQUARE_SUM": {
        "numpy": ("np.dot(x, x)", lambda xp, a, p: xp.dot(a[0], a[0])),
        "torch": ("torch.dot(x, x)", lambda t, a, p: t.dot(a[0], a[0])),
        "mlx": ("mx.inner(x, x)", lambda mx, a, p: mx.inner(a[0], a[0])),
    },
    "MAP_REDUCE_ABS_SUM": {
        "numpy": ("np.sum(np.abs(x))", lambda xp, a, p: xp.sum(xp.abs(a[0]))),
        "torch": ("torch.linalg.vector_norm(x, ord=1)", lambda t, a, p: t.linalg.vector_norm(a[0], ord=1)),
        "mlx": ("mx.sum(mx.abs(x))", lambda mx, a, p: mx.sum(mx.abs(a[0]))),
    },
    "MAP_REDUCE_MASKED_SUM": {
        "numpy": ("np.sum(x, where=mask != 0)", lambda xp, a, p: xp.sum(a[0], where=a[1] != 0)),
        "cupy": ("cp.sum(cp.where(mask != 0, x, 0))", lambda xp, a, p: xp.sum(xp.where(a[1] != 0, a[0], 0))),
        "torch": ("torch.sum(torch.where(mask != 0, x, 0))", lambda t, a, p: t.sum(t.where(a[1] != 0, a[0], 0.0))),
        "mlx": ("mx.sum(mx.where(mask != 0, x, 0))", lambda mx, a, p: mx.sum(mx.where(a[1] != 0, a[0], 0.0))),
    },
    "MAP_REDUCE_THRESHOLD_COUNT": {
        "numpy": ("np.count_nonzero(x > threshold)", lambda xp, a, p: xp.count_nonzero(a[0] > p["threshold"])),
        "torch": ("torch.count_nonzero(x > threshold)", lambda t, a, p: t.count_nonzero(a[0] > p["threshold"])),
        "mlx": ("mx.sum(x > threshold)", lambda mx, a, p: mx.sum(a[0] > p["threshold"])),
    },
    # scans (u32 data: torch gets an int32 view, which wraps modulo 2^32 the same way)
    "SCAN_INCLUSIVE": {
        "numpy": ("np.cumsum(x, dtype=np.uint32)", lambda xp, a, p: xp.cumsum(a[0], dtype=a[0].dtype)),
        "torch": ("torch.cumsum(x, 0, dtype=torch.int32)", lambda t, a, p: t.cumsum(a[0], 0, dtype=t.int32)),
        "mlx": ("mx.cumsum(x)", lambda mx, a, p: mx.cumsum(a[0])),
    },
    "SCAN_EXCLUSIVE": {
        "numpy": ("out[0] = 0; np.cumsum(x[:-1], out=out[1:])", lambda xp, a, p: _np_scan_exclusive(xp, a[0])),
        "torch": ("torch.cumsum(x, 0) - x", lambda t, a, p: t.cumsum(a[0], 0, dtype=t.int32) - a[0]),
        "mlx": ("mx.cumsum(x, inclusive=False)", lambda mx, a, p: mx.cumsum(a[0], inclusive=False)),
    },
    # compaction (MLX has no operation with a data-dependent output size)
    "COMPACT_IF": {
        "numpy": ("x[x op threshold]", lambda xp, a, p: _np_compact(a[0], COMPARE[p["op"]](a[0], p["threshold"]))),
        "torch": ("x[x op threshold]", lambda t, a, p: _torch_compact(t, a[0], COMPARE[p["op"]](a[0], p["threshold"]))),
    },
    "COMPACT_MASK": {
        "numpy": ("x[mask != 0]", lambda xp, a, p: _np_compact(a[0], a[1] != 0)),
        "torch": ("x[mask != 0]", lambda t, a, p: _torch_compact(t, a[0], a[1] != 0)),
    },
    # statistics_sorting
    "TOPK_SELECT": {
        "numpy": ("argpartition + argsort (numpy has no top-k)", lambda xp, a, p: _np_topk(xp, a[0], p["k"])),
        "torch": ("torch.topk(x, k)", lambda t, a, p: tuple(t.topk(a[0], p["k"]))),
        "mlx": ("mx.argpartition + mx.argsort", lambda mx, a, p: _mlx_topk(mx, a[0], p["k"])),
    },
    "SORT_RADIX": {
        "numpy": ("np.sort(keys, kind='stable')", lambda xp, a, p: xp.sort(a[0], kind="stable")),
        "cupy": ("cp.sort(keys)", lambda xp, a, p: xp.sort(a[0])),
        # torch lacks unsigned 32-bit sorting: the keys are flipped to order-preserving int32.
        "torch": ("torch.sort(keys ^ 0x80000000 as int32, stable=True)", lambda t, a, p: t.sort(a[0], stable=True)[0]),
        "mlx": ("mx.sort(keys)", lambda mx, a, p: mx.sort(a[0])),
    },
    "SORT_BITONIC": {
        "numpy": ("np.sort(x)", lambda xp, a, p: xp.sort(a[0])),
        "torch": ("torch.sort(x).values", lambda t, a, p: t.sort(a[0])[0]),
        "mlx": ("mx.sort(x)", lambda mx, a, p: mx.sort(a[0])),
    },
    "SORT_BITONIC_KV": {
        "numpy": ("i = np.argsort(keys); (keys[i], values[i])", lambda xp, a, p: (lambda i: (a[0][i], a[1][i]))(xp.argsort(a[0]))),
        "torch": ("k, i = torch.sort(keys); (k, values[i])", lambda t, a, p: (lambda s: (s[0], a[1][s[1]]))(t.sort(a[0]))),
        "mlx": ("i = mx.argsort(keys); (keys[i], values[i])", lambda mx, a, p: (lambda i: (a[0][i], a[1][i]))(mx.argsort(a[0]))),
    },
    "MEDIAN_SELECT": {
        "numpy": ("np.median(x)", lambda xp, a, p: xp.median(a[0])),
        # torch.median returns the lower middle element for even n (same work, other value);
        # torch.quantile refuses more than 2^24 elements.
        "torch": ("torch.median(x) (lower median)", lambda t, a, p: t.median(a[0])),
        "mlx": ("mx.sort + interpolation (MLX has no median)", lambda mx, a, p: _mlx_order_stat(mx, a[0], 0.5)),
    },
    "PERCENTILE_SELECT": {
        "numpy": ("np.percentile(x, p)", lambda xp, a, p: xp.percentile(a[0], p["p"])),
        "torch": ("torch.quantile(x, p / 100) (n <= 2^24)", lambda t, a, p: t.quantile(a[0], p["p"] / 100.0)),
        "mlx": ("mx.sort + interpolation (MLX has no percentile)", lambda mx, a, p: _mlx_order_stat(mx, a[0], p["p"] / 100.0)),
    },
}

# Timing comparisons where the peer's answer legitimately differs from the contract's: the
# check is skipped for these (library, kernel) pairs and the report says why.
KNOWN_DIFFERENT = {
    ("torch", "MEDIAN_SELECT"): "torch.median returns the lower median for even n",
    ("torch", "SORT_RADIX"): "keys are compared as flipped int32",
    ("torch", "SCAN_EXCLUSIVE"): "int32 view of u32 data",
    ("torch", "SCAN_INCLUSIVE"): "int32 view of u32 data",
}

_MLX_NN = None


def _mlx_nn():
    global _MLX_NN
    if _MLX_NN is None:
        import mlx.nn as nn

        _MLX_NN = nn
    return _MLX_NN


def entry_for(kernel, library):
    entry = MAPPING.get(kernel, {})
    if library == "cupy" and "cupy" not in entry and "numpy" in entry:
        call, fn = entry["numpy"]
        return call.replace("np.", "cp."), fn
    return entry.get(library)


# ---------------------------------------------------------------------------------------------
# Peers: one per (library, device).
# ---------------------------------------------------------------------------------------------


class Peer:
    """A library on one device: moves arrays there and back, and times calls."""

    name = library = kind = device = timer = version = ""

    def module(self):
        raise NotImplementedError

    def put(self, array, kernel):
        raise NotImplementedError

    def get(self, value):
        """Device result -> numpy array."""
        raise NotImplementedError

    def block(self, result):
        """Wait until `result` is computed."""

    def time_once(self, fn, args):
        """Returns (primary seconds, wall seconds)."""
        t0 = time.perf_counter()
        result = fn(args)
        self.block(result)
        t = time.perf_counter() - t0
        return t, t

    def release(self):
        """Frees cached device memory between sizes."""


class NumpyPeer(Peer):
    def __init__(self):
        self.name = self.library = "numpy"
        self.kind, self.device, self.timer = "cpu", "cpu", "perf_counter"
        self.version = np.__version__

    def module(self):
        return np

    def put(self, array, kernel):
        return array.copy()

    def get(self, value):
        return np.asarray(value)


class CupyPeer(Peer):
    def __init__(self, cp):
        self.cp = cp
        self.name = self.library = "cupy"
        self.kind, self.timer = "gpu", "cuda-events"
        self.device = cp.cuda.runtime.getDeviceProperties(0)["name"].decode()
        self.version = cp.__version__

    def module(self):
        return self.cp

    def put(self, array, kernel):
        return self.cp.asarray(array)

    def get(self, value):
        return self.cp.asnumpy(value) if hasattr(value, "device") else np.asarray(value)

    def time_once(self, fn, args):
        cp = self.cp
        cp.cuda.Device().synchronize()
        start, end = cp.cuda.Event(), cp.cuda.Event()
        t0 = time.perf_counter()
        start.record()
        fn(args)
        end.record()
        end.synchronize()
        wall = time.perf_counter() - t0
        return cp.cuda.get_elapsed_time(start, end) / 1e3, wall

    def release(self):
        self.cp.get_default_memory_pool().free_all_blocks()


class TorchPeer(Peer):
    def __init__(self, torch, device):
        self.t = torch
        self.library = "torch"
        self.name = f"torch-{device}"
        self.kind = "cpu" if device == "cpu" else "gpu"
        self.dev = torch.device(device)
        self.timer = {"cpu": "perf_counter", "cuda": "cuda-events", "mps": "perf_counter+synchronize"}[device]
        self.device = torch.cuda.get_device_name(0) if device == "cuda" else device
        self.version = torch.__version__

    def module(self):
        return self.t

    def put(self, array, kernel):
        if array.dtype == np.uint32:
            # torch's uint32 support is partial; an int32 view keeps the bits (sorting flips the
            # sign bit so signed order equals unsigned order).
            if kernel == "SORT_RADIX":
                array = array ^ np.uint32(0x80000000)
            array = array.view(np.int32)
        tensor = self.t.from_numpy(np.ascontiguousarray(array))
        # `.to("cpu")` of a CPU tensor is the tensor itself: without the clone every rotated
        # copy of an input would share the loaded array's memory and sit in cache, while
        # fastpath and the other peers read fresh copies.
        return tensor.clone() if self.dev.type == "cpu" else tensor.to(self.dev)

    def get(self, value):
        if isinstance(value, (int, float)):
            return np.asarray(value)
        out = value.detach().cpu().numpy()
        return out.view(np.uint32) if out.dtype == np.int32 else out

    def block(self, result):
        if self.dev.type == "mps":
            self.t.mps.synchronize()

    def time_once(self, fn, args):
        if self.dev.type != "cuda":
            return Peer.time_once(self, fn, args)
        cuda = self.t.cuda
        cuda.synchronize()
        start, end = cuda.Event(enable_timing=True), cuda.Event(enable_timing=True)
        t0 = time.perf_counter()
        start.record()
        fn(args)
        end.record()
        end.synchronize()
        wall = time.perf_counter() - t0
        return start.elapsed_time(end) / 1e3, wall

    def release(self):
        if self.dev.type == "cuda":
            self.t.cuda.empty_cache()


class MlxPeer(Peer):
    def __init__(self, mx, device):
        self.mx = mx
        self.library = "mlx"
        self.name = f"mlx-{device}"
        self.kind = device
        self.dev = mx.cpu if device == "cpu" else mx.gpu
        self.device = device
        self.timer = "perf_counter+mx.eval"
        self.version = getattr(mx, "__version__", "?")

    def module(self):
        self.mx.set_default_device(self.dev)
        return self.mx

    def put(self, array, kernel):
        self.mx.set_default_device(self.dev)
        a = self.mx.array(array)
        self.mx.eval(a)
        return a

    def get(self, value):
        return np.array(value)

    def block(self, result):
        if isinstance(result, tuple):
            self.mx.eval(*result)
        else:
            self.mx.eval(result)


def discover(requested, devices=("cpu", "gpu")):
    """Returns (peers, missing) for the requested libraries, keeping only peers that run on one
    of `devices` ("cpu", "gpu")."""
    peers, missing = _discover_all(requested)
    return [p for p in peers if p.kind in devices], missing


def _discover_all(requested):
    peers, missing = [], []
    for lib in requested:
        try:
            if lib == "numpy":
                peers.append(NumpyPeer())
            elif lib == "torch":
                import torch

                peers.append(TorchPeer(torch, "cpu"))
                if torch.cuda.is_available():
                    peers.append(TorchPeer(torch, "cuda"))
                else:
                    missing.append({"name": "torch-cuda", "reason": "torch.cuda.is_available() is False"})
                mps = getattr(torch.backends, "mps", None)
                if mps is not None and mps.is_available():
                    peers.append(TorchPeer(torch, "mps"))
                elif sys.platform == "darwin":
                    missing.append({"name": "torch-mps", "reason": "torch.backends.mps.is_available() is False"})
            elif lib == "mlx":
                import mlx.core as mx

                peers.append(MlxPeer(mx, "cpu"))
                has_gpu = mx.is_available(mx.gpu) if hasattr(mx, "is_available") else mx.metal.is_available()
                if has_gpu:
                    peers.append(MlxPeer(mx, "gpu"))
                else:
                    missing.append({"name": "mlx-gpu", "reason": "MLX has no GPU backend here (mx.gpu unavailable)"})
            elif lib == "cupy":
                import cupy

                if cupy.cuda.runtime.getDeviceCount() < 1:
                    raise RuntimeError("no CUDA device")
                peers.append(CupyPeer(cupy))
            else:
                missing.append({"name": lib, "reason": "unknown peer (known: numpy, torch, mlx, cupy)"})
        except Exception as e:  # ImportError, CUDA driver errors, ...
            missing.append({"name": lib, "reason": one_line(e)})
    return peers, missing


def one_line(e):
    text = f"{type(e).__name__}: {e}" if not isinstance(e, str) else e
    return " ".join(text.split())[:300]


# ---------------------------------------------------------------------------------------------
# Timing and checking
# ---------------------------------------------------------------------------------------------


def summarize(samples):
    s = np.sort(np.asarray(samples, dtype=np.float64))
    q = lambda p: float(np.percentile(s, p))
    return {"reps": int(s.size), "min": float(s[0]), "p25": q(25), "median": q(50), "p75": q(75), "max": float(s[-1])}


def repeat(policy, step):
    start = time.perf_counter()
    rep = 0
    while rep < policy["warmup_runs"] or time.perf_counter() - start < policy["warmup_seconds"]:
        step(rep)
        rep += 1
        if time.perf_counter() - start > max(policy["budget_seconds"] or 0.5, 0.5):
            break
    samples, walls = [], []
    t0 = time.perf_counter()
    budget = policy["budget_seconds"]
    while len(samples) < policy["max_reps"]:
        if len(samples) >= policy["min_reps"] and budget is not None and time.perf_counter() - t0 >= budget:
            break
        primary, wall = step(rep)
        samples.append(primary)
        walls.append(wall)
        rep += 1
    return samples, walls


def flatten(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


def compare_outputs(kernel, case, got, expected_paths, inputs):
    """Compares a peer's outputs with fastpath's; returns (ok, message)."""
    expected = [np.load(p) for p in expected_paths]
    if len(got) != len(expected):
        return False, f"{len(got)} outputs, fastpath has {len(expected)}"
    prefix = None
    vp = case.get("valid_prefix")
    if vp is not None:
        prefix = int(np.asarray(expected[vp]).reshape(-1)[0])
    scale = float(sum(np.abs(a.astype(np.float64)).sum() for a in inputs if a.dtype.kind == "f")) or 1.0
    for i, (g, e) in enumerate(zip(got, expected)):
        g = np.asarray(g).reshape(e.shape) if np.asarray(g).size == e.size else np.asarray(g)
        if prefix is not None and e.ndim == 1 and e.size == inputs[0].size:
            g, e = g[:prefix], e[:prefix]
        if g.shape != e.shape:
            return False, f"output {i}: shape {g.shape}, fastpath {e.shape}"
        if kernel == "SORT_BITONIC_KV" and i == 1:
            # Values of equal keys may come in any order: compare the (key, value) pairs.
            gk, ek = np.asarray(got[0]).reshape(-1), expected[0].reshape(-1)
            go, eo = np.lexsort((g, gk)), np.lexsort((e, ek))
            if not (np.array_equal(g[go], e[eo]) and np.array_equal(gk[go], ek[eo])):
                return False, "(key, value) pairs differ"
            continue
        if e.dtype.kind in "ui":
            diff = np.abs(g.astype(np.int64) - e.astype(np.int64))
            if kernel == "REDUCE_HISTOGRAM":
                # Bin edges computed in float64 (numpy) vs f32 (the contract) can move a value
                # that sits on an edge into the neighbouring bin.
                if g.sum() != e.sum() or diff.sum() > 2 + inputs[0].size // 1000:
                    return False, f"histogram differs in {int(diff.sum())} counts"
            elif diff.max(initial=0) != 0:
                return False, f"output {i}: {int((diff != 0).sum())} of {e.size} integers differ"
        else:
            g64, e64 = g.astype(np.float64), e.astype(np.float64)
            nan_g, nan_e = np.isnan(g64), np.isnan(e64)
            if (nan_g != nan_e).any():
                return False, f"output {i}: NaN positions differ"
            ok = ~nan_e
            # Reductions: errors grow with the sum of |terms|; elementwise: a small floor.
            atol = 1e-6 * scale if e.ndim == 0 else 1e-6
            err = np.abs(g64[ok] - e64[ok])
            bad = err > 1e-4 * np.abs(e64[ok]) + atol
            if bad.any():
                j = int(np.argmax(err))
                return False, f"output {i}: {int(bad.sum())} of {e.size} values differ (largest |diff| {err.max():.3g} at {j})"
    return True, ""


def run_plan(plan, out_path):
    policy = plan["policy"]
    peers, missing = discover(plan["peers"], plan.get("devices", ("cpu", "gpu")))
    result = {
        "schema": "fastpath-peers/1",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "peers": [
            {"name": p.name, "library": p.library, "kind": p.kind, "version": p.version, "device": p.device}
            for p in peers
        ],
        "missing": missing,
        "calls": {},
        "results": [],
    }
    cases = plan["cases"]
    total = len(cases) * max(len(peers), 1)
    done = 0
    loaded = {}
    current_n = None
    for case in cases:
        kernel, n = case["kernel"], case["n"]
        if n != current_n:
            loaded.clear()
            for p in peers:
                p.release()
            current_n = n
        for path in case["inputs"]:
            if path not in loaded:
                loaded[path] = np.load(path)
        inputs = [loaded[p] for p in case["inputs"]]
        params = case["params"]
        for peer in peers:
            done += 1
            print(f"PROGRESS {done} {total} {kernel} n={n} {peer.name}", flush=True)
            entry = entry_for(kernel, peer.library)
            base = {"case": case["id"], "kernel": kernel, "n": n, "peer": peer.name, "kind": peer.kind}
            if entry is None:
                result["results"].append({**base, "status": "unmapped"})
                continue
            call, fn = entry
            result["calls"].setdefault(kernel, {})[peer.library] = call
            mod = peer.module()
            try:
                if "expected" in case:
                    known = KNOWN_DIFFERENT.get((peer.library, kernel))
                    if known:
                        result["results"].append({**base, "status": "check", "ok": None, "message": known})
                        continue
                    args = [peer.put(a, kernel) for a in inputs]
                    got = flatten(fn(mod, args, params))
                    peer.block(tuple(got))
                    ok, message = compare_outputs(kernel, case, [peer.get(g) for g in got], case["expected"], inputs)
                    result["results"].append({**base, "status": "check", "ok": ok, "message": message})
                    continue
                sets = [[peer.put(a, kernel) for a in inputs] for _ in range(max(1, case.get("rotate", 1)))]
                if peer.kind == "cpu" and len(sets) > 1:
                    # Rotation is there to read inputs from memory, as fastpath does; copies that
                    # alias one buffer would be read from cache (torch's .to("cpu") once did this).
                    first, second = peer.get(sets[0][0]), peer.get(sets[1][0])
                    if np.shares_memory(first, second):
                        raise RuntimeError(f"{peer.name}: rotated input copies share memory")
                samples, walls = repeat(
                    policy, lambda rep: peer.time_once(lambda args: fn(mod, args, params), sets[rep % len(sets)])
                )
                del sets
                result["results"].append(
                    {**base, "status": "timed", "timer": peer.timer, "stats": summarize(samples), "wall": summarize(walls)}
                )
            except Exception as e:
                result["results"].append({**base, "status": "error", "message": one_line(e)})
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, out_path)


def list_mapping(markdown):
    libraries = ["numpy", "torch", "mlx", "cupy"]
    if not markdown:
        table = {k: {lib: (entry_for(k, lib) or (None,))[0] for lib in libraries} for k in MAPPING}
        print(json.dumps(table, indent=1))
        return
    print("| kernel | numpy | torch | mlx | cupy |")
    print("|---|---|---|---|---|")
    for k in MAPPING:
        cells = []
        for lib in libraries:
            e = entry_for(k, lib)
            cells.append(f"`{e[0]}`" if e else "— (no equivalent)")
        print(f"| {k} | " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="time (and check) the cases of a plan written by fastpath bench")
    r.add_argument("--plan", required=True)
    r.add_argument("--out", required=True)
    l = sub.add_parser("list", help="print the kernel -> peer call mapping")
    l.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    if args.cmd == "list":
        list_mapping(args.markdown)
        return
    if np is None:
        sys.exit("numpy is required to load the shared .npy inputs (pip install numpy)")
    np.seterr(all="ignore")  # overflow to inf in exp etc. is the contract, not an error
    with open(args.plan) as f:
        plan = json.load(f)
    try:
        run_plan(plan, args.out)
    except Exception:
        traceback.print_exc()
        sys.exit(1)


if __name__ == "__main__":
    main()
