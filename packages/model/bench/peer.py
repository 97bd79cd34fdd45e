"""PyTorch peer of the project's partial training step (packages/model/bench/peer.ts runs it).

MobileNetV2-0.35 from torchvision (random weights: the speed does not depend on them), the blocks
above a cut (features[11:] above Keras's block_9_add, features[14:] above block_12_add) + global
average pooling + Dropout(0.2) + Linear(1280, 4); batch-norm statistics frozen (BN layers in eval
mode, affine parameters trained), one thread, batch 32, Adam(1e-4), cross-entropy. Prints one JSON
object: img/s per cut, wall clock and per CPU-second of the process (medians over repeats of
`steps` timed steps after warm-up).

  /usr/bin/python3 packages/model/bench/peer.py [--steps 8] [--repeats 3] [--batch 32] [--seed 1]
"""
import argparse
import json
import statistics
import time

import torch
import torchvision

CUTS = {"block_9_add": (11, 24), "block_12_add": (14, 32)}  # features index, channels at the cut (14×14)


def build(start: int) -> torch.nn.Module:
    net = torchvision.models.mobilenet_v2(width_mult=0.35)
    return torch.nn.Sequential(
        *net.features[start:],
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(1280, 4),
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    out = {"torch": torch.__version__, "torchvision": torchvision.__version__, "threads": torch.get_num_threads(), "batch": a.batch, "rows": []}
    for cut, (start, channels) in CUTS.items():
        model = build(start)
        model.train()
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()  # frozen statistics
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        x = torch.randn(a.batch, channels, 14, 14)
        y = torch.arange(a.batch) % 4
        loss_fn = torch.nn.CrossEntropyLoss()

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()

        for _ in range(2):
            step()
        runs, cpu_runs = [], []
        for _ in range(a.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(a.steps):
                step()
            runs.append(a.steps * a.batch / (time.perf_counter() - t0))
            cpu_runs.append(a.steps * a.batch / (time.process_time() - c0))
        out["rows"].append(
            {
                "cut": cut,
                "features": f"features[{start}:]",
                "imagesPerSecond": statistics.median(runs),
                "runs": runs,
                "imagesPerCpuSecond": statistics.median(cpu_runs),
                "cpuRuns": cpu_runs,
            }
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
