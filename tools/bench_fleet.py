"""Fleet benchmark: N simulated devices (each its own bridged Mosquitto and `edge-sdk run` daemon on the sample
video), a central broker, shared-subscription consumers; an uplink outage (every bridge cut from the central broker,
which stays up), local broker restarts and a rollout.

Prints a table and writes JSON (benchmarks/results/fleet_cpu.json by default):
- messages/s end to end: unique detection messages the consumer group received per second, steady state
  (all devices delivering, before the outage) and over the whole run;
- consumer lag: received_time - publish_time (the daemon's hand-over to its publisher -> a consumer), p50/p99/max,
  steady state and over the run (the run includes the backlog of the outage);
- rollout time: desired state published on the central broker -> each device's final report (p50, max);
- delivery: missing (must be 0), duplicates (QoS 1 redeliveries, same message_id), per device.

    python tools/bench_fleet.py --devices 40 --fps 1 --outage 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.fleet_sim.harness import Fleet, FleetSpec


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))], 3)


def _lag(fleet: Fleet, t0: float | None = None, t1: float | None = None) -> dict[str, Any]:
    lags = [r - p for got in fleet.received for (_d, _c, _s, _m, p, r) in list(got)
            if (t0 is None or r >= t0) and (t1 is None or r <= t1)]
    return {"messages": len(lags), "p50_s": _pct(lags, 0.5), "p99_s": _pct(lags, 0.99),
            "max_s": round(max(lags), 3) if lags else None}


def _unique(fleet: Fleet, t0: float, t1: float) -> int:
    return len({(d, c, s) for got in fleet.received for (d, c, s, _m, _p, r) in list(got) if t0 <= r <= t1})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=40)
    ap.add_argument("--fps", type=float, default=1.0, help="each device's camera rate")
    ap.add_argument("--consumers", type=int, default=3)
    ap.add_argument("--steady", type=float, default=30.0, help="seconds of steady state measured before the outage")
    ap.add_argument("--outage", type=float, default=20.0,
                    help="seconds every device is cut from the central broker (the uplink; the broker stays up)")
    ap.add_argument("--restart-locals", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/fleet_cpu.json")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-fleet-"))
    fleet = Fleet(FleetSpec(work, devices=args.devices, fps=args.fps, consumers=args.consumers))
    t_start = time.monotonic()
    fleet.start()
    try:
        names = [d.name for d in fleet.devices]
        print(f"starting {args.devices} devices ...", file=sys.stderr, flush=True)
        startup = fleet.wait(lambda: set(fleet.per_device()) == set(names), 600, "every device delivers")
        s0 = time.time()
        time.sleep(args.steady)
        s1 = time.time()
        print("uplink outage ...", file=sys.stderr, flush=True)
        fleet.cut_uplink(args.outage)
        back = time.time()
        fleet.restart_locals(args.restart_locals)
        plan = {n: "good" for n in names}
        if len(names) >= 3:
            plan[names[0]], plan[names[1]] = "tampered", "gate-fail"
        print("rollout ...", file=sys.stderr, flush=True)
        r0 = time.monotonic()
        fleet.roll_out(plan)
        done: dict[str, float] = {}
        final: dict[str, dict[str, Any]] = {}

        def settled() -> bool:
            for k, v in fleet.reports().items():
                if k not in done and v.get("state") in ("active", "rolled_back") and \
                        (v.get("desired") or {}).get("version") == plan[k]:
                    done[k], final[k] = time.monotonic() - r0, v
            return len(done) == len(names)

        try:
            fleet.wait(settled, 900, "every device reports its rollout")
        except TimeoutError:
            print(f"not every device reported within 900 s: {sorted(set(names) - set(done))}", file=sys.stderr)
        fleet.stop_daemons()
        fleet.wait(fleet.complete, 300, "every frame reaches a consumer")
        delivery = fleet.delivery()
    finally:
        fleet.close()
    unique_total = sum(v["unique"] for v in delivery.values())
    result = {
        "devices": args.devices, "fps_per_device": args.fps, "consumers": args.consumers, "outage_s": args.outage,
        "outage": "uplink: every bridge cut from the central broker, which stays up",
        "startup_s": round(startup, 1), "run_s": round(time.monotonic() - t_start, 1),
        "messages_per_s_steady": round(_unique(fleet, s0, s1) / (s1 - s0), 2),
        "messages_per_s_offered": round(args.devices * args.fps, 2),
        "messages_total": unique_total,
        "lag_steady": _lag(fleet, s0, s1), "lag_after_outage": _lag(fleet, back, back + 30), "lag_all": _lag(fleet),
        "rollout_s": {"p50": round(statistics.median(done.values()), 1) if done else None,
                      "max": round(max(done.values()), 1) if done else None},
        "rollout_unsettled": sorted(set(names) - set(done)),
        "rollout": {s: sorted(n for n, v in final.items() if v["state"] == s) for s in ("active", "rolled_back")},
        "rollback_reasons": {n: v.get("reason") for n, v in final.items() if v["state"] == "rolled_back"},
        "missing": sum(len(v["missing"]) for v in delivery.values()),
        "duplicates": sum(v["duplicates"] for v in delivery.values()),
        "unexplained_duplicates": sum(v["unexplained_duplicates"] for v in delivery.values()),
        "per_consumer": [len(g) for g in fleet.received],
        "host": _host(), "date": time.strftime("%Y-%m-%d"),
    }
    lag_s, lag_o, roll = result["lag_steady"], result["lag_after_outage"], result["rollout_s"]
    rows = [("devices x fps", f"{args.devices} x {args.fps:g}"),
            ("messages/s end to end (steady)", f"{result['messages_per_s_steady']} (offered {result['messages_per_s_offered']})"),
            ("consumer lag steady p50 / p99", f"{lag_s['p50_s']} / {lag_s['p99_s']} s"),
            ("consumer lag after the outage p99 / max", f"{lag_o['p99_s']} / {lag_o['max_s']} s"),
            ("rollout time p50 / max", f"{roll['p50']} / {roll['max']} s"),
            ("rolled out / rolled back", f"{len(result['rollout']['active'])} / {len(result['rollout']['rolled_back'])}"),
            ("missing / duplicates (unexplained)",
             f"{result['missing']} / {result['duplicates']} ({result['unexplained_duplicates']})"),
            ("messages per consumer", ", ".join(map(str, result["per_consumer"])))]
    width = max(len(r[0]) for r in rows)
    print("\n".join(f"{k.ljust(width)}  {v}" for k, v in rows))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {out}", file=sys.stderr)
    return 0 if result["missing"] == 0 and result["unexplained_duplicates"] == 0 else 1


def _host() -> dict[str, Any]:
    import platform

    from edge_sdk.bench.machine import machine_record

    return {**machine_record(), "python": platform.python_version()}


if __name__ == "__main__":
    sys.exit(main())
