"""bench.common.CpuMeter: CPU time per operation of groups of processes, read from /proc."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import CpuMeter, cpu_seconds

pytestmark = [pytest.mark.unit, pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")]

# Says it is ready, waits for a line on stdin, then burns 0.3 s of its own CPU time and says so: CPU time, not
# wall time, so a loaded machine only makes it take longer; interpreter start-up happens before the meter starts.
_BURNER = """
import sys, time
print("ready", flush=True)
sys.stdin.readline()
start = time.process_time()
while time.process_time() - start < 0.3:
    pass
print("done", flush=True)
sys.stdin.readline()
"""


def test_the_meter_counts_a_busy_process_and_not_an_idle_one() -> None:
    busy = subprocess.Popen([sys.executable, "-c", _BURNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    idle = subprocess.Popen([sys.executable, "-c", "import sys; print('ready', flush=True); sys.stdin.readline()"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert busy.stdin is not None and busy.stdout is not None and idle.stdout is not None
        assert busy.stdout.readline().strip() == "ready" and idle.stdout.readline().strip() == "ready"
        meter = CpuMeter({"busy": [busy.pid], "idle": [idle.pid], "none": []}).start()
        busy.stdin.write("go\n")
        busy.stdin.flush()
        assert busy.stdout.readline().strip() == "done"
        per_op = meter.per_op(3)  # three "operations": a tenth of a second each
        assert set(per_op) == {"busy", "idle", "all"}  # an empty group is left out
        assert 0.09e6 <= per_op["busy"] <= 0.12e6, per_op
        assert per_op["idle"] < 0.01e6, per_op
        assert per_op["all"] == pytest.approx(per_op["busy"] + per_op["idle"])
    finally:
        busy.kill()
        idle.kill()
        busy.wait()
        idle.wait()


def test_a_process_that_is_gone_reads_as_unknown() -> None:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    assert cpu_seconds(p.pid) is None
    meter = CpuMeter({"gone": [p.pid]}).start()
    assert meter.per_op(10) == {}
