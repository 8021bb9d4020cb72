"""The machine a figure was measured on, for every benchmark's table and JSON: the CPU model, its integer
dot-product instruction set (quant/cpu_isa.py: avx512_vnni, avx2, neon, ...), the cores, and how busy the host
was when this was called. One record, so the CPU is named the same way everywhere."""

from __future__ import annotations

import os
from typing import Any

from edge_sdk.quant.cpu_isa import detect


def machine_record() -> dict[str, Any]:
    isa = detect()
    return {"cpu": isa.model, "arch": isa.arch, "isa": isa.dot, "avx512_vnni": isa.dot == "avx512_vnni",
            "cores": os.cpu_count(), "load_average": [round(v, 2) for v in os.getloadavg()]}
