"""Everyone drags at once: N learners' kernels behind one Jupyter server, each slider moved 20 times a second.

The server is the learner's JupyterLab (``scripts.labdriver.jupyterlab``: the course's
configuration, kernel messages sent with TCP_NODELAY). For each simulated learner a kernel is
started over the REST API and a Python client talks to it over the kernel websocket, as the
browser does: it runs the playground (GD + Momentum + Adam, 200 steps on Rosenbrock), then the
hand moves GD's learning-rate slider to a new value every 50 ms for ``SECONDS`` s, back and
forth between 10⁻⁴ and 10⁻² (one run of GD per change, as in a real drag).

The client sends the changes as ipywidgets' frontend does: one ``update`` in flight per widget;
changes made while it is in flight are merged, the latest value winning, and sent when the kernel
reports idle after the previous one (latest-wins coalescing). A *frame* is the figure widget's
``update`` that answers an update (a PNG before, arrays to draw after). For every change the
latency is the time until the first frame that shows that value or a later one: what a learner
waits from moving the hand to the figure following it. After release the last frame must show
the last value (no stale frame). CPU per frame is the server's and the kernels' CPU time
(``/proc/<pid>/stat``) during the drag divided by the frames sent; "kernel CPU per frame" counts
the kernels alone, measured inside each kernel (``time.process_time``).

Not a test: wall-clock figures on a shared 2-core machine; the load average is printed with them.

    python -m benchmarks workshop             # N = 1, 5, 10
    python -m benchmarks.bench_workshop 10    # N = 10 only
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import sys
import time
import uuid

import numpy as np

from scripts import labdriver

SECONDS = 10.0
RATE = 20.0                               # changes per second per learner
LEARNERS = (1, 5, 10)
TARGET_P95_MS = 100.0
SETUP = ("import os, time, json, optlessons\n"
         "from optlessons.widgets import playground\n"
         "pg = playground(landscape='rosenbrock', optimizers=('GD', 'Momentum', 'Adam'), steps=200)\n"
         "pg.controls['GD.lr'].value = 1e-4\n"
         "print(json.dumps({'slider': pg.controls['GD.lr'].model_id, 'figure': pg.image.model_id,\n"
         "                  'pid': os.getpid(), 'module': optlessons.__file__}))")
CPU_MARK = "_cpu0 = time.process_time()"
CPU_READ = "print(time.process_time() - _cpu0)"
TICK = os.sysconf("SC_CLK_TCK")


def hand(n, seconds=SECONDS, rate=RATE):
    """The values a hand dragging back and forth visits: a triangle wave over 10⁻⁴ … 10⁻² in
    log scale, one way in 2 s, rounded to the slider's 0.05 steps of the exponent."""
    t = np.arange(int(seconds * rate)) / rate
    phase = (t / 4.0 + n * 0.1) % 1.0
    exponent = -4 + 2 * (1 - np.abs(2 * phase - 1))
    return 10 ** (np.round(exponent / 0.05) * 0.05)


def cpu_seconds(pid):
    """User + system CPU time of process ``pid`` so far, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _message(session, msg_type, content, channel="shell"):
    return {"header": {"msg_id": uuid.uuid4().hex, "username": "bench", "session": session,
                       "msg_type": msg_type, "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "content": content, "channel": channel, "buffers": []}


def _decode(frame):
    """A kernel message from a websocket frame: JSON text, or jupyter_server's binary framing
    (uint32 count, uint32 offsets, the JSON message, then its buffers)."""
    if isinstance(frame, str):
        return json.loads(frame)
    (n,) = struct.unpack("!I", frame[:4])
    offsets = struct.unpack("!" + "I" * n, frame[4:4 * (n + 1)])
    end = offsets[1] if n > 1 else len(frame)
    return json.loads(frame[offsets[0]:end])


class Learner:
    """One kernel and its websocket: runs code, and drags the slider with latest-wins coalescing."""

    def __init__(self, lab, kernel_id):
        self.lab, self.kernel_id, self.session = lab, kernel_id, uuid.uuid4().hex
        self.ws = None
        self.waiting = {}                 # msg_id -> future resolved by the reply's idle status
        self.outputs = {}                 # msg_id -> printed text
        self.sent = {}                    # msg_id of an update -> index of the change it carries
        self.frames = []                  # (time, index of the change the frame shows)
        self.ids = None

    async def connect(self):
        from tornado.websocket import websocket_connect
        url = (f"{self.lab.base.replace('http', 'ws')}/api/kernels/{self.kernel_id}/channels"
               f"?session_id={self.session}&token={self.lab.token}")
        self.ws = await websocket_connect(url, max_message_size=64 << 20)
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        while True:
            frame = await self.ws.read_message()
            if frame is None:
                return
            msg = _decode(frame)
            parent = msg.get("parent_header", {}).get("msg_id")
            kind = msg["header"]["msg_type"]
            if kind == "stream" and parent in self.outputs:
                self.outputs[parent] += msg["content"]["text"]
            elif kind == "error" and parent in self.outputs:
                self.outputs[parent] += f"{msg['content']['ename']}: {msg['content']['evalue']}"
            elif (kind == "comm_msg" and self.ids and msg["content"]["comm_id"] == self.ids["figure"]
                  and msg["content"]["data"].get("method") == "update" and parent in self.sent):
                self.frames.append((time.perf_counter(), self.sent[parent]))
            elif kind == "status" and msg["content"]["execution_state"] == "idle" and parent in self.waiting:
                self.waiting.pop(parent).set_result(time.perf_counter())

    def _send(self, msg):
        """Send ``msg`` on the shell channel; returns a future done when the kernel is idle after it."""
        done = self.waiting[msg["header"]["msg_id"]] = asyncio.get_running_loop().create_future()
        self.ws.write_message(json.dumps(msg))
        return done

    async def run(self, code):
        """Execute ``code`` in the kernel and return what it printed (after the kernel is idle)."""
        msg = _message(self.session, "execute_request", {"code": code, "silent": False, "store_history": False,
                                                         "user_expressions": {}, "allow_stdin": False})
        msg_id = msg["header"]["msg_id"]
        self.outputs[msg_id] = ""
        await self._send(msg)
        return self.outputs.pop(msg_id)

    def _update(self, index, value):
        msg = _message(self.session, "comm_msg", {"comm_id": self.ids["slider"], "data": {
            "method": "update", "state": {"value": float(value)}, "buffer_paths": []}})
        self.sent[msg["header"]["msg_id"]] = index
        return self._send(msg)

    async def drag(self, values, rate=RATE):
        """Move the slider through ``values`` at ``rate`` per second; returns the change times.

        As ipywidgets' frontend: while an update is in flight (the kernel not yet idle after it),
        new values replace the pending one; the pending one goes out as soon as the kernel is idle."""
        changes, state = [], {"in_flight": None, "pending": None}

        def send(i, value):
            state["in_flight"] = self._update(i, value)
            state["in_flight"].add_done_callback(answered)

        def answered(_):
            state["in_flight"], pending, state["pending"] = None, state["pending"], None
            if pending is not None:
                send(*pending)

        start = time.perf_counter()
        for i, value in enumerate(values):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            changes.append(time.perf_counter())
            if state["in_flight"] is None:
                send(i, value)
            else:
                state["pending"] = (i, value)            # merged: the latest value wins
        while state["in_flight"] is not None:            # release: until the last value is answered
            await state["in_flight"]
            await asyncio.sleep(0)                       # let ``answered`` send what was pending
        return changes


def latencies(changes, frames):
    """For each change i (time ``changes[i]``), the time to the first frame showing change i or a
    later one; None if no frame came after it."""
    out = []
    for i, t in enumerate(changes):
        later = [ft for ft, shown in frames if shown >= i and ft >= t]
        out.append(min(later) - t if later else None)
    return out


async def _start_kernel(lab):
    from tornado.httpclient import AsyncHTTPClient
    reply = await AsyncHTTPClient().fetch(f"{lab.base}/api/kernels", method="POST", body=json.dumps(
        {"name": "python3"}), headers={"Authorization": f"token {lab.token}"}, request_timeout=120)
    return json.loads(reply.body)["id"]


async def _session(lab, n, seconds, server_pid):
    kernel_ids = [await _start_kernel(lab) for _ in range(n)]
    learners = [Learner(lab, k) for k in kernel_ids]
    for learner in learners:
        await learner.connect()
    for learner in learners:                                      # one at a time: setup is not measured
        out = await asyncio.wait_for(learner.run(SETUP), 180)
        learner.ids = json.loads(out.strip().splitlines()[-1])
    await asyncio.gather(*(learner.run(CPU_MARK) for learner in learners))
    pids = [server_pid] + [learner.ids["pid"] for learner in learners]
    cpu0 = {pid: cpu_seconds(pid) for pid in pids}
    load = os.getloadavg()
    t0 = time.perf_counter()
    changes = await asyncio.gather(*(learner.drag(hand(i, seconds)) for i, learner in enumerate(learners)))
    wall = time.perf_counter() - t0
    cpu = {pid: cpu_seconds(pid) - cpu0[pid] for pid in pids}
    kernel_cpu = [float(await learner.run(CPU_READ)) for learner in learners]
    lat, frames, stale = [], 0, 0
    for learner, times in zip(learners, changes):
        lat += latencies(times, learner.frames)
        frames += len(learner.frames)
        stale += not learner.frames or learner.frames[-1][1] != len(times) - 1
    for learner in learners:
        learner.ws.close()
    return {"n": n, "load": load, "wall": wall, "changes": sum(len(c) for c in changes), "frames": frames,
            "latencies_ms": [1e3 * x for x in lat if x is not None], "unanswered": sum(x is None for x in lat),
            "stale": stale, "cpu_total": sum(cpu.values()), "cpu_server": cpu[server_pid],
            "kernel_cpu": sum(kernel_cpu), "module": learners[0].ids["module"]}


def measure(n, seconds=SECONDS):
    """Start a server and ``n`` kernels, drag in every kernel at once, and return the figures."""
    with labdriver.jupyterlab() as lab:
        server_pid = _server_pid(lab)
        return asyncio.run(_session(lab, n, seconds, server_pid))


def _server_pid(lab):
    """The pid of the JupyterLab serving ``lab`` (the one whose root directory it is)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if f"--ServerApp.root_dir={lab.root}".encode() in cmd:
                return int(entry)
    raise RuntimeError("the JupyterLab process was not found")


def row(r):
    """One markdown table row of a ``measure`` result."""
    lat = np.asarray(r["latencies_ms"])
    p50, p95 = np.percentile(lat, [50, 95]) if len(lat) else (float("nan"),) * 2
    per_frame = lambda cpu: 1e3 * cpu / max(r["frames"], 1)  # noqa: E731
    return (f"| {r['n']} | {r['load'][0]:.1f} | {r['changes']} | {r['frames']} "
            f"({r['frames'] / r['wall'] / r['n']:.1f}/s each) | {p50:.0f} ms | {p95:.0f} ms | "
            f"{lat.max():.0f} ms | {r['unanswered']} | {per_frame(r['kernel_cpu']):.1f} ms | "
            f"{per_frame(r['cpu_total']):.1f} ms | {r['kernel_cpu'] / r['wall'] / r['n']:.2f} | "
            f"{'none' if not r['stale'] else r['stale']} |")


HEADER = ("| learners | load (1 min) | changes | frames | change → frame, median | p95 | max | changes "
          "never shown | kernel CPU per frame | server + kernels CPU per frame | CPU cores per dragging "
          "learner | stale final frames |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")


def main(learners=LEARNERS):
    print(f"GD's lr dragged at {RATE:.0f} changes/s for {SECONDS:.0f} s in every kernel at once "
          f"(playground, GD + Momentum + Adam, 200 steps, Rosenbrock); target p95 ≤ {TARGET_P95_MS:.0f} ms at "
          "N = 10; load average at the start of each drag\n")
    print(HEADER)
    for n in learners:
        r = measure(n)
        print(row(r), flush=True)
    print(f"\nkernels imported {r['module']}")


if __name__ == "__main__":
    main(tuple(int(a) for a in sys.argv[1:]) or LEARNERS)
