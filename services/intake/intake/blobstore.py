"""Content-addressed file storage for attachments (adapter): bytes live under their SHA-256."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


class BlobStore:
    """Files stored once per content, at `<root>/<aa>/<sha256>`."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        """Where a blob lives (it may not exist)."""
        return self.root / sha256[:2] / sha256

    def put(self, content: bytes) -> str:
        """Store `content` durably (write, fsync, rename) and return its SHA-256."""
        sha256 = hashlib.sha256(content).hexdigest()
        target = self.path(sha256)
        if target.exists():
            return sha256
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)  # atomic: readers never see half a file
        return sha256

    def exists(self, sha256: str) -> bool:
        """Whether the blob is stored."""
        return self.path(sha256).exists()

    def delete(self, sha256: str) -> None:
        """Remove a blob (the caller made sure nothing refers to it any more)."""
        self.path(sha256).unlink(missing_ok=True)
