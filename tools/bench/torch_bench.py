#!/usr/bin/env python3
"""The PyTorch side of `optbench bench`: the same autoencoders and RNNs, the
same batch, the same weights and the same SGD / CM / NAG updates, timed per
update. Reads what `optbench bench --dump DIR` wrote (DIR/NAME.meta plus raw
float32 files) and first checks, for each network, that PyTorch computes
the same mini-batch loss on those weights (relative tolerance --rtol); a
network that fails the check is not timed.

Thread settings are the caller's: OPENBLAS_NUM_THREADS must be set in the
environment before this process starts (tools/bench/compare.py does both
configurations); --intra sets torch's intra-op threads.

Prints one JSON object per line: {"task", "check": {...}} then one line per
optimizer {"task", "optimizer", "variant", "ms"}."""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

LR, MU = 1e-4, 0.9


def read_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            key, _, rest = line.strip().partition(" ")
            meta[key] = rest
    return meta


def f32(dir_, name):
    return torch.from_numpy(np.fromfile(os.path.join(dir_, name), dtype=np.float32))


# ---- models: each returns (params, loss_fn); loss_fn() uses the params -------------


def autoencoder(dir_, task, meta):
    sizes = [int(s) for s in meta["sizes"].split()]
    linear = {int(s) for s in meta["linear"].split()}
    ce = meta["loss_kind"] == "cross_entropy"
    theta = f32(dir_, task + ".theta.f32")
    B = int(meta["batch"])
    X = f32(dir_, task + ".X.f32").view(B, sizes[0])
    params, off = [], 0
    for k in range(1, len(sizes)):  # W_k (n_{k-1} x n_k), then b_k: autoencoder.h
        n = sizes[k - 1] * sizes[k]
        params.append(theta[off:off + n].view(sizes[k - 1], sizes[k]).clone().requires_grad_())
        off += n
        params.append(theta[off:off + sizes[k]].clone().requires_grad_())
        off += sizes[k]
    assert off == theta.numel()
    L = len(sizes) - 1

    def loss_fn():
        A = X
        for k in range(1, L + 1):
            Z = torch.addmm(params[2 * k - 1], A, params[2 * k - 2])
            A = Z if (k in linear or k == L) else torch.sigmoid(Z)
        if ce:  # logistic output + cross-entropy, summed over pixels, mean over cases
            return F.binary_cross_entropy_with_logits(A, X, reduction="sum") / B
        return (A - X).pow(2).sum() / B  # linear output, squared error without 1/2

    return params, loss_fn


def rnn(dir_, task, meta, variant):
    T, B = int(meta["T"]), int(meta["batch"])
    NI, H, O = int(meta["inputs"]), int(meta["hidden"]), int(meta["outputs"])
    theta = f32(dir_, task + ".theta.f32")
    X = f32(dir_, task + ".X.f32").view(T, B, NI)  # time-major: rnn.h
    Y = f32(dir_, task + ".Y.f32").view(T * B, O)
    M = f32(dir_, task + ".M.f32").view(T * B, 1)
    o = 0
    Whx = theta[o:o + NI * H].view(NI, H); o += NI * H
    Whh = theta[o:o + H * H].view(H, H); o += H * H
    bh = theta[o:o + H]; o += H
    Woh = theta[o:o + H * O].view(H, O); o += H * O
    bo = theta[o:o + O]; o += O
    assert o == theta.numel()

    def output_loss(Hs, Woh_, bo_):
        out = torch.addmm(bo_, Hs.reshape(T * B, H), Woh_)
        return (M * (out - Y).pow(2)).sum() / B

    if variant == "nn.RNN":
        net = torch.nn.RNN(NI, H, nonlinearity="tanh", bias=True)
        with torch.no_grad():
            net.weight_ih_l0.copy_(Whx.t())
            net.weight_hh_l0.copy_(Whh.t())
            net.bias_ih_l0.copy_(bh)
            net.bias_hh_l0.zero_()
        params = [net.weight_ih_l0, net.weight_hh_l0, net.bias_ih_l0, net.bias_hh_l0]
        p_out = [Woh.clone().requires_grad_(), bo.clone().requires_grad_()]
        params += p_out

        def loss_fn():
            Hs, _ = net(X)
            return output_loss(Hs, p_out[0], p_out[1])

        return params, loss_fn

    params = [t.clone().requires_grad_() for t in (Whx, Whh, bh, Woh, bo)]

    def loss_fn():  # h_t = tanh(x_t W_hx + h_{t-1} W_hh + b_h), h_{-1} = 0
        Whx_, Whh_, bh_, Woh_, bo_ = params
        XW = torch.addmm(bh_, X.view(T * B, NI), Whx_).view(T, B, H)
        h = torch.tanh(XW[0])
        hs = [h]
        for t in range(1, T):
            h = torch.tanh(torch.addmm(XW[t], h, Whh_))
            hs.append(h)
        return output_loss(torch.stack(hs), Woh_, bo_)

    return params, loss_fn


# ---- updates (SPEC 1.2; lr 1e-4, mu 0.9 as optbench bench) ------------------------


def grads(params, loss_fn):
    for p in params:
        p.grad = None
    loss = loss_fn()
    loss.backward()
    return [p.grad for p in params]


def make_step(name, params, loss_fn):
    with torch.no_grad():
        v = [torch.zeros_like(p) for p in params]
    if name == "sgd":
        def step():
            g = grads(params, loss_fn)
            with torch.no_grad():
                torch._foreach_add_(params, g, alpha=-LR)
    elif name == "cm":
        def step():
            g = grads(params, loss_fn)
            with torch.no_grad():
                torch._foreach_mul_(v, MU)
                torch._foreach_add_(v, g, alpha=-LR)
                torch._foreach_add_(params, v)
    else:
        # NAG in the stored look-ahead form: the parameters hold x = theta + mu v,
        # where the gradient is taken; x_{t+1} = x_t + (1 + mu) v_{t+1} - mu v_t
        # (no copy of the parameters per step).
        def step():
            g = grads(params, loss_fn)
            with torch.no_grad():
                torch._foreach_add_(params, v, alpha=-MU)
                torch._foreach_mul_(v, MU)
                torch._foreach_add_(v, g, alpha=-LR)
                torch._foreach_add_(params, v, alpha=1 + MU)
    return step


def time_step(step, seconds):
    """Median ms of the timed steps (3 warm-up steps, then at least 5 and as
    many as fit in `seconds`), as optbench bench measures."""
    for _ in range(3):
        step()
    dt, t0 = [], time.perf_counter()
    while len(dt) < 5 or time.perf_counter() - t0 < seconds:
        s0 = time.perf_counter()
        step()
        dt.append(time.perf_counter() - s0)
    return 1000 * float(np.median(dt))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dump", help="directory written by optbench bench --dump")
    ap.add_argument("--intra", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--tasks", default="curves,mnist,faces,rnn80,rnn200")
    ap.add_argument("--rnn-loop", action="store_true",
                    help="also time the RNN as a Python loop over steps (5-20x slower than "
                         "torch.nn.RNN here: 470 ms vs 45-120 ms per update at T = 88)")
    args = ap.parse_args()
    torch.set_num_threads(args.intra)
    failed = 0
    for task in args.tasks.split(","):
        path = os.path.join(args.dump, task + ".meta")
        if not os.path.exists(path):
            continue
        meta = read_meta(path)
        variants = (["loop", "nn.RNN"] if args.rnn_loop else ["nn.RNN"]) \
            if meta["kind"] == "rnn" else ["autograd"]
        for variant in variants:
            build = (lambda: autoencoder(args.dump, task, meta)) if meta["kind"] == "autoencoder" \
                else (lambda: rnn(args.dump, task, meta, variant))
            params, loss_fn = build()
            with torch.no_grad():
                got = float(loss_fn())
            want = float(meta["loss"])
            rel = abs(got - want) / abs(want)
            ok = math.isfinite(got) and rel <= args.rtol
            print(json.dumps({"task": task, "variant": variant, "check": {
                "optbench_loss": want, "torch_loss": got, "rel_diff": rel, "rtol": args.rtol,
                "ok": ok}}), flush=True)
            if not ok:
                failed = 1
                continue
            for opt in ("sgd", "cm", "nag"):
                params, loss_fn = build()  # fresh weights for every optimizer
                ms = time_step(make_step(opt, params, loss_fn), args.seconds)
                print(json.dumps({"task": task, "variant": variant, "optimizer": opt,
                                  "intra": args.intra,
                                  "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
                                  "ms": ms}), flush=True)
    return failed


if __name__ == "__main__":
    sys.exit(main())
