"""Train the demo detector on generated scenes; resumable, time-boxed, logged.

    PYTHONPATH=.:tools/train python tools/train/train.py --out .train/run --iters 6000 --time-limit 540

Sample j of the run (iteration j // batch) is the still of seed `seed_base + j // reuse`, mirrored
left-right when `j % reuse` is odd: with reuse 2 each generated scene is seen twice in one batch,
once mirrored. Every scene is new, and a rerun with the same arguments sees the same data. A run stops after --iters or --time-limit seconds,
whichever comes first, and leaves a checkpoint (split into parts of at most 15 MiB so it can travel
through size-limited channels); running the same command again resumes from it.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import math
import os
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from data import SceneDataset, collate
from loss import DetectionLoss
from model import YoloV8, count_params, gflops

from edge_sdk.atomic import write_bytes_atomic, write_json_atomic
from tools.scenes import CLASS_NAMES

PART_BYTES = 15 * 1024 * 1024


def worker_init(_: int) -> None:
    """One thread per data worker: the workers already use every core."""
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


class ModelEMA:
    """Exponential moving average of weights and BN buffers; decay ramps up as d*(1-exp(-n/tau))."""

    def __init__(self, model: nn.Module, decay: float = 0.9999, tau: float = 2000.0, updates: int = 0) -> None:
        self.ema = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay, self.tau, self.updates = decay, tau, updates

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = self.decay * (1 - math.exp(-self.updates / self.tau))
        msd = model.state_dict()
        for k, v in self.ema.state_dict().items():
            if v.dtype.is_floating_point:
                v.mul_(d).add_(msd[k].detach(), alpha=1 - d)


def save_checkpoint(out: Path, state: dict) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    for old in out.glob("ckpt.part*"):
        old.unlink()
    parts = [data[i : i + PART_BYTES] for i in range(0, len(data), PART_BYTES)]
    for i, part in enumerate(parts):
        write_bytes_atomic(out / f"ckpt.part{i:02d}", part)
    write_json_atomic(out / "ckpt.json", {"parts": len(parts), "bytes": len(data), "iteration": state["iteration"]})


def load_checkpoint(out: Path) -> dict | None:
    manifest = out / "ckpt.json"
    if not manifest.exists():
        return None
    info = json.loads(manifest.read_text())
    data = b"".join((out / f"ckpt.part{i:02d}").read_bytes() for i in range(info["parts"]))
    if len(data) != info["bytes"]:
        raise RuntimeError(f"checkpoint in {out} is incomplete: {len(data)} of {info['bytes']} bytes")
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)


def lr_at(it: int, total: int, base: float, warmup: int, final_frac: float) -> float:
    if it < warmup:
        return base * (0.05 + 0.95 * it / warmup)
    t = min(1.0, (it - warmup) / max(1, total - warmup))
    return base * (final_frac + (1 - final_frac) * 0.5 * (1 + math.cos(math.pi * t)))


def optimizer_for(model: nn.Module, lr: float, wd: float) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for m in model.modules():
        for name, p in m.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            (decay if name == "weight" and not isinstance(m, nn.BatchNorm2d) else no_decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.937, 0.999))


def compact_optimizer_state(opt: torch.optim.Optimizer) -> dict:
    """Optimizer state with moment tensors in bfloat16 (half the size; precise enough to resume)."""
    sd = opt.state_dict()  # its per-parameter dicts are the live ones: build new dicts, never mutate
    sd["state"] = {
        pid: {k: (v.to(torch.bfloat16) if k in ("exp_avg", "exp_avg_sq") else v) for k, v in st.items()}
        for pid, st in sd["state"].items()
    }
    return sd


def restore_optimizer_state(opt: torch.optim.Optimizer, sd: dict) -> None:
    sd["state"] = {
        pid: {k: (v.float() if k in ("exp_avg", "exp_avg_sq") else v) for k, v in st.items()} for pid, st in sd["state"].items()
    }
    opt.load_state_dict(sd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=".train/run")
    ap.add_argument("--iters", type=int, default=6000, help="total iterations of the schedule")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=5e-4)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--time-limit", type=float, default=540.0, help="seconds of training in this call")
    ap.add_argument("--save-every", type=float, default=150.0, help="seconds between checkpoints")
    ap.add_argument("--seed-base", type=int, default=0)
    ap.add_argument("--reuse", type=int, default=2, help="samples per generated scene (the 2nd is mirrored)")
    ap.add_argument("--compile", action="store_true")
    args = ap.parse_args()
    start_time = time.time()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "train_log.txt").open("a")

    def say(msg: str) -> None:
        print(msg, flush=True)
        log.write(msg + "\n")
        log.flush()

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    model = YoloV8(len(CLASS_NAMES)).to(dev)
    say(f"model: {count_params(model) / 1e6:.3f} M params, {gflops(model):.2f} GFLOPs at 640")
    model = model.to(memory_format=torch.channels_last)
    opt = optimizer_for(model, args.lr, args.wd)
    ema = ModelEMA(model)
    start_it, trained_s = 0, 0.0
    ckpt = load_checkpoint(out)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        ema.ema.load_state_dict(ckpt["ema"])
        ema.updates = ckpt["ema_updates"]
        restore_optimizer_state(opt, ckpt["optimizer"])
        start_it, trained_s = ckpt["iteration"], ckpt.get("trained_s", 0.0)
        say(f"resumed at iteration {start_it} ({trained_s:.0f} s trained so far)")
    if start_it >= args.iters:
        say(f"already at iteration {start_it} >= --iters {args.iters}; nothing to do")
        return
    say(f"device {dev} {torch.cuda.get_device_name() if dev.type == 'cuda' else ''}; batch {args.batch}; workers {args.workers}; "
        f"iters {start_it}..{args.iters}; seeds {args.seed_base + start_it * args.batch // args.reuse}.."
        f"{args.seed_base + args.iters * args.batch // args.reuse - 1}, each used {args.reuse}x")

    ds = SceneDataset(args.seed_base, start_it * args.batch, (args.iters - start_it) * args.batch, reuse=args.reuse)
    loader = DataLoader(ds, batch_size=args.batch, shuffle=False, num_workers=args.workers, collate_fn=collate,
                        pin_memory=dev.type == "cuda", drop_last=True, worker_init_fn=worker_init, persistent_workers=False, prefetch_factor=4 if args.workers else None)
    criterion = DetectionLoss(len(CLASS_NAMES))
    step_model = torch.compile(model) if args.compile else model
    amp = dev.type == "cuda"
    it = start_it
    last_save = time.time()
    t_window, n_window, wait_window = time.time(), 0, 0.0
    sums = torch.zeros(3, device=dev)
    t_data = time.time()

    def checkpoint() -> None:
        save_checkpoint(out, {
            "model": model.state_dict(), "ema": ema.ema.state_dict(), "ema_updates": ema.updates,
            "optimizer": compact_optimizer_state(opt), "iteration": it, "trained_s": trained_s + (time.time() - start_time),
            "args": vars(args),
        })

    model.train()
    for images, targets in loader:
        wait_window += time.time() - t_data
        lr = lr_at(it, args.iters, args.lr, args.warmup, 0.02)
        for g in opt.param_groups:
            g["lr"] = lr
        images = images.to(dev, non_blocking=True).float().mul_(1.0 / 255.0).contiguous(memory_format=torch.channels_last)
        targets = targets.to(dev, non_blocking=True)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=amp):
            feats = step_model(images)
        loss, parts = criterion(feats, targets, 640)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        ema.update(model)
        sums += parts
        it += 1
        n_window += 1
        if it % 50 == 0 or it == args.iters:
            dt = time.time() - t_window
            s = (sums / n_window).tolist()
            say(f"it {it:6d} lr {lr:.2e} box {s[0]:.3f} cls {s[1]:.3f} dfl {s[2]:.3f} "
                f"{n_window / dt:.2f} it/s data-wait {wait_window / dt * 100:.0f}% elapsed {time.time() - start_time:.0f}s")
            sums.zero_()
            t_window, n_window, wait_window = time.time(), 0, 0.0
        if it >= args.iters or time.time() - start_time > args.time_limit:
            break
        if time.time() - last_save > args.save_every:
            checkpoint()
            last_save = time.time()
        t_data = time.time()
    checkpoint()
    say(f"stopped at iteration {it} after {time.time() - start_time:.0f} s; checkpoint saved in {out}")


if __name__ == "__main__":
    main()
