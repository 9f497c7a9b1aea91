"""Train a small classifier on scikit-learn's digits with an LRBench policy and a Monitor.

python examples/torch_loop.py
python examples/torch_loop.py --policy "one_cycle(max_lr=0.3,total_steps=600)" --steps 600
"""

from __future__ import annotations

import argparse

import torch
from sklearn.datasets import load_digits

import lrbench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--policy", default="cosine(lr=0.2,min_lr=0.002,total_steps=600,warmup_steps=30)"
    )
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args()

    torch.manual_seed(0)
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y = torch.tensor(digits.target)
    train_x, train_y, test_x, test_y = x[:1500], y[:1500], x[1500:], y[1500:]
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)
    monitor = lrbench.Monitor(args.policy, optimizer)

    generator = torch.Generator().manual_seed(0)
    for _ in range(args.steps):
        batch = torch.randint(0, len(train_x), (64,), generator=generator)
        loss = torch.nn.functional.cross_entropy(model(train_x[batch]), train_y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        monitor.step(loss=loss)
        if monitor.diverged:
            print(f"diverged at step {monitor.diverged_at}: {monitor.divergence_reason}")
            return

    with torch.no_grad():
        accuracy = (model(test_x).argmax(dim=1) == test_y).float().mean().item()
    history = monitor.history
    print(f"policy: {monitor.policy}")
    print(
        f"steps: {monitor.step_count}, final LR: {monitor.lr:.4g}, "
        f"last loss: {history.loss[-1]:.4f}, test accuracy: {accuracy:.3f}"
    )


if __name__ == "__main__":
    main()
