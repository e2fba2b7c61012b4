"""`aarshjul web` as a real process on a free loopback port, for the web tests and the benchmark."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebServer:
    """`python -m aarshjul web --port N` with the given environment; `url` once /healthz answers."""

    def __init__(self, env: dict[str, str], cwd: Path, *args: str) -> None:
        for attempt in range(5):  # a free port may be taken by another process before the server binds it
            if self._start(env, cwd, args):
                return
        raise RuntimeError(f"aarshjul web found no free port:\n{self.output()}")

    def _start(self, env: dict[str, str], cwd: Path, args: tuple[str, ...]) -> bool:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"web-{self.port}.log"
        self.handle = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aarshjul", "web", "--host", "127.0.0.1", "--port", str(self.port), *args],
            env={**os.environ, "COLUMNS": "200", **env}, cwd=cwd, stdout=self.handle, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                if "address already in use" in self.output():
                    self.handle.close()
                    return False
                raise RuntimeError(f"aarshjul web exited {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"aarshjul web did not answer within 60 s:\n{self.output()}")
            time.sleep(0.1)

    def output(self) -> str:
        self.handle.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.handle.close()
