"""The course's JupyterLab server, in code: kernel messages reach the browser without Nagle's delay.

``jupyter-config/jupyter_server_config.json`` (the configuration ``make lab`` starts JupyterLab
with) sets ``ServerApp.kernel_websocket_connection_class`` to :class:`NoDelayKernelConnection`.

Why: jupyter_server writes kernel messages to the browser's websocket with Nagle's algorithm on
(Tornado's default), so a short write that follows another waits for the browser's delayed
acknowledgement, 40 ms on Linux. A widget's figure is such a write: measured in Chromium on
the playground (``python -m benchmarks browser_latency``), the trip from the kernel to the page
took 45 ms (median) with Nagle and 16 ms without, for the same messages.
"""

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection


class NoDelayKernelConnection(ZMQChannelsWebsocketConnection):
    """jupyter_server's kernel websocket connection with ``TCP_NODELAY`` set on its socket."""

    def connect(self):
        self.websocket_handler.set_nodelay(True)
        return super().connect()
