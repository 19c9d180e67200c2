"""Every operation of the management API, for what serves or documents them all (never a Lambda)."""

from shared.http.operations.create_token import CREATE_TOKEN
from shared.http.operations.get_token import GET_TOKEN
from shared.http.operations.list_tokens import LIST_TOKENS
from shared.http.operations.refresh_token import REFRESH_TOKEN
from shared.http.operations.report_leaked import REPORT_LEAKED
from shared.http.operations.revoke_token import REVOKE_TOKEN
from shared.http.operations.rotate_token import ROTATE_TOKEN
from shared.http.operations.token_history import TOKEN_HISTORY
from shared.http.operations.update_token import UPDATE_TOKEN
from shared.http.operations.verify_token import VERIFY_TOKEN
from shared.http.operations.whoami import WHOAMI

OPERATIONS = (
    LIST_TOKENS,
    CREATE_TOKEN,
    REVOKE_TOKEN,
    REFRESH_TOKEN,
    VERIFY_TOKEN,
    WHOAMI,
    GET_TOKEN,
    UPDATE_TOKEN,
    TOKEN_HISTORY,
    REPORT_LEAKED,
    ROTATE_TOKEN,
)

__all__ = [
    "CREATE_TOKEN",
    "GET_TOKEN",
    "LIST_TOKENS",
    "OPERATIONS",
    "REFRESH_TOKEN",
    "REPORT_LEAKED",
    "REVOKE_TOKEN",
    "ROTATE_TOKEN",
    "TOKEN_HISTORY",
    "UPDATE_TOKEN",
    "VERIFY_TOKEN",
    "WHOAMI",
]
