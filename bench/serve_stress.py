"""`smolora serve` under a burst of clients: 100 at once over loopback, valid and hostile
requests mixed. Prints the answers by status, the wall time, and the server's memory before,
at peak and after; then stops the server with SIGTERM and prints its exit code.

    .venv/bin/python bench/serve_stress.py runs/quickstart/latest [--clients 100]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HOSTILE = [
    b'{"messages": [{"role": "user", "content": "\\ud800"}]}',
    b'{"messages": [{"role": "wizard", "content": "hi"}]}',
    b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": true}',
    b'{"prompt": ""}',
    b"[" * 100_000 + b"]" * 100_000,
    json.dumps({"prompt": "fox " * 20_000}).encode(),  # far over the context
    b"{not json",
]


def memory_kb(pid: int) -> dict[str, int]:
    """The process's resident memory now and at its peak, from /proc."""
    fields = dict(
        re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    )
    return {name: int(value) for name, value in fields.items()}


def send(port: int, path: str, body: bytes) -> int:
    """POST one request; its HTTP status, or 0 when the connection failed without an answer."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        status = connection.getresponse().status
        connection.close()
        return status
    except OSError:
        return 0


def main() -> int:
    """Start the server, send the burst, report, stop it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--clients", type=int, default=100)
    args = parser.parse_args()
    smolora = Path(sys.executable).with_name("smolora")
    server = subprocess.Popen(
        [str(smolora), "serve", str(args.run_dir), "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert server.stderr is not None
    line = server.stderr.readline()
    port = int(re.search(r":(\d+)/v1", line).group(1))  # type: ignore[union-attr]
    before = memory_kb(server.pid)
    valid = json.dumps(
        {"messages": [{"role": "user", "content": "What is LoRA?"}], "max_tokens": 4}
    ).encode()
    requests = [
        ("/v1/chat/completions", valid if n % 2 else HOSTILE[n // 2 % len(HOSTILE)])
        for n in range(args.clients)
    ]
    started = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        statuses = list(pool.map(lambda request: send(port, *request), requests))
    wall = time.perf_counter() - started
    after = memory_kb(server.pid)
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=120)
    counts = collections.Counter(statuses)
    print(f"clients: {args.clients} (half valid, half hostile); answered in {wall:.1f} s")
    print("statuses: " + ", ".join(f"{s or 'no answer'}: {n}" for s, n in sorted(counts.items())))
    print(
        f"server memory: {before['VmRSS'] / 1024:.0f} MB before, "
        f"{after['VmHWM'] / 1024:.0f} MB peak, {after['VmRSS'] / 1024:.0f} MB after"
    )
    print(f"SIGTERM: exit code {code}")
    return 0 if 0 not in counts and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
