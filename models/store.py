"""The Python side of the artifact store (lib/platform/store.ts): objects by reference {bucket, key, sha256},
sha256 verified on every read, cached locally by content hash. Keys are never built here: the
workflow passes every key it wants written, made by lib/platform/layout.ts."""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
from typing import Any, TypedDict

from minio import Minio
from minio.error import S3Error


class ObjectRef(TypedDict, total=False):
    bucket: str
    key: str
    sha256: str
    size: int


class IntegrityError(Exception):
    def __init__(self, ref: ObjectRef, actual: str):
        super().__init__(
            f"object s3://{ref['bucket']}/{ref['key']} is corrupt: sha256 {actual} does not match the reference {ref['sha256']}"
        )
        self.ref = ref
        self.actual = actual


class MissingObjectError(Exception):
    def __init__(self, bucket: str, key: str):
        super().__init__(f"object s3://{bucket}/{key} does not exist")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_of_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ArtifactStore:
    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str, cache_dir: str,
                 secure: bool = False, region: str = "us-east-1"):
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region)
        self.bucket = bucket
        self.cache_dir = cache_dir

    @staticmethod
    def from_settings(s: Any) -> "ArtifactStore":
        return ArtifactStore(s.s3_endpoint, s.access_key, s.secret_key, s.bucket, s.cache_dir, s.s3_secure, s.s3_region)

    def _cache_path(self, sha256: str) -> str:
        return os.path.join(self.cache_dir, sha256[:2], sha256)

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> ObjectRef:
        digest = sha256_of(data)
        self.client.put_object(self.bucket, key, io.BytesIO(data), len(data), content_type=content_type,
                               metadata={"sha256": digest})
        return {"bucket": self.bucket, "key": key, "sha256": digest, "size": len(data)}

    def put_file(self, key: str, path: str, content_type: str = "application/octet-stream") -> ObjectRef:
        digest = sha256_of_file(path)
        self.client.fput_object(self.bucket, key, path, content_type=content_type, metadata={"sha256": digest})
        return {"bucket": self.bucket, "key": key, "sha256": digest, "size": os.path.getsize(path)}

    def get_file(self, ref: ObjectRef) -> str:
        """A local path holding exactly the referenced bytes (cached, else streamed and verified)."""
        path = self._cache_path(ref["sha256"])
        if os.path.exists(path):
            return path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".download")
        os.close(fd)
        try:
            try:
                self.client.fget_object(ref["bucket"], ref["key"], tmp)
            except S3Error as err:
                if err.code in ("NoSuchKey", "NoSuchBucket"):
                    raise MissingObjectError(ref["bucket"], ref["key"]) from None
                raise
            actual = sha256_of_file(tmp)
            if actual != ref["sha256"]:
                raise IntegrityError(ref, actual)
            os.replace(tmp, path)
            return path
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def read_key(self, key: str) -> bytes | None:
        """The current bytes at `key` (not verified: there is no reference yet), or None if absent."""
        try:
            resp = self.client.get_object(self.bucket, key)
        except S3Error as err:
            if err.code in ("NoSuchKey", "NoSuchBucket"):
                return None
            raise
        try:
            return resp.read()
        finally:
            resp.close()
            resp.release_conn()

    def get_bytes(self, ref: ObjectRef) -> bytes:
        with open(self.get_file(ref), "rb") as f:
            return f.read()
