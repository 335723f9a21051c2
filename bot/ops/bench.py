"""`make bench`: closed-loop load on the REST channel; not a test.

Targets, each started, measured at 1, 10 and 50 concurrent senders, and stopped:

  a  vanilla   Rasa 3.6 starter assistant (`rasa init --no-prompt`, trained once and cached in
               var/bench/vanilla), in-memory stores, no action server
  b  embedded  this stack on its defaults: one action server, one Rasa server, SQLite
  c  prod      the production profile (bot.ops.prod): 2 Rasa replicas + 2 action servers behind
               nginx, PostgreSQL tracker store and trial database, Redis lock store

Each sender sends the message mix in turn, waiting for each answer (closed loop), for
BENCH_SECONDS (default 20) per level after a warm-up. Reported: throughput (messages/s),
p50/p95/p99 latency, peak memory (sum of RSS of the target's processes, sampled every 0.5 s),
ratios to (a). Written to results/bench.json and results/bench.txt.

Environment: BENCH_TARGETS (default "a,b,c"; BENCH_MERGE=1 keeps earlier targets' figures),
BENCH_LEVELS ("1,10,50"), BENCH_SECONDS,
BENCH_POSTGRES_URL (default postgresql://root@127.0.0.1:5432/test),
BENCH_REDIS_URL (default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import aiohttp

from bot.config import ROOT, get_settings, use_settings
from bot.ops.stack import action_command, rasa_command, stack_env
from bot.ops.supervisor import Supervisor

BENCH_DIR = get_settings().var_dir / "bench"
RESULTS = ROOT / "results"
BIN = Path(sys.executable).parent
# A realistic patient mix in both languages (each sender keeps to one): status, contact, study
# facts, chit-chat, out of scope, typos, Traditional characters.
MIX_EN = [
    "hello",
    "is the study recruiting?",
    "what's the phone number",
    "who runs this study?",
    "where is the trial done",
    "whats the fone numbr to call",
    "are there other liver cancer trials recruiting?",
    "what is H101?",
    "thank you",
    "what's the weather tomorrow",
    "can i email them",
    "bye",
]
MIX_ZH = [
    "你好",
    "试验现在招人吗",
    "医生电话多少",
    "这个研究是哪个医院做的",
    "在哪里做试验",
    "联系电化是多少",
    "还有别的正在招募的肝癌试验吗",
    "H101是什么药",
    "谢谢",
    "明天西安天气怎么样",
    "有邮箱吗",
    "請問這個試驗費用是多少",
]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- memory ---------------------------------------------------------------------------------


def _children(pid: int) -> List[int]:
    try:
        out = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    found = [int(p) for p in out]
    for child in list(found):
        found += _children(child)
    return found


def rss_bytes(pids: List[int]) -> int:
    """Sum of VmRSS over the processes and all their descendants, each counted once."""
    total, seen = 0, set()
    for pid in pids:
        for p in [pid] + _children(pid):
            if p in seen:
                continue
            seen.add(p)
            try:
                for line in Path(f"/proc/{p}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                pass
    return total


class MemorySampler(threading.Thread):
    def __init__(self, pids: List[int]):
        super().__init__(daemon=True)
        self.pids, self.peak, self._stop_event = pids, 0, threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, rss_bytes(self.pids))
            self._stop_event.wait(0.5)

    def stop(self) -> int:
        self._stop_event.set()
        self.join(timeout=5)
        return self.peak


# -- load -----------------------------------------------------------------------------------


async def closed_loop(url: str, senders: int, seconds: float, warmup: float = 3) -> Dict:
    latencies: List[float] = []
    errors = 0
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=senders + 5)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        start = time.monotonic()
        measure_from, stop_at = start + warmup, start + warmup + seconds

        async def sender(n: int) -> None:
            nonlocal errors
            name, i = f"bench-{n}-{uuid.uuid4().hex[:6]}", n
            mix = MIX_ZH if n % 2 else MIX_EN  # half the senders write Chinese
            while time.monotonic() < stop_at:
                body = {"sender": name, "message": mix[i % len(mix)]}
                i += 1
                sent = time.monotonic()
                try:
                    async with session.post(url, json=body) as response:
                        await response.read()
                        ok = response.status == 200
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    ok = False
                done = time.monotonic()
                if sent >= measure_from and done <= stop_at:
                    if ok:
                        latencies.append(done - sent)
                    else:
                        errors += 1
                if i % len(mix) == 0:  # a fresh conversation now and then
                    name = f"bench-{n}-{uuid.uuid4().hex[:6]}"

        await asyncio.gather(*(sender(n) for n in range(senders)))
    ordered = sorted(latencies)

    def pct(p: float) -> Optional[float]:
        if not ordered:
            return None
        return round(1000 * ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1)

    return {
        "senders": senders,
        "messages": len(ordered),
        "errors": errors,
        "throughput": round(len(ordered) / seconds, 2),
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "mean_ms": round(1000 * statistics.mean(ordered), 1) if ordered else None,
    }


# -- targets --------------------------------------------------------------------------------


def vanilla_project() -> Path:
    """`rasa init --no-prompt` trained once, cached under var/bench/vanilla."""
    project = BENCH_DIR / "vanilla"
    if not list((project / "models").glob("*.tar.gz")):
        shutil.rmtree(project, ignore_errors=True)
        project.mkdir(parents=True)
        print("training the vanilla starter assistant (once; a few minutes)...", flush=True)
        subprocess.run(
            [str(BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(project)],
            cwd=project,
            env=stack_env(),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return project


class Target:
    """A system under load: `start()` sets `url` and `supervisor`, which holds its processes."""

    name = ""
    label = ""
    url = ""
    supervisor: Supervisor

    def start(self) -> None: ...

    def stop(self) -> None:
        self.supervisor.stop_all()

    @property
    def pids(self) -> List[int]:
        return [p.pid for p in self.supervisor.processes.values()]


class Vanilla(Target):
    name, label = "a", "vanilla Rasa 3.6 starter (rasa init), in-memory stores"

    def start(self) -> None:
        project = vanilla_project()
        port = free_port()
        self.supervisor = Supervisor(stack_env(), BENCH_DIR / "logs")
        self.supervisor.start(
            "a-rasa",
            [
                str(BIN / "rasa"),
                "run",
                "--port",
                str(port),
                "--interface",
                "127.0.0.1",
                "--model",
                "models",
            ],
            f"http://127.0.0.1:{port}/",
            600,
            cwd=project,
        )
        self.url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"


class Embedded(Target):
    name, label = "b", "this stack, embedded defaults (1 Rasa, 1 action server, SQLite)"

    def start(self) -> None:
        work = BENCH_DIR / "embedded"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        action_port, rasa_port = free_port(), free_port()
        env = {
            **stack_env(),
            "TRIAL_DATABASE_URL": f"sqlite:///{work / 'trials.db'}",
            "TRACKER_STORE_URL": f"sqlite:///{work / 'tracker.db'}",
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
        }
        subprocess.run(
            [sys.executable, "-m", "bot", "seed"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.supervisor = Supervisor(env, BENCH_DIR / "logs")
        self.supervisor.start(
            "b-actions", action_command(action_port), f"http://127.0.0.1:{action_port}/health", 600
        )
        self.supervisor.start(
            "b-rasa", rasa_command(rasa_port), f"http://127.0.0.1:{rasa_port}/", 600
        )
        self.url = f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"


class Production(Target):
    name, label = "c", "production profile: 2 Rasa + 2 action servers, nginx, PostgreSQL, Redis"

    def start(self) -> None:
        from dataclasses import replace

        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        from bot.ops import prod

        admin_url = os.environ.get("BENCH_POSTGRES_URL") or "postgresql://root@127.0.0.1:5432/test"
        redis_url = os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/0"
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", future=True)
        self.databases = []
        with engine.connect() as connection:
            for kind in ("trials", "tracker"):
                name = f"trialbot_bench_{kind}_{uuid.uuid4().hex[:8]}"
                connection.execute(text(f'CREATE DATABASE "{name}"'))
                self.databases.append(name)
        engine.dispose()
        self.admin_url = admin_url
        trials_url, tracker_url = (str(make_url(admin_url).set(database=n)) for n in self.databases)
        profile = replace(
            prod.Profile.from_settings(get_settings()),
            var_dir=BENCH_DIR / "prod",
            public_port=free_port(),
            action_port=free_port(),
            web_port=free_port(),
            rasa_port_list=[free_port(), free_port()],
            action_port_list=[free_port(), free_port()],
        )
        env = {
            **stack_env(),
            "TRIAL_DATABASE_URL": trials_url,
            "TRACKER_STORE_URL": tracker_url,
            "REDIS_URL": redis_url,
            "REDIS_LOCK_PREFIX": "trialbotbench",
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{profile.action_port}/webhook",
        }
        subprocess.run(
            [sys.executable, "-m", "bot", "seed"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.supervisor = prod.start_profile(
            profile, env, log_dir=BENCH_DIR / "logs" / "prod", web=False
        )
        self.url = f"http://127.0.0.1:{profile.public_port}/webhooks/rest/webhook"

    def stop(self) -> None:
        from sqlalchemy import create_engine, text

        super().stop()
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT", future=True)
        with engine.connect() as connection:
            for name in self.databases:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


TARGETS = {"a": Vanilla, "b": Embedded, "c": Production}


def run(targets: List[str], levels: List[int], seconds: float) -> Dict:
    report: Dict = {
        "cores": os.cpu_count(),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "seconds_per_level": seconds,
        "message_mix": {"en": MIX_EN, "zh": MIX_ZH},
        "targets": {},
    }
    for key in targets:
        target = TARGETS[key]()
        print(f"== ({key}) {target.label}: starting", flush=True)
        target.start()
        sampler = MemorySampler(target.pids)
        sampler.start()
        try:
            rows = []
            for level in levels:
                row = asyncio.run(closed_loop(target.url, level, seconds))
                print(
                    f"   {level:>3} senders: {row['throughput']:>7} msg/s  p50 {row['p50_ms']} "
                    f"p95 {row['p95_ms']} p99 {row['p99_ms']} ms  errors {row['errors']}",
                    flush=True,
                )
                rows.append(row)
        finally:
            peak = sampler.stop()
            target.stop()
        report["targets"][key] = {
            "label": target.label,
            "levels": rows,
            "peak_rss_mb": round(peak / 2**20, 1),
        }
    add_ratios(report)
    return report


def _row(report: Dict, target: str, senders: int) -> Optional[Dict]:
    levels = report["targets"].get(target, {}).get("levels", [])
    return next((r for r in levels if r["senders"] == senders), None)


def add_ratios(report: Dict) -> None:
    """Each row's throughput as a multiple of (a)'s and (b)'s at the same number of senders."""
    for data in report["targets"].values():
        for row in data["levels"]:
            for base in ("a", "b"):
                ref = _row(report, base, row["senders"])
                row[f"throughput_vs_{base}"] = (
                    round(row["throughput"] / ref["throughput"], 2)
                    if ref and ref["throughput"]
                    else None
                )


def target_lines(report: Dict) -> List[str]:
    """The issue's targets, each with the measured figure and whether it was met."""
    checks = []
    b10, b1, c10 = _row(report, "b", 10), _row(report, "b", 1), _row(report, "c", 10)
    if b10 and b10.get("throughput_vs_a") is not None:
        checks.append(
            (
                "(b) >= 0.9x (a) throughput at 10 senders",
                b10["throughput_vs_a"] >= 0.9,
                f"{b10['throughput_vs_a']}x",
            )
        )
    if b1 and b1["p95_ms"] is not None:
        checks.append(("(b) p95 <= 150 ms at 1 sender", b1["p95_ms"] <= 150, f"{b1['p95_ms']} ms"))
    if c10 and c10.get("throughput_vs_b") is not None:
        checks.append(
            (
                "(c) >= 1.5x (b) throughput at 10 senders",
                c10["throughput_vs_b"] >= 1.5,
                f"{c10['throughput_vs_b']}x",
            )
        )
    return [f"  {'met   ' if ok else 'MISSED'}  {name}: {value}" for name, ok, value in checks]


def text_report(report: Dict) -> str:
    lines = [
        f"benchmark: {report['cores']} cores ({report['machine']}), "
        f"{report['seconds_per_level']} s per level, closed loop on the REST channel",
        "rate limits: " + ", ".join(f"{n}={os.environ.get(n, '')}" for n in UNLIMITED),
        "",
    ]
    for key, data in report["targets"].items():
        lines.append(f"({key}) {data['label']}  peak RSS {data['peak_rss_mb']} MB")
        lines.append("  senders  msg/s   p50 ms  p95 ms  p99 ms  errors  vs (a)  vs (b)")
        for r in data["levels"]:
            lines.append(
                f"  {r['senders']:>7}  {r['throughput']:>6}  {r['p50_ms']!s:>6}  "
                f"{r['p95_ms']!s:>6}  {r['p99_ms']!s:>6}  {r['errors']:>6}  "
                f"{r.get('throughput_vs_a')!s:>6}  {r.get('throughput_vs_b')!s:>6}"
            )
        lines.append("")
    checks = target_lines(report)
    if checks:
        lines += ["targets:"] + checks
    if "c" in report["targets"] and report["cores"] and report["cores"] < 4:
        lines.append(
            f"note: on {report['cores']} cores the two Rasa replicas of (c) share them "
            "with two action servers, nginx, PostgreSQL, Redis and the load generator; "
            "(c)'s ratio to (b) is bounded by the cores, not by the replicas."
        )
    return "\n".join(lines) + "\n"


# One client address in a closed loop: the per-address and per-conversation limits would
# measure themselves, not the stack (set these to measure with limits on).
UNLIMITED = (
    "RATE_LIMIT_PER_ADDRESS",
    "RATE_LIMIT_PER_CONVERSATION",
    "PROD_PUBLIC_RATE",
    "PROD_PUBLIC_CONNECTIONS",
)


def main() -> int:
    for name in UNLIMITED:
        os.environ.setdefault(name, "0")
    use_settings(None)  # read again, with the limits off
    targets = [t for t in os.environ.get("BENCH_TARGETS", "a,b,c").split(",") if t]
    levels = [int(x) for x in os.environ.get("BENCH_LEVELS", "1,10,50").split(",")]
    seconds = float(os.environ.get("BENCH_SECONDS", "20"))
    report = run(targets, levels, seconds)
    RESULTS.mkdir(exist_ok=True)
    previous = RESULTS / "bench.json"
    if os.environ.get("BENCH_MERGE") and previous.exists():
        # Keep the targets measured earlier (run in parts: BENCH_TARGETS=c BENCH_MERGE=1).
        old = json.loads(previous.read_text())
        report["targets"] = {
            **{k: v for k, v in old.get("targets", {}).items() if k not in report["targets"]},
            **report["targets"],
        }
        report["targets"] = dict(sorted(report["targets"].items()))
        add_ratios(report)
    (RESULTS / "bench.json").write_text(json.dumps(report, indent=2))
    summary = text_report(report)
    (RESULTS / "bench.txt").write_text(summary)
    print("\n" + summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
