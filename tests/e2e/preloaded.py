"""Single-worker servers forked from a process that has already imported the application.

A new interpreter spends about 2 s of CPU importing ``tally.app`` (nearly all of it SQLAlchemy, Litestar and
advanced-alchemy's own imports), and the suite starts some fifty single-worker servers. The standard library's
forkserver, told to preload ``tally.app``, imports it once per test worker; each server is then forked from it and
runs uvicorn's own command line (``uvicorn.main``) with the arguments ``uvicorn`` would get: the same process
serving the same app over HTTP, born by fork instead of exec. Multi-worker servers and ``tally serve`` still start
as a new interpreter (``start_server``): uvicorn spawns their workers itself, and prometheus_client reads
``PROMETHEUS_MULTIPROC_DIR`` when it is imported.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys

import uvicorn.main

_FORKSERVER = multiprocessing.get_context("forkserver")
_FORKSERVER.set_forkserver_preload(["uvicorn.main", "tally.app"])


def _serve(arguments: list[str], environ: dict[str, str], log: str) -> None:
    """In the forked process: the given environment, stdout and stderr to ``log``, then uvicorn's command line."""
    os.environ.clear()
    os.environ.update(environ)
    output = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    sys.argv = ["uvicorn", *arguments]
    uvicorn.main.main(args=arguments, prog_name="uvicorn")


class ForkedServer:
    """The part of ``subprocess.Popen``'s interface the tests use, for a server forked by ``fork_server``."""

    def __init__(self, process: multiprocessing.process.BaseProcess) -> None:
        self._process = process
        self.pid = process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(["uvicorn"], timeout or 0)
        return self._process.exitcode

    def send_signal(self, signal: int) -> None:
        if self._process.exitcode is None and self.pid is not None:
            os.kill(self.pid, signal)

    def terminate(self) -> None:
        self._process.terminate()

    def kill(self) -> None:
        self._process.kill()


def fork_server(arguments: list[str], environ: dict[str, str], log: str) -> ForkedServer:
    """Start ``uvicorn <arguments>`` with ``environ`` as its whole environment, its output appended to ``log``."""
    process = _FORKSERVER.Process(target=_serve, args=(arguments, environ, log), daemon=True)
    process.start()
    return ForkedServer(process)
