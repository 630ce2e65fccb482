"""The app's request lines go to the stderr of the moment the app was made, as every ``logging.StreamHandler``
does: under pytest that is the test's capture, so they no longer leak into pytest's progress output when the
access log's thread writes them after the test (issue 33)."""

from __future__ import annotations

import io
import logging
from contextlib import redirect_stderr

from tally.logs import BatchedStderrHandler, JsonFormatter


def test_the_access_log_writes_to_the_stderr_it_was_made_with() -> None:
    made_with, later = io.StringIO(), io.StringIO()
    with redirect_stderr(made_with):
        handler = BatchedStderrHandler(interval=3600)  # only the explicit flush below writes
    handler.setFormatter(JsonFormatter())
    try:
        with redirect_stderr(later):  # as pytest restores the real stderr between tests
            record = logging.LogRecord("tally.access", logging.INFO, __file__, 1, "request", None, None)
            handler.emit(record)
            handler.flush()
    finally:
        handler.close()
    assert later.getvalue() == ""
    assert '"message":"request"' in made_with.getvalue()
