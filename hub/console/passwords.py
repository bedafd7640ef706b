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
_DUMMY: dict[int, str] = {}


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


def iterations_of(encoded: str) -> int:
    try:
        return int(encoded.split("$")[1])
    except (IndexError, ValueError):
        return ITERATIONS


def burn_time(password: str, like: str | None = None) -> None:
    """Spend what a real check costs, so an unknown user name is not told apart by timing.

    ``like``: a configured user's hash; the dummy uses its iteration count, so the work is
    the same as checking a real user's password."""
    iterations = iterations_of(like) if like else ITERATIONS
    if iterations not in _DUMMY:
        _DUMMY[iterations] = hash_password("not-a-password", iterations)
    verify_password(password, _DUMMY[iterations])


def main() -> None:
    """Prompt twice on a terminal; from a pipe (provisioning scripts), read one line."""
    import getpass
    import sys

    if sys.argv[1:] in (["-h"], ["--help"]):
        print(
            "Usage: python -m hub.console.passwords\n\n"
            "Prints the hash of a console password for hub.yaml (api.users[].password_hash).\n"
            "On a terminal it asks twice without echoing; from a pipe it reads one line:\n"
            "  printf '%s\\n' \"$PASSWORD\" | python -m hub.console.passwords"
        )
        return
    if sys.argv[1:]:  # a password on the command line would sit in the shell's history
        print(
            "This takes no arguments: type the password when asked, or give it on stdin (see --help).",
            file=sys.stderr,
        )
        raise SystemExit(2)
    if sys.stdin.isatty():
        pw = getpass.getpass("Console password: ")
        if pw != getpass.getpass("Again: "):
            raise SystemExit("The passwords differ.")
    else:
        pw = sys.stdin.readline().rstrip("\r\n")
    if not pw:
        raise SystemExit("No password given: type one, or pipe it in on one line.")
    print(hash_password(pw))


if __name__ == "__main__":
    main()
