"""Who pays whom: the debtor and creditor side of a transaction.

.. warning:: Names and accounts read here are PII and are carried raw; they are tokenized later in
   the pipeline and must not reach a projection, log line or metric label untokenized.
"""

from __future__ import annotations

from typing import TypedDict

from streamledger.iso20022.reader import Node, first_present


class PartyFields(TypedDict):
    debtor_agent: str | None
    creditor_agent: str | None
    debtor_name: str | None
    debtor_account: str | None
    creditor_name: str | None
    creditor_account: str | None


def parties_of(node: Node) -> PartyFields:
    """Read ``Dbtr``/``DbtrAcct``/``DbtrAgt`` and the creditor counterparts below ``node``.

    Works for transactions, original-transaction references (``OrgnlTxRef``), return chains and
    statement entries' related parties alike, because all of them use these element names.

    A debtor or creditor that is itself an institution (pacs.009, or an ``Agt`` party choice) and
    has no separate agent is the bank on its side, so its BIC fills the agent field.
    """
    return PartyFields(
        debtor_agent=first_present(node.bic("DbtrAgt"), node.bic("Dbtr")),
        creditor_agent=first_present(node.bic("CdtrAgt"), node.bic("Cdtr")),
        debtor_name=node.party_name("Dbtr"),
        debtor_account=node.account("DbtrAcct"),
        creditor_name=node.party_name("Cdtr"),
        creditor_account=node.account("CdtrAcct"),
    )
