"""Pure routing decisions: which models may serve a request, in which order, and why."""

from switchboard.routing.explain import ModelVerdict, Verdict, explain_route
from switchboard.routing.health import HealthView
from switchboard.routing.limits import TokenMisfit, token_misfit
from switchboard.routing.pinning import NamedModelError, NamedModelProblem, plan_named
from switchboard.routing.planner import Candidate, RoutePlan, plan_route
from switchboard.routing.reasons import Rejection
from switchboard.routing.request import RouteRequest

__all__ = [
    "Candidate",
    "HealthView",
    "ModelVerdict",
    "NamedModelError",
    "NamedModelProblem",
    "Rejection",
    "RoutePlan",
    "RouteRequest",
    "TokenMisfit",
    "Verdict",
    "explain_route",
    "plan_named",
    "plan_route",
    "token_misfit",
]
