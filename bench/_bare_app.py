"""The yardstick of ``bench/heartbeats.py``: a bare FastAPI endpoint answering ``{}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

app = FastAPI()


@app.post("/bare")
async def bare() -> dict[str, Any]:
    """Nothing at all: what FastAPI and uvicorn cost by themselves."""
    return {}


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    """So the benchmark's start-up wait works the same for both servers."""
    return {"status": "ready"}
