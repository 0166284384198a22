"""LiteLLM's proxy, for comparison (`BENCH_COMPARE=litellm`): installed once into its own
virtual environment (`bench/.venv-litellm`, git-ignored), configured with the same 300 model
names, each an OpenAI-compatible deployment at the fake upstream, and run with one worker, a
master key and no database. LiteLLM is told to use its bundled model-price map, so it makes
no call beyond 127.0.0.1."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import orjson

from bench import catalog, load

VERSION = "1.108.7"
VENV = Path(__file__).resolve().parent / ".venv-litellm"
READY_PATH = "/health/readiness"
REQUEST_MODELS = 12
"""How many of the catalog's model names the requests go to, in turn."""
_SCRUBBED = {"DATABASE_URL", "REDIS_URL", "LITELLM_MASTER_KEY", "STORE_MODEL_IN_DB"}


class UnavailableError(Exception):
    """LiteLLM could not be installed (no network for some wheel, say): why."""


def model_names() -> list[str]:
    return [
        f"bench-{pid:02d}-m{n:02d}"
        for pid in range(1, catalog.PROVIDERS + 1)
        for n in range(catalog.MODELS_PER_PROVIDER)
    ]


def install() -> Path:
    """The `litellm` executable, installing it first when it is not there yet."""
    executable = VENV / "bin" / "litellm"
    if executable.exists() and _installed_version() == VERSION:
        return executable
    steps = [
        [sys.executable, "-m", "venv", str(VENV)],
        [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", f"litellm[proxy]=={VERSION}"],
    ]
    for step in steps:
        print(f"installing LiteLLM: {' '.join(step)}", file=sys.stderr, flush=True)
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            reason = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise UnavailableError(f"`{' '.join(step)}` failed: " + " | ".join(reason))
    if not executable.exists():
        raise UnavailableError(f"the install left no {executable}")
    return executable


def _installed_version() -> str | None:
    done = subprocess.run(
        [str(VENV / "bin" / "python"), "-m", "pip", "show", "litellm"],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith("Version:"):
            return line.partition(":")[2].strip()
    return None


def new_master_key() -> str:
    """LiteLLM refuses to start without a master key (or with a well-known one)."""
    return "sk-" + secrets.token_hex(32)


def write_config(workdir: Path, upstream_url: str, master_key: str) -> Path:
    """The proxy's config (YAML is a superset of JSON): every model at the fake upstream; the
    master key is the only key (no database), so each request is checked against it."""
    config = {
        "model_list": [
            {
                "model_name": name,
                "litellm_params": {
                    "model": f"openai/{name}",
                    "api_base": upstream_url,
                    "api_key": catalog.SYSTEM_KEY,
                },
            }
            for name in model_names()
        ],
        "general_settings": {"master_key": master_key},
    }
    path = workdir / "litellm-config.yaml"
    path.write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2))
    return path


def command(executable: Path, config: Path, port: int) -> list[str]:
    return [
        str(executable),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]


def environment() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in _SCRUBBED}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    return env


def requests(master_key: str, *, stream: bool) -> list[str]:
    names = model_names()[:REQUEST_MODELS]
    return [
        load.chat_request("/v1/chat/completions", name, master_key, stream=stream) for name in names
    ]
