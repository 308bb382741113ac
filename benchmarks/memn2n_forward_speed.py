"""MemN2N training speed on one CPU thread: examples/second for forward + backward + SGD step.

"step" rows time forward + backward + SGD step per batch; "reference" is ``memn2n_reference`` (the
equations read literally) in the same loop; "forward, no_grad" is evaluation.

Synthetic bAbI-shaped batches (B=32, N=50 slots, J=12 words, sentences of 3..8 words, each story
1..N sentences); the shapes of the paper's bAbI recipe (d=20, K=3, PE, TE, RN, adjacent tying).

    PYTHONPATH=src python3 benchmarks/memn2n_forward_speed.py [--vocab 40] [--steps 200]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from mneme.memory.memn2n import MemN2N, MemN2NConfig, memn2n_reference


def make_batch(
    batch: int, slots: int, width: int, vocab: int, fill: float, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """Random stories: ``fill`` is the mean fraction of the N slots holding a sentence."""
    story = torch.randint(1, vocab, (batch, slots, width), generator=generator)
    lengths = torch.randint(3, min(9, width + 1), (batch, slots), generator=generator)
    story[torch.arange(width) >= lengths.unsqueeze(-1)] = 0
    n_sent = (torch.rand(batch, generator=generator) * 2 * fill * slots).clamp(1, slots).long()
    story[torch.arange(slots).unsqueeze(0) >= n_sent.unsqueeze(1)] = 0
    query = torch.randint(1, vocab, (batch, width), generator=generator)
    query[:, 4:] = 0
    return {"story": story, "query": query}


def time_steps(model: torch.nn.Module, forward, batches, targets, steps: int) -> float:
    """Seconds per forward + backward + SGD step, after a short warm-up."""
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for i in range(steps + 10):
        if i == 10:
            start = time.perf_counter()
        inputs = batches[i % len(batches)]
        loss = F.cross_entropy(forward(inputs).logits, targets[i % len(batches)])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--vocab", type=int, default=40, help="V (bAbI: ~20-40 per task, 177 joint)"
    )
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--slots", type=int, default=50)
    parser.add_argument("--width", type=int, default=12)
    parser.add_argument("--fill", type=float, default=0.5, help="mean fraction of slots used")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    batches = [
        make_batch(args.batch, args.slots, args.width, args.vocab, args.fill, gen) for _ in range(8)
    ]
    targets = [torch.randint(1, args.vocab, (args.batch,), generator=gen) for _ in range(8)]
    torch.manual_seed(0)
    model = MemN2N(MemN2NConfig(), vocab_size=args.vocab, memory_size=args.slots)
    print(
        f"B={args.batch} N={args.slots} J={args.width} V={args.vocab} fill={args.fill} "
        f"threads={args.threads}; forward+backward+SGD step per batch"
    )
    rows = []
    for mode in ("train", "eval"):
        model.train(mode == "train")
        fast = time_steps(model, model, batches, targets, args.steps)
        rows.append(("step, random noise" if mode == "train" else "step, eval mode", fast))
    model.eval()
    ref = time_steps(model, lambda x: memn2n_reference(model, x), batches, targets, args.steps // 4)
    rows.append(("step, reference", ref))
    with torch.no_grad():
        start = time.perf_counter()
        for i in range(args.steps):
            model(batches[i % len(batches)])
        rows.append(("forward, no_grad", (time.perf_counter() - start) / args.steps))
    for name, sec in rows:
        print(f"  {name:20s} {sec * 1e3:7.3f} ms/batch  {args.batch / sec:9.0f} examples/s")
    print(f"  reference / fast (eval): {ref / rows[1][1]:.2f}x")


if __name__ == "__main__":
    main()
