#!/usr/bin/env python3
"""optbench vs PyTorch per update, side by side, in one go.

Runs `optbench bench --no-hf --threads N --dump DIR` (which also writes the
weights and batches), then tools/bench/torch_bench.py on the same dump in
two PyTorch configurations, each in its own process (OpenBLAS reads its
thread count at load time):
  default  torch intra-op threads = N, OPENBLAS_NUM_THREADS unset (OpenBLAS
           takes every core as well: the two thread pools oversubscribe)
  tuned    torch intra-op threads = 1, OPENBLAS_NUM_THREADS = N
torch_bench.py first checks that PyTorch's loss on the dumped weights and
batch equals optbench's (relative tolerance 1e-4); a network that fails
is not timed, and this script exits 1. Both PyTorch configurations run
with the OpenBLAS kernels optbench reported using (OPENBLAS_CORETYPE), so
the two sides multiply matrices with the same code: optbench replaces
OpenBLAS's fallback kernels on CPUs OpenBLAS does not recognize, and
PyTorch, loading the same OpenBLAS, would otherwise keep them.

Prints Markdown: the optbench table, the check results, and per network
and optimizer the ms/update on both sides and the ratio PyTorch / optbench
(> 1: optbench is faster). PyTorch's RNN is torch.nn.RNN (tanh), whose
backward runs in C++; torch_bench.py --rnn-loop also times a Python loop
over steps, far slower.

With --rounds N the three sides take turns N times and the tables give
medians: on a shared machine speed drifts by 10-30% over minutes, and
sides measured minutes apart would otherwise compare two machines. So
each network is timed on the three sides back to back (seconds apart),
in the opposite order every other round.

Usage: tools/bench/compare.py [--build build] [--threads 2] [--seconds 2]
                              [--rounds 1] [--tasks curves,mnist,faces,rnn80,rnn200]"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def optbench_rows(text):
    """{(task, optimizer): ms} from optbench bench's Markdown tables."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 5 or cells[0] in ("task", "") or cells[0].startswith("-"):
            continue
        # autoencoder rows: task, params, opt, ms ...; RNN rows: task, T, params, opt, ms ...
        opt_i = 2 if cells[2] in ("sgd", "cm", "nag") else 3
        if cells[opt_i] not in ("sgd", "cm", "nag"):
            continue
        rows[(cells[0], cells[opt_i])] = float(cells[opt_i + 1])
    return rows


def optbench_kernels(text):
    """The `OpenBLAS kernels: NAME` line of optbench bench's output."""
    for line in text.splitlines():
        if line.startswith("OpenBLAS kernels: "):
            return line.split(": ", 1)[1].strip()
    return None


def torch_side(dump, intra, blas_threads, seconds, tasks, python, kernels):
    env = dict(os.environ)
    if kernels:
        env["OPENBLAS_CORETYPE"] = kernels
    env.pop("OPENBLAS_NUM_THREADS", None)
    env.pop("OMP_NUM_THREADS", None)
    if blas_threads:
        env["OPENBLAS_NUM_THREADS"] = str(blas_threads)
    cmd = [python, os.path.join(HERE, "torch_bench.py"), dump, "--intra", str(intra),
           "--seconds", str(seconds), "--tasks", tasks]
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    checks, best = [], {}
    for line in p.stdout.splitlines():
        r = json.loads(line)
        if "check" in r:
            checks.append(r)
        else:
            key = (r["task"], r["optimizer"])
            if key not in best or r["ms"] < best[key][0]:
                best[key] = (r["ms"], r["variant"])
    return p.returncode, checks, best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--tasks", default="curves,mnist,faces,rnn80,rnn200")
    ap.add_argument("--python", default="/usr/bin/python3",
                    help="interpreter with torch (Debian's python3-torch)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="alternate optbench and both PyTorch configurations this many times "
                         "and report medians: a shared machine's speed drifts over minutes")
    args = ap.parse_args()
    tasks = args.tasks.split(",")
    with tempfile.TemporaryDirectory(prefix="optbench-compare-") as dump:
        kernels, rc = None, 0
        ob = {}                               # key -> [ms per round]
        res = {"default": {}, "tuned": {}}    # config -> key -> [(ms, variant) per round]
        configs = {"default": (args.threads, None), "tuned": (1, args.threads)}
        all_checks = []
        for rnd in range(args.rounds):
            # Per network, the three sides one after the other, seconds apart,
            # in the reverse order every other round: a drift of the
            # machine's speed within a round then favours no side.
            for task in tasks:
                order = ["optbench", "tuned", "default"]
                if rnd % 2:
                    order.reverse()
                for side in order:
                    if side == "optbench":
                        cmd = [os.path.join(args.build, "optbench"), "bench", "--no-hf",
                               "--threads", str(args.threads), "--seconds", str(args.seconds),
                               "--task", task]
                        if rnd == 0:
                            cmd += ["--dump", dump]
                        out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True,
                                             check=True).stdout
                        if rnd == 0:
                            print(out)
                        for key, ms in optbench_rows(out).items():
                            ob.setdefault(key, []).append(ms)
                        kernels = kernels or optbench_kernels(out)
                        continue
                    intra, blas = configs[side]
                    code, checks, best = torch_side(dump, intra, blas, args.seconds, task,
                                                    args.python, kernels)
                    rc |= code != 0
                    for key, v in best.items():
                        res[side].setdefault(key, []).append(v)
                    if side == "default" and rnd == 0:
                        all_checks += checks
        print_checks(all_checks)
        print(f"## ms/update, optbench vs PyTorch ({args.threads} cores)\n")
        print(f"default: torch intra-op {args.threads}, OPENBLAS_NUM_THREADS unset; tuned: "
              f"intra-op 1, OPENBLAS_NUM_THREADS={args.threads}; both with "
              f"OPENBLAS_CORETYPE={kernels}, the kernels optbench ran. {args.rounds} round(s); "
              "in each, per network, optbench and both PyTorch configurations one after the "
              "other (the order reversed every other round). Times are medians over rounds; "
              "ratio = PyTorch ms / optbench ms (> 1: optbench faster); the range is over the "
              "rounds' own ratios; best/best is the fastest round of each side.\n")
        print("| task | optimizer | optbench | PyTorch default | PyTorch tuned | ratio vs "
              "default | ratio vs tuned | range vs tuned | best/best vs tuned |")
        print("|---|---|---|---|---|---|---|---|---|")
        for key, mss in ob.items():
            d, t = res["default"].get(key), res["tuned"].get(key)
            if not d or not t or len(d) != len(mss) or len(t) != len(mss):
                continue
            m, dm, tm = (statistics.median(mss), statistics.median(x[0] for x in d),
                         statistics.median(x[0] for x in t))
            per_round = [tt[0] / o for tt, o in zip(t, mss)]
            best = min(x[0] for x in t) / min(mss)
            print(f"| {key[0]} | {key[1]} | {m:.2f} | {dm:.2f} ({d[0][1]}) | {tm:.2f} "
                  f"({t[0][1]}) | {dm / m:.2f} | {tm / m:.2f} | {min(per_round):.2f}-"
                  f"{max(per_round):.2f} | {best:.2f} |")
        return rc


def print_checks(checks):
    print("## Correctness gate (PyTorch loss on optbench's weights and batch)\n")
    print("| task | PyTorch variant | optbench loss | PyTorch loss | rel. diff | ok |")
    print("|---|---|---|---|---|---|")
    for c in checks:
        k = c["check"]
        print(f"| {c['task']} | {c['variant']} | {k['optbench_loss']:.9g} | "
              f"{k['torch_loss']:.9g} | {k['rel_diff']:.1e} | "
              f"{'yes' if k['ok'] else 'NO'} (rtol {k['rtol']:g}) |")
    print()


if __name__ == "__main__":
    sys.exit(main())
