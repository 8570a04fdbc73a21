"""Structured logs: one JSON object per line, extra fields kept, exceptions included."""

from __future__ import annotations

import json
import logging

from kizuna.ops.logs import JsonFormatter, logging_config


def test_json_lines_carry_time_level_logger_message_and_extras() -> None:
    record = logging.LogRecord(
        "kizuna.scheduler", logging.ERROR, "x.py", 1, "run %s failed", (7,), None
    )
    record.run_id = 7
    record.color_message = "\x1b[1mrun 7 failed\x1b[0m"
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "error" and line["logger"] == "kizuna.scheduler"
    assert line["message"] == "run 7 failed" and line["run_id"] == 7
    assert "color_message" not in line
    assert "RuntimeError: boom" in line["exception"] and line["time"].endswith("+00:00")
    config = logging_config("json")
    assert config["formatters"]["main"] == {"()": "kizuna.ops.logs.JsonFormatter"}
    assert set(config["loggers"]) == {"kizuna", "uvicorn", "uvicorn.error", "uvicorn.access"}
    assert "()" not in logging_config("text")["formatters"]["main"]
