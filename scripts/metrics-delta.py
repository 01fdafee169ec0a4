#!/usr/bin/env python3
"""What the service's latency histograms gained between two /metrics snapshots, as JSON:
calls and mean milliseconds per HTTP operation and per storage operation (ok outcomes only).

    scripts/metrics-delta.py BEFORE AFTER

The benches take a snapshot around a scenario, so a request's mean sits beside the means of
the storage calls made meanwhile.
"""
import json
import re
import sys

SAMPLE = re.compile(r'^(uc_\w+?)_(sum|count)\{([^}]*)\} (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def totals(path):
    """(family, labels) -> [sum, count] for the two histograms the benches read."""
    found = {}
    with open(path) as f:
        for line in f:
            match = SAMPLE.match(line.strip())
            if not match:
                continue
            family, kind, labels, value = match.groups()
            labels = dict(LABEL.findall(labels))
            if family == "uc_http_request_duration_seconds":
                key = ("http", f"{labels.get('method')} {labels.get('route')}")
            elif family == "uc_storage_request_duration_seconds" and labels.get("outcome") == "ok":
                key = ("storage", labels.get("operation"))
            else:
                continue
            slot = found.setdefault(key, [0.0, 0.0])
            slot[0 if kind == "sum" else 1] += float(value)
    return found


def main():
    before, after = totals(sys.argv[1]), totals(sys.argv[2])
    report = {"http": {}, "storage": {}}
    for key, (total, count) in after.items():
        total0, count0 = before.get(key, [0.0, 0.0])
        calls = count - count0
        if calls > 0:
            report[key[0]][key[1]] = {
                "calls": int(calls),
                "mean_ms": (total - total0) / calls * 1000,
            }
    json.dump(report, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
