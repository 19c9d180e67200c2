"""The models of the leaked-credential report (issue 16): its body and its one answer.

Apart from ``shared.http.models`` so that the seed's models stay as they are.
"""

from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints

from shared.http.fields import MAX_LIST_ITEMS
from shared.http.models import ApiModel, RequestBody

# A token is 81 characters; the bound leaves room for what a scanner might send around one
# (a newline, a quote) and keeps the largest valid body small.
MAX_CREDENTIAL_LENGTH = 256

ReportedCredential = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=MAX_CREDENTIAL_LENGTH)
]


class CredentialsReport(RequestBody):
    """The body of Revoke Leaked Credentials: the secrets someone found, of any kind, ours or not."""

    MAX_BODY_BYTES: ClassVar[int] = 373_174

    credentials: Annotated[
        list[ReportedCredential],
        # Out of the repr like every field holding secrets: a repr can reach a log.
        Field(min_length=1, max_length=MAX_LIST_ITEMS, repr=False),
    ]


class ReportReceived(ApiModel):
    """The 202 of Revoke Leaked Credentials: how many credentials the body held, and nothing else."""

    received: int
