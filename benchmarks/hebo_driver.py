"""HEBO behind a pipe, for `search_peers.run_hebo`: runs in HEBO's own virtual environment (it pins
numpy below 1.25), reads one JSON message a line on stdin and answers one a line on stdout.

  {"cmd": "init", "params": [[name, "cat", choices] | [name, "int", low, high], ...], "seed": s}
  {"cmd": "suggest"} -> {"x": {name: value}}
  {"cmd": "observe", "y": value}   (maximised; HEBO minimises -value)
  {"cmd": "cpu"} -> {"cpu": seconds of CPU this process spent in HEBO}
"""

import json
import sys
import time

import numpy as np


def main() -> None:
    out = sys.stdout
    sys.stdout = sys.stderr  # HEBO and pymoo print notices; only replies go to the pipe
    from hebo.design_space.design_space import DesignSpace
    from hebo.optimizers.hebo import HEBO

    opt, last, cpu = None, None, 0.0
    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg["cmd"]
        reply = {}
        c0 = time.process_time()
        if cmd == "init":
            spec = []
            for p in msg["params"]:
                if p[1] == "cat":
                    spec.append({"name": p[0], "type": "cat", "categories": [str(c) for c in p[2]]})
                else:
                    spec.append({"name": p[0], "type": "int", "lb": int(p[2]), "ub": int(p[3])})
            np.random.seed(int(msg["seed"]))
            import torch
            torch.manual_seed(int(msg["seed"]))
            opt = HEBO(DesignSpace().parse(spec), rand_sample=None, scramble_seed=int(msg["seed"]))
            params = msg["params"]
        elif cmd == "suggest":
            last = opt.suggest(n_suggestions=1)
            row = last.iloc[0]
            x = {}
            for p in params:
                v = row[p[0]]
                x[p[0]] = next(c for c in p[2] if str(c) == str(v)) if p[1] == "cat" else int(v)
            reply = {"x": x}
        elif cmd == "observe":
            opt.observe(last, np.array([[-float(msg["y"])]]))
        if cmd != "cpu":
            cpu += time.process_time() - c0
        else:
            reply = {"cpu": cpu}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
