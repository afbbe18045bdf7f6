"""A node that is told to stop (SIGTERM) lets its terminals go at once: their long-polls
answer 304 (they poll again, elsewhere behind a balancer) and the process exits promptly,
instead of holding them to the end of their wait or cutting them with a 500. A terminal
that goes away in the middle of a long-poll is forgotten at once."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, District, LiveServer, login
from tests.playout.orders import bearer, register

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def _terminal(server: LiveServer, serial: str) -> tuple[str, int]:
    """A speaker of village v11 on ``server``: its token and the program version it holds."""
    with httpx.Client(base_url=server.url, timeout=60) as http:
        admin = login(http, "admin", ADMIN_PASSWORD)  # type: ignore[arg-type]
        District(http, admin)  # type: ignore[arg-type]
        token = register(http, admin, "v11", serial)["token"]
        version = http.get("/terminal/v1/program", headers=bearer(token)).json()["version"]
    return str(token), int(version)


def test_sigterm_answers_waiting_long_polls_at_once_and_stops(env: dict[str, str]) -> None:
    server = LiveServer(env).start(timeout=90)
    try:
        token, version = _terminal(server, "DRAIN-1")
        answers: list[tuple[int, float]] = []

        def long_poll() -> None:
            answer = httpx.get(f"{server.url}/terminal/v1/program",
                               params={"version": version, "wait": 50},
                               headers=bearer(token), timeout=60)
            answers.append((answer.status_code, time.monotonic()))

        poll = threading.Thread(target=long_poll)
        poll.start()
        deadline = time.monotonic() + 10
        while "cunxiang_program_waiters 1.0" not in httpx.get(f"{server.url}/metrics").text:
            assert time.monotonic() < deadline, "the long-poll never started waiting"
            time.sleep(0.05)
        assert server.proc is not None
        told = time.monotonic()
        server.proc.terminate()
        poll.join(20)
        server.proc.wait(20)
        stopped = time.monotonic() - told
    finally:
        server.stop()
    assert answers and answers[0][0] == 304
    assert answers[0][1] - told < 3.0  # not at the end of its 50 s wait
    assert stopped < 8.0


def _waiting(server: LiveServer) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    return next(float(line.split()[1]) for line in text.splitlines()
                if line.startswith("cunxiang_program_waiters "))


def test_a_terminal_that_disconnects_mid_long_poll_stops_being_waited_for(
    env: dict[str, str],
) -> None:
    server = LiveServer(env).start(timeout=90)
    try:
        token, version = _terminal(server, "GONE-1")
        with socket.create_connection(("127.0.0.1", server.port)) as terminal:
            terminal.sendall(f"GET /terminal/v1/program?version={version}&wait=50 HTTP/1.1\r\n"
                             f"Host: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
            deadline = time.monotonic() + 10
            while _waiting(server) < 1:
                assert time.monotonic() < deadline, "the long-poll never started waiting"
                time.sleep(0.05)
        gone = time.monotonic()  # the terminal closed its connection
        while _waiting(server) > 0:
            assert time.monotonic() - gone < 5, "still waiting for a terminal that left"
            time.sleep(0.05)
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
        assert 'route="/terminal/v1/program",status="499"} 1.0' in metrics  # not a 500
    finally:
        server.stop()
