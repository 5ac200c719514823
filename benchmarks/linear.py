"""Does the cost of one function grow linearly with its length? (issue: near-linear analysis)

For N in 1k, 2k, 5k, 10k, 20k it builds one forward of N lines `x = x.detach() + i` (every
line a cut whose value flows on: the worst case the engine met, minutes at 20k before; with
`--framework tensorflow` a Keras layer's `call` of `x = tf.stop_gradient(x) + i`, with `jax` a
`jax.grad` loss of `x = jax.lax.stop_gradient(x) + i`: the one source walk under each
framework's facts), then
times libcst's parse and gradscan's whole check of the same text in this process, with no
per-file budget, best of `--repeat` rounds. Linear growth shows as a constant time per line
and a constant ratio to the parse.

    python benchmarks/linear.py            # prints a markdown table
    python benchmarks/linear.py --sizes 1000,20000 --repeat 1 --framework jax
"""
from __future__ import annotations

import argparse
import time

import libcst as cst

from gradscan.config import Settings
from gradscan.engine import check_source


def chain(n: int, framework: str = "torch") -> str:
    if framework == "tensorflow":
        head = ["import tensorflow as tf", "from tensorflow import keras", "", "", "class M(keras.layers.Layer):",
                "    def __init__(self):", "        super().__init__()", "        self.fc = keras.layers.Dense(4)", "",
                "    def call(self, x):", "        x = self.fc(x)"]
        line, tail = "        x = tf.stop_gradient(x) + {i}", ["        return x", ""]
    elif framework == "jax":
        head = ["import jax", "import jax.numpy as jnp", "", "", "def loss(params, batch):", "    x = batch @ params"]
        line, tail = "    x = jax.lax.stop_gradient(x) + {i}", ["    return jnp.sum(x)", "", "", "grads = jax.grad(loss)", ""]
    else:
        head = ["import torch.nn as nn", "", "", "class M(nn.Module):", "    def __init__(self):",
                "        super().__init__()", "        self.fc = nn.Linear(4, 4)", "", "    def forward(self, x):",
                "        x = self.fc(x)"]
        line, tail = "        x = x.detach() + {i}", ["        return x", ""]
    return "\n".join(head + [line.format(i=i) for i in range(n)] + tail)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1000,2000,5000,10000,20000")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--framework", choices=("torch", "tensorflow", "jax"), default="torch")
    args = ap.parse_args(argv)
    settings = Settings(file_budget=0)
    print("| lines | parse (s) | check (s) | check per 1k lines (s) | check / parse |")
    print("|---|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        src = chain(n, args.framework)
        parse = best(lambda: cst.parse_module(src), args.repeat)
        check = best(lambda: check_source(src, path="chain.py", settings=settings), args.repeat)
        print(f"| {n:,} | {parse:.2f} | {check:.2f} | {check / n * 1000:.3f} | {check / parse:.2f} |", flush=True)


if __name__ == "__main__":
    main()
