"""The run log holds only its own analysis's lines (one server, many browser sessions)."""

from __future__ import annotations

import threading

from genoapp.logs import capture_log, get_logger


def test_capture_log_keeps_only_the_capturing_threads_records():
    log = get_logger("genoapp.test_logs")
    started, done = threading.Event(), threading.Event()

    def other_session():
        started.wait(5)
        log.info("another session's estimate")
        done.set()

    t = threading.Thread(target=other_session)
    t.start()
    with capture_log() as lines:
        log.info("this run's protocol line")
        started.set()
        assert done.wait(5)
    t.join(5)
    assert len(lines) == 1 and lines[0].endswith("genoapp.test_logs: this run's protocol line")
    with capture_log(all_threads=True) as every:
        t2 = threading.Thread(target=lambda: log.info("a worker's line"))
        t2.start()
        t2.join(5)
    assert len(every) == 1 and "a worker's line" in every[0]
