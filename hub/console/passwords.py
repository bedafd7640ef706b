"""Console password hashes: PBKDF2-SHA256 from the standard library, no extra dependency.

Make one for hub.yaml with ``python -m hub.console.passwords`` (reads the password without
echoing it and prints only the hash).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ITERATIONS = 310_000  # OWASP's PBKDF2-HMAC-SHA256 recommendation
_DUMMY = None


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def hash_password(password: str, iterations: int = ITERATIONS) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        algo, iters, salt, digest = encoded.split("$")
        if algo != "pbkdf2_sha256":
            return False
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iters))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def burn_time(password: str) -> None:
    """Spend what a real check costs, so an unknown user name is not told apart by timing."""
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = hash_password("not-a-password")
    verify_password(password, _DUMMY)


if __name__ == "__main__":
    import getpass

    pw = getpass.getpass("Console password: ")
    if pw != getpass.getpass("Again: "):
        raise SystemExit("The passwords differ.")
    print(hash_password(pw))
