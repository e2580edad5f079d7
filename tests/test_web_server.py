"""The server as the command line runs it: ``--serve`` in a real process, and
``start_background`` with settings resolved from the environment (token, listen)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from maid_smart_monitor import config
from maid_smart_monitor.web import WebError, start_background
from webfleet import FLEET, copy_of, make_template, request


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_until_sigterm(template, tmp_path):
    db = copy_of(template, tmp_path)
    port = free_port()
    env = {**os.environ, "MAID_WEB_TOKEN": "", "MAID_CONFIG": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "maid_smart_monitor", "--serve", "--db", db,
         "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                reply = request(url, "/api/health")
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "server did not answer in 30 s"
                time.sleep(0.1)
        assert reply.status == 200 and reply.json()["total_devices"] == len(FLEET)
        assert request(url, "/").status == 200
        assert request(url, "/metrics").status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"on http://127.0.0.1:{port}" in out


def test_start_background_uses_the_settings(template, tmp_path):
    db = copy_of(template, tmp_path)
    settings = config.load({"db_path": db}, environ={
        "MAID_WEB_LISTEN": "127.0.0.1:0", "MAID_WEB_TOKEN": "from-env"})
    server = start_background(settings)
    try:
        assert server.host == "127.0.0.1" and server.port > 0
        alert_id = request(server.url, "/api/alerts").json()["items"][0]["id"]
        ok = request(server.url, f"/api/alerts/{alert_id}/ack", method="POST",
                     body={"note": "via env token"},
                     headers={"Authorization": "Bearer from-env"})
        assert ok.status == 200 and ok.json()["ack_note"] == "via env token"
    finally:
        server.close()
    with pytest.raises(OSError):
        request(server.url, "/api/health")


def test_port_in_use_is_a_clear_error(template, tmp_path):
    db = copy_of(template, tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = config.load({"db_path": db, "web_listen": f"127.0.0.1:{port}"}, environ={})
        with pytest.raises(WebError, match=f"cannot listen on 127.0.0.1:{port}"):
            start_background(settings)
