"""A two-node Ray cluster on this machine, for the Ray tests and `bench/ray_two_nodes.py`.

Ray replaces `--node-ip-address=127.0.0.1` with the host's external address, and tests may send
traffic to loopback only, so the cluster runs inside a loopback-only network namespace: the
script that uses it is started through `namespace_command(...)` (`unshare --net`, as root), and
in there `LoopbackCluster` brings `lo` up and starts the nodes. The namespace also has its own
process ids (`--pid --mount-proc`): `ray stop` in there sees only this cluster's processes, and
when the script ends (or is killed, `--kill-child`) the kernel ends every process in it.

Token login (Ray 2.60): `HOME` points at the cluster's own folder, `RAY_AUTH_MODE=token`, and
`ray get-auth-token --generate` runs before the head starts; the nodes and the driver (this
process) share that environment. Each node gets its own Ray temp dir and its own `TMPDIR`, so
a job's scratch files on "node2" are not the head's.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

RAY = str(Path(sys.executable).parent / "ray")
HEAD_PORT = 6390
ADDRESS = f"127.0.0.1:{HEAD_PORT}"
NAMESPACE = ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc"]
def namespace_command(argv: list[str]) -> list[str]:
    """`argv` run inside a fresh loopback-only network namespace with its own process ids."""
    return [*NAMESPACE, *argv]


def namespace_problem() -> str | None:
    """Why a loopback-only namespace cannot be made here (not root, no `unshare`), or None."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "`unshare` or `ip` is not installed"
    try:
        result = subprocess.run(namespace_command(["ip", "link", "set", "lo", "up"]), capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"`unshare` failed: {error}"
    if result.returncode != 0:
        return f"`unshare --net --pid` is not permitted here (run as root): {result.stderr.strip()}"
    return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return " ".join(f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile") if f in flags)
    except OSError:
        pass
    return "unknown"


class LoopbackCluster:
    """A head and a second node ("node2"), `cpus` CPUs each, with custom resources `head` and `node2`.

    Call inside the namespace only (see `namespace_command`). `os.environ` of this process is
    set up for the driver too (HOME, RAY_AUTH_MODE, RAY_ADDRESS).
    """

    def __init__(self, workdir: str | os.PathLike, cpus: int = 1, pin_cores: bool = False):
        self.workdir = Path(workdir)
        self.cpus = cpus
        # Each node's processes (raylet, agents, workers) on cores of their own, as on separate machines:
        # the head on the first `cpus` cores, node2 on the next `cpus` (`taskset`, inherited by children).
        self.cores = {"head": f"0-{cpus - 1}", "node2": f"{cpus}-{2 * cpus - 1}"} if pin_cores else {}
        self.dirs = {name: self.workdir / name for name in ("home", "head-ray", "node2-ray", "head-tmp", "node2-tmp")}
        self.timings: dict[str, float] = {}

    def _run(self, args: list[str], env: dict, label: str) -> None:
        started = time.monotonic()
        result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=180)
        self.timings[label] = round(time.monotonic() - started, 2)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:3])} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")

    def start(self) -> None:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        for path in self.dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        os.environ.update(HOME=str(self.dirs["home"]), RAY_AUTH_MODE="token", RAY_ADDRESS=ADDRESS)
        os.environ.pop("RAY_NODE_IP_ADDRESS", None)
        base = dict(os.environ)
        self._run([RAY, "get-auth-token", "--generate"], base, "token")
        head_env = {**base, "TMPDIR": str(self.dirs["head-tmp"])}
        self._run([*self._pin("head"), RAY, "start", "--head", f"--port={HEAD_PORT}", f"--num-cpus={self.cpus}", "--resources", json.dumps({"head": 1}),
                   "--include-dashboard=false", f"--temp-dir={self.dirs['head-ray']}", "--disable-usage-stats"], head_env, "head_start")
        node_env = {**base, "TMPDIR": str(self.dirs["node2-tmp"])}
        self._run([*self._pin("node2"), RAY, "start", f"--address={ADDRESS}", f"--num-cpus={self.cpus}", "--resources", json.dumps({"node2": 1}),
                   f"--temp-dir={self.dirs['node2-ray']}", "--dashboard-agent-listen-port=52366", "--disable-usage-stats"],
                  node_env, "node2_start")

    def _pin(self, node: str) -> list[str]:
        return ["taskset", "-c", self.cores[node]] if node in self.cores else []

    def node2_pids(self) -> list[int]:
        """Every process of node2: those naming its temp dir, and all their descendants (its workers)."""
        marker = str(self.dirs["node2-ray"]).encode()
        parents: dict[int, int] = {}
        roots = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            pid = int(entry.name)
            parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
            if marker in cmdline:
                roots.add(pid)
        found = set(roots)
        while True:  # add children until nothing new
            more = {pid for pid, parent in parents.items() if parent in found} - found
            if not more:
                break
            found |= more
        return sorted(found - {os.getpid()})

    def kill_node2(self) -> list[int]:
        """SIGKILL node2's raylet, agents and workers at once, as if its machine lost power."""
        pids = self.node2_pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pids

    def stop(self) -> None:
        subprocess.run([RAY, "stop", "--force"], env=dict(os.environ), capture_output=True, timeout=120)
