"""`GET /v1/models`: the models the caller's tier may use, and the power-level aliases."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from switchboard.api.deps import GatewayDep
from switchboard.api.errors import render, to_api_error
from switchboard.api.http import authenticate
from switchboard.gateway.service import AUTO
from switchboard.routing import RouteRequest
from switchboard.routing.checks import check_model
from switchboard.vocabulary import PowerLevel

router = APIRouter()


@router.get("/v1/models", summary="List the models you may use (OpenAI-compatible)")
async def list_models(request: Request, gateway: GatewayDep) -> Response:
    try:
        principal = await authenticate(request, gateway)
    except Exception as error:
        return render(request, to_api_error(error))
    snapshot = gateway.snapshot
    data = [
        {"id": alias, "object": "model", "created": 0, "owned_by": "switchboard"}
        for alias in (*PowerLevel, AUTO)
    ]
    seen: set[str] = set()
    for model in sorted(snapshot.models.values(), key=lambda m: (m.model_id, m.id)):
        provider = snapshot.provider_of(model)
        level = model.power_level or PowerLevel.BALANCED
        request_for = RouteRequest(user_tier=principal.tier, power_level=level)
        rejected = check_model(snapshot, model, provider, request_for)
        if provider is None or model.model_id in seen:
            continue
        if rejected is not None and rejected.reason != "price ceiling":
            continue
        seen.add(model.model_id)
        data.append(
            {
                "id": model.model_id,
                "object": "model",
                "created": int(model.id),
                "owned_by": provider.slug,
                "power_level": str(level),
                "context_window": model.context_window,
            }
        )
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json")
