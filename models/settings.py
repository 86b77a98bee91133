"""The trainer's settings, passed in the environment by `volcast worker train` (which reads
temporal.config.ts), so that configuration has one home. A missing or bad value stops the worker
at start, naming the variable."""
from __future__ import annotations

import os
from dataclasses import dataclass


class SettingsError(Exception):
    pass


def _req(env: dict[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(
            f"{name} is not set: start the trainer with `volcast worker train`, which passes the configuration"
        )
    return value


@dataclass(frozen=True)
class Settings:
    temporal_address: str
    namespace: str
    queue_train_cpu: str
    queue_gpu: str
    s3_endpoint: str  # host:port
    s3_secure: bool
    s3_region: str
    bucket: str
    access_key: str
    secret_key: str
    cache_dir: str
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None

    @staticmethod
    def from_env(env: dict[str, str] | None = None) -> "Settings":
        e = dict(os.environ if env is None else env)
        secure = e.get("VOLCAST_S3_USE_SSL", "false")
        if secure not in ("true", "false"):
            raise SettingsError(f"VOLCAST_S3_USE_SSL must be true or false, got {secure!r}")
        return Settings(
            temporal_address=_req(e, "VOLCAST_TEMPORAL_ADDRESS"),
            namespace=_req(e, "VOLCAST_TEMPORAL_NAMESPACE"),
            queue_train_cpu=_req(e, "VOLCAST_QUEUE_TRAIN_CPU"),
            queue_gpu=_req(e, "VOLCAST_QUEUE_GPU"),
            s3_endpoint=_req(e, "VOLCAST_S3_ADDRESS"),
            s3_secure=secure == "true",
            s3_region=e.get("VOLCAST_S3_REGION", "us-east-1"),
            bucket=_req(e, "VOLCAST_BUCKET"),
            access_key=_req(e, "VOLCAST_S3_ACCESS_KEY"),
            secret_key=_req(e, "VOLCAST_S3_SECRET_KEY"),
            cache_dir=_req(e, "VOLCAST_CACHE_DIR"),
            tls_cert=e.get("VOLCAST_TEMPORAL_TLS_CERT") or None,
            tls_key=e.get("VOLCAST_TEMPORAL_TLS_KEY") or None,
            tls_ca=e.get("VOLCAST_TEMPORAL_TLS_CA") or None,
        )

    def queue(self, role: str) -> str:
        return {"trainCpu": self.queue_train_cpu, "gpu": self.queue_gpu}[role]
