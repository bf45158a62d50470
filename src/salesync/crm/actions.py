"""What a fired trigger does: a message to the client, or a follow-up task for the
associate who made the sale. Both are rows written in the firing's transaction; messages
are sent afterwards by ``crm.mail``."""

from __future__ import annotations

from sqlalchemy.orm import Session

from salesync.crm.clients import Clients
from salesync.crm.messages import queue_message
from salesync.crm.triggers import Trigger, TriggerAction
from salesync.store.tables import CrmFiringRow, CrmSaleRow, CrmTaskRow, TenantRow

_SUBJECTS = {
    TriggerAction.THANK_YOU: "Thank you for shopping with {shop}",
    TriggerAction.REVIEW_REQUEST: "How did we do? Tell {shop} about your purchase",
}
_BODIES = {
    TriggerAction.THANK_YOU: (
        "Dear {name},\n\nThank you for your purchase ({number}) at {shop}. We hope you "
        "enjoy it, and we look forward to seeing you again."
    ),
    TriggerAction.REVIEW_REQUEST: (
        "Dear {name},\n\nA few days ago you bought from {shop} ({number}). Would you tell "
        "us how it went? A short reply to this message is all it takes."
    ),
}


class TriggerActions:
    """Carries out fired triggers for one tenant."""

    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    @property
    def session(self) -> Session:
        return self.clients.session

    def __call__(self, trigger: Trigger, sale: CrmSaleRow, firing: CrmFiringRow) -> None:
        client = self.clients.of_customer(sale.customer_id) if sale.customer_id else None
        name = client.name if client is not None else "customer"
        if trigger.action is TriggerAction.FOLLOW_UP:
            self.session.add(
                CrmTaskRow(
                    tenant_id=sale.tenant_id,
                    firing_id=firing.id,
                    client_id=client.id if client is not None else None,
                    document_id=sale.document_id,
                    assignee=sale.associate,
                    title=f"Follow up with {name} about sale {sale.number}",
                    due_at=firing.at,
                    done=False,
                    created_at=firing.at,
                )
            )
            return
        tenant = self.session.get(TenantRow, sale.tenant_id)
        shop = tenant.name if tenant is not None else sale.tenant_id
        words = {"name": name, "shop": shop, "number": sale.number}
        queue_message(
            self.session,
            sale.tenant_id,
            client,
            subject=_SUBJECTS[trigger.action].format(**words),
            body=_BODIES[trigger.action].format(**words),
            now=firing.at,
            firing_id=firing.id,
        )
