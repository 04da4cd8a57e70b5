"""The learner's JupyterLab configuration names a kernel connection class that exists and works."""

import json
import pathlib

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from traitlets.utils.importstring import import_item

from courseops.labserver import NoDelayKernelConnection

CONFIG = pathlib.Path(__file__).resolve().parent.parent / "jupyter-config" / "jupyter_server_config.json"


def test_make_lab_uses_the_no_delay_kernel_connection():
    name = json.loads(CONFIG.read_text())["ServerApp"]["kernel_websocket_connection_class"]
    assert import_item(name) is NoDelayKernelConnection
    assert issubclass(NoDelayKernelConnection, ZMQChannelsWebsocketConnection)


def test_connecting_sets_tcp_nodelay_then_connects_as_jupyter_server_does(monkeypatch):
    calls = []

    class Handler:
        def set_nodelay(self, value):
            calls.append(("nodelay", value))

    monkeypatch.setattr(ZMQChannelsWebsocketConnection, "connect", lambda self: calls.append("connect") or "ready")
    monkeypatch.setattr(NoDelayKernelConnection, "websocket_handler", Handler())
    assert NoDelayKernelConnection().connect() == "ready"
    assert calls == [("nodelay", True), "connect"]
