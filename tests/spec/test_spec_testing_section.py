# The spec's "Testing" section, verbatim but for the import lines.
# ruff: noqa
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from tests.spec.examples import create_gpt4_model, create_openai_provider, create_routing_rule
from tests.spec.support import current_session, get_test_db


@pytest.fixture(autouse=True)
def _test_db(db: Session) -> Iterator[None]:
    token = current_session.set(db)
    yield
    current_session.reset(token)


def test_routing_engine_select_model():
    """Test model selection"""
    from switchboard import LLMRoutingEngine

    # Setup
    db = get_test_db()
    provider = create_openai_provider(db)
    model = create_gpt4_model(db, provider.id)
    rule = create_routing_rule(db, model.id)

    # Execute
    engine = LLMRoutingEngine(db)
    selected_model, api_key, key_source = engine.select_model(
        user_id="test-user", user_tier="professional", power_level="precision", task_type="code"
    )

    # Assert
    assert selected_model is not None
    assert selected_model.id == model.id
    assert key_source in ["system", "byok"]
