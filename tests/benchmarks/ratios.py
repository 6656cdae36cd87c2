"""Print steps/second and ratios from a pytest-benchmark JSON file.

    pytest tests/benchmarks --benchmark-only --benchmark-json=bench.json
    python tests/benchmarks/ratios.py bench.json
"""

import json
import sys
from collections import defaultdict


def main(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    groups = defaultdict(dict)
    for b in data["benchmarks"]:
        name = b["name"].split("[")[0].removeprefix("test_")
        dtype = b["params"].get("dtype")
        label = f"{name} {dtype}" if dtype else name
        # the median resists the noise of a shared machine better than the mean
        groups[b["group"]][label] = b["extra_info"]["steps"] / b["stats"]["median"]
    for group, rates in groups.items():
        print(f"{group} workload (steps/second, median round)")
        base = {k: v for k, v in rates.items() if not k.startswith("nbae")}
        for label, rate in sorted(rates.items(), key=lambda kv: -kv[1]):
            ratios = "  ".join(f"{rate / r:7.1f}x {b}" for b, r in base.items() if b != label)
            print(f"  {label:18s} {rate:12.0f}   {ratios}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench.json")
