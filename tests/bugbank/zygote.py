"""Run bug-bank programs quickly: import the frameworks once, then fork a child per program.

`python -m tests.bugbank.zygote` reads program paths on standard input, one per line, and
answers each with one JSON line `{"path", "status", "output"}`. Importing TensorFlow, torch and
JAX costs 10-20 s per process; a forked child starts with them loaded and runs a program in
about a second. A program that must choose its Keras before TensorFlow is imported
(`TF_USE_LEGACY_KERAS`) is not for this runner: the test runs it in a fresh interpreter, and so
it does any program whose forked run fails, so that a fork-related fault never decides a label.
"""
from __future__ import annotations

import importlib
import json
import os
import runpy
import sys
import tempfile
import traceback

FRAMEWORKS = ("torch", "tensorflow", "tensorflow_probability", "jax", "flax", "optax", "pyro", "lightning")
TIMEOUT = 240


def preload() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    for name in FRAMEWORKS:
        try:
            importlib.import_module(name)
        except Exception:  # not installed, or broken: the programs that need it will say so
            pass


def run_one(path: str) -> dict:
    with tempfile.TemporaryFile() as out:
        pid = os.fork()
        if pid == 0:  # the child: the program's own process, with the frameworks already imported
            status = 1
            try:
                os.dup2(out.fileno(), 1)
                os.dup2(out.fileno(), 2)
                import signal

                signal.alarm(TIMEOUT)
                os.chdir(os.path.dirname(path))
                sys.argv = [path]
                runpy.run_path(path, run_name="__main__")
                status = 0
            except SystemExit as e:
                status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(status)
        _, raw = os.waitpid(pid, 0)
        out.seek(0)
        output = out.read().decode("utf-8", "replace")[-4000:]
    return {"path": path, "status": os.waitstatus_to_exitcode(raw), "output": output}


def main() -> None:
    answers = os.fdopen(os.dup(1), "w")  # the JSON channel; anything else printed goes to stderr
    os.dup2(2, 1)
    preload()
    for line in sys.stdin:
        path = line.strip()
        if path:
            answers.write(json.dumps(run_one(path)) + "\n")
            answers.flush()


if __name__ == "__main__":
    main()
