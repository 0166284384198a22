"""A console client signed in as the admin, and the CSRF token of its session."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN_TOKEN

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@dataclass
class Console:
    client: TestClient
    csrf: str

    def post(self, path: str, data: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return self.client.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)


def signed_in(client: TestClient, token: str = ADMIN_TOKEN, path: str = "/ui/sign-in") -> Console:
    form = client.get(path)
    answer = client.post(path, data={"token": token, "csrf_token": csrf_of(form.text)})
    assert answer.status_code == 200, answer.text
    return Console(client, csrf_of(answer.text))
