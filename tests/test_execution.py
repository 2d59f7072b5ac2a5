"""The execution setting: in-process and a 2-worker Dask LocalCluster give the same results."""

from __future__ import annotations

import numpy as np
import pytest

from genoapp.errors import ConfigError
from genoapp.execution import (
    ExecutionSetting,
    JobsStopped,
    current_executor,
    open_executor,
    use_executor,
)


def _square_plus(item, offset):
    return item * item + float(np.sum(offset))


def _boom(item):
    if item == 2:
        raise ValueError("job 2 failed")
    return item


def _slow(item):
    import time

    time.sleep(0.3)
    return item


def test_parse_settings():
    assert str(ExecutionSetting.parse(None)) == "in-process"
    assert str(ExecutionSetting.parse("in-process")) == "in-process"
    s = ExecutionSetting.parse("local:3")
    assert (s.kind, s.n_workers, str(s)) == ("local", 3, "local:3")
    assert ExecutionSetting.parse("tcp://10.0.0.5:8786").address == "tcp://10.0.0.5:8786"
    assert ExecutionSetting.parse("node7:8786").address == "tcp://node7:8786"
    for bad in ("local:0", "cluster please", "local:x"):
        with pytest.raises(ConfigError, match="in-process|1 to 1024"):
            ExecutionSetting.parse(bad)


def test_in_process_map_order_progress_and_stop():
    ex = current_executor()
    assert not ex.distributed and ex.n_workers == 1 and ex.dashboard_link is None
    seen = []
    out = ex.map(_square_plus, [1, 2, 3], shared=[np.ones(2)], on_result=lambda i, r: seen.append(i))
    assert out == [3.0, 6.0, 11.0] and seen == [0, 1, 2]
    calls = iter([False, False, True])
    with pytest.raises(JobsStopped) as err:
        ex.map(_square_plus, [1, 2, 3], shared=[np.zeros(1)], should_stop=lambda: next(calls))
    assert err.value.done == {0: 1.0, 1: 4.0}


def test_unreachable_scheduler_says_how_to_start_one():
    with pytest.raises(ConfigError, match="dask scheduler"):
        open_executor("tcp://127.0.0.1:1", timeout=2)


def test_local_cluster_equals_in_process(local2):
    items = list(range(7))
    ref = current_executor().map(_square_plus, items, shared=[np.arange(4.0)])
    with use_executor(local2) as ex:
        assert current_executor() is ex
        assert ex.n_workers == 2 and ex.distributed
        assert ex.describe()["cluster"] == "local:2"
        assert len(ex.workers()) == 2
        seen = []
        got = ex.map(_square_plus, items, shared=[np.arange(4.0)],
                     on_result=lambda i, r: seen.append(i))
    assert got == ref and sorted(seen) == items
    assert not current_executor().distributed  # back to in-process after the block


def test_local_cluster_error_and_stop(local2):
    with pytest.raises(ValueError, match="job 2 failed"):
        local2.map(_boom, [0, 1, 2, 3])
    t = {"n": 0}

    def stop():
        t["n"] += 1
        return t["n"] > 3

    with pytest.raises(JobsStopped):
        local2.map(_slow, list(range(12)), should_stop=stop)
