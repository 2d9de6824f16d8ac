"""Log the browser tests' runs through the SDK into the store named by LABLEDGER_DIR.

A small sweep (optimizer × lr × seed) with curves and console output in colour, plus one run
whose name, tag and config value are HTML, to check the UI shows them as text.
"""

from __future__ import annotations

import itertools
import math
import random
import sys

import labledger as ll

XSS = "<img src=x onerror=alert(1)>"


def main(project: str) -> None:
    for optimizer, lr, seed in itertools.product(["adam", "sgd"], [0.01, 0.1], [1, 2, 3]):
        rng = random.Random(seed * 100 + int(lr * 100))
        gain = 0.9 if optimizer == "adam" else 0.8
        config = {"optimizer": optimizer, "lr": lr, "seed": seed, "model": {"layers": 2}}
        name = f"{optimizer}-lr{lr}-s{seed}"
        with ll.init(project=project, config=config, name=name, tags=[optimizer], seed=seed) as run:
            for step in range(60):
                acc = gain * (1 - math.exp(-step * lr * 2)) + rng.gauss(0, 0.01)
                run.log({"train/loss": 1 / (1 + step * lr * 5), "val/acc": acc}, step=step)
            print(f"\x1b[32mdone\x1b[0m {name} acc={acc:.3f}")
    with ll.init(project=project, name=XSS, tags=[XSS], config={"note": XSS, "lr": 0.5}) as run:
        run.log({"val/acc": 0.1}, step=0)
        print(XSS)


if __name__ == "__main__":
    main(sys.argv[1])
