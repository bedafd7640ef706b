"""GET /v1/approvals and POST /v1/approvals/{id}: the approvals queue over HTTP (admin scope).

Who decided is the ``by`` the caller names, and the token's name is kept beside it in the
audit entry, so an integration acting for a person is still traceable to its token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AfterValidator, BaseModel, model_validator

from hub.api.auth import require
from hub.api.problems import Problem
from hub.api.schemas import MAX_ID, Text, _In
from hub.api.settings import ApiToken, Scope
from hub.api.state import ApiState, hub_state
from hub.errors import GovernanceError, NotFoundError
from hub.governance import approvals

router = APIRouter(tags=["governance"])


class ApprovalOut(BaseModel):
    id: int
    push_id: int
    decision_id: int
    contact_id: int
    email: str | None
    action: str | None
    kind: str
    connector: str
    external_id: str
    payload: dict[str, Any]
    state: str
    requested_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str | None


def _named(v: str) -> str:
    """Who decides, without the spaces around (the pattern refuses a name of spaces only: "   "
    was taken as one, an approval by "   (token admin)")."""
    return v.strip()


class ApprovalDecision(_In):
    """``reject`` needs a ``note`` saying why."""

    decision: Literal["approve", "reject"]
    by: Annotated[Text(120, 1, r"\S"), AfterValidator(_named)]
    note: Text(1000) | None = None

    @model_validator(mode="after")
    def _why(self) -> ApprovalDecision:
        if self.decision == "reject" and not (self.note or "").strip():
            raise ValueError("a rejection needs a note saying why")
        return self


def _out(a: approvals.ApprovalView) -> ApprovalOut:
    return ApprovalOut(**a.__dict__)


@router.get(
    "/v1/approvals",
    response_model=list[ApprovalOut],
    responses={401: {}, 403: {}, 422: {}},
    dependencies=[Depends(require(Scope.ADMIN))],
)
def list_approvals(
    state: Literal["awaiting", "approved", "rejected", "expired", "all"] = Query("awaiting"),
    limit: int = Query(100, ge=1, le=1000),
    hub: ApiState = Depends(hub_state),
) -> list[ApprovalOut]:
    """Held pushes (default: awaiting a decision, oldest first); expired ones are expired first."""
    ctx = hub.ctx
    with ctx.store.begin() as conn:
        approvals.expire_due(conn, ctx.clock())
        rows = approvals.list_approvals(conn, None if state == "all" else state, limit)
    return [_out(a) for a in rows]


@router.post(
    "/v1/approvals/{approval_id}",
    response_model=ApprovalOut,
    responses={
        401: {},
        403: {},
        404: {},
        409: {"description": "already decided, expired, or withdrawn by the system instead"},
        422: {},
    },
)
def decide_approval(
    body: ApprovalDecision,
    approval_id: int = Path(ge=1, le=MAX_ID),
    token: ApiToken = Depends(require(Scope.ADMIN)),
    hub: ApiState = Depends(hub_state),
) -> ApprovalOut:
    """Approve (the push is sent by the next push run) or reject (it is never sent)."""
    ctx = hub.ctx
    by = body.by if body.by == token.name else f"{body.by} (token {token.name})"
    try:
        with ctx.store.begin() as conn:
            a = approvals.decide(conn, approval_id, body.decision, by, body.note, ctx.clock())
    except NotFoundError as exc:
        raise Problem(404, "Not found", str(exc)) from None
    except GovernanceError as exc:
        raise Problem(409, "Conflict", str(exc)) from None
    if a.state == "expired":
        raise Problem(409, "Conflict", f"approval {approval_id} expired at {a.expires_at:%Y-%m-%d %H:%M} UTC")
    if body.decision == "approve" and a.state != "approved":  # the system withdrew it instead
        raise Problem(
            409, "Conflict", f"approval {approval_id} was not approved: {a.state} by {a.decided_by} ({a.note})"
        )
    return _out(a)
