"""engine/memory.py: after the engine's first call, freed large arrays are reused without page
faults; the user's own malloc settings, or CONVLAB_MALLOC=0, leave malloc alone."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")

CODE = """
import resource, numpy as np
from convlab.engine import memory, parallel
parallel.start()
a = np.ones(100 << 17); del a  # 100 MiB, allocated and freed once
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    a = np.ones(100 << 17); del a
print(memory.tune(), (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 5)
"""


def _run(**env):
    clean = {k: v for k, v in os.environ.items()
             if k not in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES",
                          "CONVLAB_MALLOC")}
    out = subprocess.run([sys.executable, "-c", CODE], env={**clean, **env}, check=True,
                         capture_output=True, text=True).stdout.split()
    return out[0] == "True", int(out[1])


def test_freed_arrays_are_reused_without_page_faults():
    tuned, faults = _run()
    assert tuned
    assert faults < 10


def test_the_users_settings_win():
    for env in ({"CONVLAB_MALLOC": "0"}, {"MALLOC_TRIM_THRESHOLD_": "131072"}):
        tuned, faults = _run(**env)
        assert not tuned
        # a new mapping each time, every page faulted in again: 25,600 pages of 4 KiB, or 50
        # where NumPy asks for 2 MiB pages (transparent huge pages)
        assert faults >= 40
