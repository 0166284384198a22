"""What every end-to-end world is built on: the module's database and encryption key, a fake
OpenAI-compatible upstream already running, and gateways started on them. A module's `world`
fixture takes the `stage` fixture, writes its catalog and starts the gateways it needs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import openai
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from switchboard.db import open_database
from switchboard.secrets import SecretManager
from tests.conftest import POSTGRES_URL
from tests.databases import postgres_schema
from tests.e2e.catalog_rows import CatalogRows
from tests.e2e.harness import GatewayProcess, running_gateway
from tests.fake_upstream import FakeUpstream, Scripted, running_fake_upstream


@dataclass(frozen=True)
class ServedWorld:
    """A gateway with the stage's fake behind it and one user's SDK client in front: what most
    worlds are; a module's `World` adds what it made besides."""

    gateway: GatewayProcess
    fake: FakeUpstream
    key: str
    sdk: openai.OpenAI


@dataclass(frozen=True)
class Stage:
    database_url: str
    sessions: sessionmaker[Session]
    encryption_key: str
    secrets: SecretManager
    """Encrypts provider and BYOK keys as the gateway will decrypt them."""
    fake: FakeUpstream
    workdir: Path
    """The module's own folder: each gateway's spool and log go in a folder of it."""

    def script(self, replies: Mapping[str, Scripted]) -> None:
        """What the fake answers for each model, unless a test scripts otherwise."""
        for model, reply in replies.items():
            self.fake.set_default(model, reply)

    @contextmanager
    def catalog(self) -> Iterator[CatalogRows]:
        """Rows added in one session, committed at the end of the block; providers point at
        the fake unless told otherwise."""
        with self.sessions() as session:
            yield CatalogRows(session, self.secrets, self.fake.url)
            session.commit()

    @contextmanager
    def gateway(
        self, env: Mapping[str, str] | None = None, *, name: str = "gateway"
    ) -> Iterator[GatewayProcess]:
        """A gateway process on the module's database, which reads the catalog already committed
        (so no test waits for a reload), stopped at the end of the block."""
        with running_gateway(
            self.database_url,
            self.workdir / name,
            {"ENCRYPTION_KEY": self.encryption_key, **(env or {})},
        ) as gateway:
            yield gateway


@contextmanager
def staged(
    database_url: str, sessions: sessionmaker[Session], encryption_key: str, workdir: Path
) -> Iterator[Stage]:
    """A stage on a database already made, with a fake upstream running until the end."""
    with running_fake_upstream() as fake:
        yield Stage(
            database_url=database_url,
            sessions=sessions,
            encryption_key=encryption_key,
            secrets=SecretManager([encryption_key]),
            fake=fake,
            workdir=workdir,
        )


@contextmanager
def postgres_stage(workdir: Path, name: str) -> Iterator[Stage]:
    """A stage on a PostgreSQL schema of its own (dropped at the end), with a new encryption key
    and a fake upstream: for a module whose replicas share the database, which SQLite cannot."""
    encryption_key = Fernet.generate_key().decode()
    with postgres_schema(POSTGRES_URL, name) as database_url:
        sessions = open_database(database_url)
        try:
            with staged(database_url, sessions, encryption_key, workdir) as stage:
                yield stage
        finally:
            sessions.kw["bind"].dispose()
