"""API keys and roles, kept hashed in the index folder (keys.json).

A key is shown once, when it is made; only its SHA-256 is stored (keys are 256-bit random, so a
plain hash is enough). `member` and `officer` keys see restricted papers; `public` keys and
requests without a valid key see public ones only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path

ROLES = ("public", "member", "officer")
SEES_RESTRICTED = {"member", "officer"}
KEYS_FILE = "keys.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class KeyProblem(ValueError):
    """A key operation the user asked for that cannot be done (message for the CLI)."""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def audience_of(role: str | None) -> str:
    """The view of the index a role gets: 'all' or 'public'."""
    return "all" if role in SEES_RESTRICTED else "public"


class KeyStore:
    def __init__(self, index_dir: Path):
        self.path = Path(index_dir) / KEYS_FILE
        self._lock = threading.Lock()
        self._loaded: tuple[float, dict] | None = None

    def _read(self) -> dict:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return {}
        with self._lock:
            if self._loaded and self._loaded[0] == mtime:
                return self._loaded[1]
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}
            data = data if isinstance(data, dict) else {}
            self._loaded = (mtime, data)
            return data

    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".keys.", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def add(self, name: str, role: str) -> str:
        if not _NAME.match(name):
            raise KeyProblem("a key name is 1-64 letters, digits or . _ @ -")
        if role not in ROLES:
            raise KeyProblem(f"role must be one of {', '.join(ROLES)}")
        data = dict(self._read())
        if name in data:
            raise KeyProblem(f"a key named {name!r} exists; remove it first")
        key = "rs_" + secrets.token_urlsafe(32)
        data[name] = {"role": role, "sha256": _digest(key),
                      "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        self._write(data)
        return key

    def remove(self, name: str) -> None:
        data = dict(self._read())
        if name not in data:
            raise KeyProblem(f"no key named {name!r}")
        del data[name]
        self._write(data)

    def list(self) -> list[dict]:
        return [{"name": n, "role": v.get("role"), "created": v.get("created")} for n, v in sorted(self._read().items())]

    def role_of(self, key: str | None) -> str | None:
        """The role of a presented key, or None (compared in constant time against every stored hash)."""
        if not key:
            return None
        digest = _digest(key)
        role = None
        for entry in self._read().values():
            if isinstance(entry, dict) and hmac.compare_digest(str(entry.get("sha256", "")), digest):
                role = entry.get("role")
        return role if role in ROLES else None


def bearer(header: str | None) -> str | None:
    """The key in an `Authorization: Bearer …` header."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
