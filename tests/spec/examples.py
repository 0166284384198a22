# The spec's "Quick Examples" and "Common Tasks" code, verbatim but for the import lines
# (epic-3.1-quickstart.md). Tests run it against Switchboard; do not edit the function bodies.
# ruff: noqa
# mypy: ignore-errors
from sqlalchemy.orm import Session
from switchboard.models import LLMProvider
from datetime import datetime


def create_openai_provider(db: Session):
    provider = LLMProvider(
        provider_name="OpenAI",
        provider_slug="openai",
        display_name="OpenAI",
        description="OpenAI LLM provider",
        base_url="https://api.openai.com/v1",
        auth_type="bearer",
        supports_streaming=True,
        supports_function_calling=True,
        supports_vision=True,
        is_active=True,
        is_byok_supported=True,
        is_system_provider=True,
        api_key_format="sk-*",
        documentation_url="https://platform.openai.com/docs",
        pricing_url="https://openai.com/pricing",
        min_tier_required="free",
        health_status="unknown",
        created_at=datetime.utcnow(),
        updated_at=datetime.utcnow(),
    )

    db.add(provider)
    db.commit()
    db.refresh(provider)

    return provider


from switchboard.models import LLMModel


def create_gpt4_model(db: Session, provider_id: int):
    model = LLMModel(
        provider_id=provider_id,
        model_name="GPT-4 Turbo",
        model_id="gpt-4-turbo-preview",
        display_name="GPT-4 Turbo",
        description="Latest GPT-4 Turbo model",
        max_tokens=4096,
        context_window=128000,
        supports_streaming=True,
        supports_function_calling=True,
        supports_vision=False,
        supports_json_mode=True,
        cost_per_1m_input_tokens=10.00,  # $10 per 1M tokens
        cost_per_1m_output_tokens=30.00,  # $30 per 1M tokens
        power_level="precision",
        power_level_priority=1,  # Highest priority
        is_active=True,
        is_deprecated=False,
        min_tier_required="professional",
        created_at=datetime.utcnow(),
        updated_at=datetime.utcnow(),
    )

    db.add(model)
    db.commit()
    db.refresh(model)

    return model


from switchboard.models import LLMRoutingRule


def create_routing_rule(db: Session, model_id: int):
    rule = LLMRoutingRule(
        model_id=model_id,
        power_level="precision",
        user_tier="professional",
        task_type="code",
        priority=1,
        weight=100,
        min_tokens=None,
        max_tokens=None,
        requires_byok=False,
        is_fallback=False,
        is_active=True,
        created_at=datetime.utcnow(),
        updated_at=datetime.utcnow(),
    )

    db.add(rule)
    db.commit()
    db.refresh(rule)

    return rule


from switchboard import LLMRoutingEngine


def route_llm_request(db: Session, user_id: str):
    # Initialize routing engine
    engine = LLMRoutingEngine(db)

    # Select model
    model, api_key, key_source = engine.select_model(
        user_id=user_id,
        user_tier="professional",
        power_level="balanced",
        task_type="chat",
        estimated_tokens=1000,
        require_streaming=True,
    )

    if not model:
        print("No model available")
        return

    print(f"Selected: {model.model_name}")
    print(f"Provider: {model.provider.provider_name}")
    print(f"Key source: {key_source}")

    # Calculate estimated cost
    cost = engine.calculate_cost(
        model=model, prompt_tokens=800, completion_tokens=200, cached_tokens=0
    )

    print(f"Estimated cost: ${cost['cost_total_usd']:.6f}")

    return model, api_key, key_source


from switchboard.models import UserAPIKey
from switchboard.secrets import get_secret_manager


def add_user_api_key(db: Session, user_id: str, provider_id: int, api_key: str):
    # Encrypt API key
    secret_mgr = get_secret_manager()
    encrypted = secret_mgr.encrypt_secret(
        secret=api_key,
        secret_type="user_api_key",
        metadata={"user_id": user_id, "provider_id": provider_id},
    )

    # Store in database
    user_key = UserAPIKey(
        user_id=user_id,
        provider_id=provider_id,
        key_name="My OpenAI Key",
        encrypted_api_key=encrypted["encrypted_value"],
        key_prefix=api_key[:8],
        key_suffix=api_key[-4:],
        is_active=True,
        is_validated=False,  # Validate separately
        created_at=datetime.utcnow(),
        updated_at=datetime.utcnow(),
    )

    db.add(user_key)
    db.commit()
    db.refresh(user_key)

    return user_key


from switchboard import LLMRoutingEngine
import uuid


def log_llm_usage(db: Session, user_id: str, model, prompt_tokens: int, completion_tokens: int):
    engine = LLMRoutingEngine(db)

    # Calculate cost
    cost = engine.calculate_cost(
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cached_tokens=0,
    )

    # Log usage
    usage_log_id = engine.log_usage(
        user_id=user_id,
        model=model,
        request_id=str(uuid.uuid4()),
        power_level="balanced",
        task_type="chat",
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cached_tokens=0,
        cost_breakdown=cost,
        used_byok=False,
        user_key_id=None,
        latency_ms=1500,
        status_code=200,
        request_ip="192.168.1.1",
        user_agent="Mozilla/5.0",
    )

    print(f"Usage logged with ID: {usage_log_id}")
    return usage_log_id


def seed_llm_data(db: Session):
    """Seed initial LLM providers, models, and routing rules"""

    # 1. Create OpenAI provider
    openai = create_openai_provider(db)

    # 2. Create GPT-4 model
    gpt4 = create_gpt4_model(db, openai.id)

    # 3. Create routing rules for all tiers
    for tier in ["free", "starter", "professional", "enterprise"]:
        for power_level in ["eco", "balanced", "precision"]:
            priority = {"eco": 3, "balanced": 2, "precision": 1}[power_level]

            rule = LLMRoutingRule(
                model_id=gpt4.id,
                power_level=power_level,
                user_tier=tier,
                task_type="general",
                priority=priority,
                weight=100,
                is_active=True,
                created_at=datetime.utcnow(),
                updated_at=datetime.utcnow(),
            )
            db.add(rule)

    db.commit()
    print("✅ Seeded LLM data")


def update_model_pricing(db: Session, model_id: int, input_cost: float, output_cost: float):
    """Update model pricing"""

    model = db.query(LLMModel).filter(LLMModel.id == model_id).first()
    if not model:
        print(f"Model {model_id} not found")
        return

    model.cost_per_1m_input_tokens = input_cost
    model.cost_per_1m_output_tokens = output_cost
    model.updated_at = datetime.utcnow()

    db.commit()
    print(f"✅ Updated pricing for {model.model_name}")


def deprecate_model(db: Session, old_model_id: int, new_model_id: int):
    """Deprecate old model and suggest replacement"""

    old_model = db.query(LLMModel).filter(LLMModel.id == old_model_id).first()
    if not old_model:
        print(f"Model {old_model_id} not found")
        return

    old_model.is_deprecated = True
    old_model.deprecation_date = datetime.utcnow()
    old_model.replacement_model_id = new_model_id
    old_model.is_active = False  # Disable routing
    old_model.updated_at = datetime.utcnow()

    db.commit()
    print(f"✅ Deprecated {old_model.model_name}")
