#!/usr/bin/env python3
"""Two optbench builds, A and B, timed in turns on the same machine.

Runs `optbench bench --no-hf` of build A, then of build B, ROUNDS times,
and prints per network and optimizer the median ms/update of each build
and the speed-up B over A, with every round's values. Taking turns is what
makes the comparison fair on a shared machine, whose speed drifts by
10-30% over minutes (docs/PERFORMANCE.md).

Usage: tools/bench/ab.py A_BUILD B_BUILD [--rounds 3] [--threads 2]
                         [--seconds 1] [--task T] [--env-a K=V ...] [--env-b K=V ...]
                         [--args-a "BENCH OPTIONS"] [--args-b "BENCH OPTIONS"]
One build against itself with other bench options, e.g. the optimizers'
gradient buffer against the gradient folded into their vectors:
  tools/bench/ab.py build build --args-a "--gradient buffer"
e.g. the commit before a change against the working tree:
  git archive OLD | tar -x -C /tmp/old && cmake -S /tmp/old -B /tmp/old/build \
      -DOB_BUILD_TESTS=OFF && cmake --build /tmp/old/build -j2
  tools/bench/ab.py /tmp/old/build build"""
import argparse
import os
import shlex
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from compare import optbench_kernels, optbench_rows  # noqa: E402  (the same parsers)


def bench(build, args, extra_env, extra_args):
    env = dict(os.environ)
    for kv in extra_env:
        k, _, v = kv.partition("=")
        env[k] = v
    cmd = [os.path.join(build, "optbench"), "bench", "--no-hf", "--threads", str(args.threads),
           "--seconds", str(args.seconds)]
    if args.task:
        cmd += ["--task", args.task]
    cmd += shlex.split(extra_args)
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"ab.py: {' '.join(cmd)} exited with status {p.returncode}")
    return optbench_rows(p.stdout), optbench_kernels(p.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--task")
    ap.add_argument("--env-a", action="append", default=[], help="K=V for build A's runs")
    ap.add_argument("--env-b", action="append", default=[], help="K=V for build B's runs")
    ap.add_argument("--args-a", default="", help="more `optbench bench` options for A's runs")
    ap.add_argument("--args-b", default="", help="more `optbench bench` options for B's runs")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds needs at least 1")
    for build in (args.a, args.b):
        if not os.access(os.path.join(build, "optbench"), os.X_OK):
            ap.error(f"{build}/optbench is not an executable: build it first (see --help)")
    runs, kernels = {"a": {}, "b": {}}, {}
    for _ in range(args.rounds):
        for side, build, env, extra in (("a", args.a, args.env_a, args.args_a),
                                        ("b", args.b, args.env_b, args.args_b)):
            rows, kernels[side] = bench(build, args, env, extra)
            for key, ms in rows.items():
                runs[side].setdefault(key, []).append(ms)
    print(f"A = {args.a} {' '.join(args.env_a)} {args.args_a} (OpenBLAS kernels: {kernels['a'] or 'not printed'})\n"
          f"B = {args.b} {' '.join(args.env_b)} {args.args_b} (OpenBLAS kernels: {kernels['b'] or 'not printed'})\n"
          f"{args.rounds} rounds, A then B in each; {args.threads} threads; medians, and the\n"
          f"fastest round of each side (less moved by the machine's slow spells).\n")
    print("| task | optimizer | A ms/update | B ms/update | A / B | A / B fastest | A rounds | B rounds |")
    print("|---|---|---|---|---|---|---|---|")
    for key, a in runs["a"].items():
        b = runs["b"].get(key)
        if not b:
            continue
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"| {key[0]} | {key[1]} | {ma:.2f} | {mb:.2f} | {ma / mb:.2f}x | "
              f"{min(a) / min(b):.2f}x | {', '.join(f'{x:.2f}' for x in a)} | {', '.join(f'{x:.2f}' for x in b)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
