"""A complete LRBench++ task: tune the LR of your own training function.

    lrbench tune --task examples/my_task.py:train --metric val_accuracy --mode max \\
        --policies fixed,cosine,one_cycle --lr-min 1e-3 --lr-max 1 --trials 9 --total-steps 400
    lrbench tune --task examples/my_task.py:train --metric val_loss --mode min \\
        --policies fixed,cosine --lr-min 1e-3 --lr-max 1 --trials 4 --total-steps 200

The contract: a function `train(trial) -> dict[str, float]`. Use `trial.seed`,
`trial.total_steps` and `trial.params`; get a Monitor with `trial.monitor(optimizer)` (it
already holds the step-0 LR; the optimizer's own LR is ignored); call `monitor.step(loss=...)`
after each `optimizer.step()`; call `trial.report(step, **metrics)` when you evaluate (stored at
once; in a pruning study it may raise `TrialPruned`, let it propagate); return final metrics.
Divergence (NaN or exploding loss) ends the trial through `monitor.step`, recorded as
`diverged`; any other exception is recorded as `failed` with its traceback.
"""

from __future__ import annotations

import torch
from sklearn.datasets import make_classification


def train(trial):
    """A small MLP on a synthetic problem; reports validation loss and accuracy."""
    x, y = make_classification(
        n_samples=2000,
        n_features=20,
        n_informative=10,
        random_state=int(trial.params.get("data_seed", 0)),
    )
    x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    train_x, train_y, valid_x, valid_y = x[:1500], y[:1500], x[1500:], y[1500:]

    torch.manual_seed(trial.seed)
    model = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)
    monitor = trial.monitor(optimizer)
    trial.samples_per_step = 32  # lets the study report cost in samples too

    def validation() -> dict[str, float]:
        with torch.no_grad():
            logits = model(valid_x)
            return {
                "val_loss": float(torch.nn.functional.cross_entropy(logits, valid_y)),
                "val_accuracy": float((logits.argmax(1) == valid_y).float().mean()),
            }

    generator = torch.Generator().manual_seed(trial.seed)
    for step in range(trial.total_steps):
        batch = torch.randint(0, len(train_x), (32,), generator=generator)
        loss = torch.nn.functional.cross_entropy(model(train_x[batch]), train_y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        monitor.step(loss=loss)
        if (step + 1) % 50 == 0:
            trial.report(step + 1, **validation(), train_loss=loss.item())
    return validation()
