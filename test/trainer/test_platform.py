"""The trainer's platform pieces: settings from the environment, the catalog, and the artifact
store against the real MinIO of the test stack (infra/test.sh exports its settings)."""
import os
import tempfile
import uuid

import pytest

from models.contract import check_implementations, check_kinds, load_catalog, python_activities
from models.probe import verify_probe
from models.settings import Settings, SettingsError
from models.store import ArtifactStore, IntegrityError, MissingObjectError, sha256_of


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture()
def store(settings: Settings) -> ArtifactStore:
    return ArtifactStore(settings.s3_endpoint, settings.access_key, settings.secret_key, settings.bucket,
                         tempfile.mkdtemp(prefix="volcast-pycache-"), settings.s3_secure, settings.s3_region)


def key(name: str) -> str:
    return f"probes/py-{uuid.uuid4().hex[:8]}/{name}"


def test_settings_name_the_missing_variable():
    with pytest.raises(SettingsError, match="VOLCAST_TEMPORAL_ADDRESS"):
        Settings.from_env({})
    env = {k: "x" for k in ("VOLCAST_TEMPORAL_ADDRESS", "VOLCAST_TEMPORAL_NAMESPACE", "VOLCAST_QUEUE_TRAIN_CPU",
                            "VOLCAST_QUEUE_GPU", "VOLCAST_S3_ADDRESS", "VOLCAST_BUCKET", "VOLCAST_S3_ACCESS_KEY",
                            "VOLCAST_S3_SECRET_KEY", "VOLCAST_CACHE_DIR")}
    assert Settings.from_env(env).queue("gpu") == "x"
    with pytest.raises(SettingsError, match="VOLCAST_S3_USE_SSL"):
        Settings.from_env({**env, "VOLCAST_S3_USE_SSL": "yes"})


def test_catalog_matches_the_trainer():
    catalog = load_catalog()
    assert python_activities(catalog) == {"verifyProbe": "gpu", "fitModel": "trainCpu", "fitNeuralModel": "gpu"}
    names = {"verifyProbe", "fitModel", "fitNeuralModel"}
    check_implementations(catalog, names)
    with pytest.raises(RuntimeError, match="rogue"):
        check_implementations(catalog, names | {"rogue"})


def test_the_trainer_fits_exactly_the_contracts_model_kinds():
    from models import fit

    fit.check_kinds()  # what the trainer runs at start
    with pytest.raises(RuntimeError, match=r"fitModel: missing \['garch'\]"):
        check_kinds({"fitModel": set(fit._CPU_FITS) - {"garch"}, "fitNeuralModel": set(fit._NEURAL_FITS)})
    with pytest.raises(RuntimeError, match=r"not in contracts/domain.json \['prophet'\]"):
        check_kinds({"fitModel": set(fit._CPU_FITS) | {"prophet"}, "fitNeuralModel": set(fit._NEURAL_FITS)})


def test_store_round_trip_and_cache(store: ArtifactStore):
    ref = store.put_bytes(key("a.bin"), b"abc")
    assert ref["sha256"] == sha256_of(b"abc")
    assert store.get_bytes(ref) == b"abc"
    path = store.get_file(ref)
    assert path.startswith(store.cache_dir) and os.path.basename(path) == ref["sha256"]


def test_store_rejects_corrupt_and_missing(store: ArtifactStore):
    ref = store.put_bytes(key("b.bin"), b"original")
    cold = ArtifactStore.__new__(ArtifactStore)
    cold.__dict__.update(store.__dict__, cache_dir=tempfile.mkdtemp(prefix="volcast-pycold-"))
    store.client.put_object(store.bucket, ref["key"], __import__("io").BytesIO(b"tampered"), 8)
    with pytest.raises(IntegrityError, match=ref["sha256"]):
        cold.get_bytes(ref)
    assert not os.listdir(os.path.join(cold.cache_dir, ref["sha256"][:2]))  # nothing half-cached
    with pytest.raises(MissingObjectError):
        cold.get_bytes({"bucket": store.bucket, "key": key("none"), "sha256": "0" * 64})


def test_verify_probe_writes_a_deterministic_result(store: ArtifactStore):
    src = store.put_bytes(key("in.json"), b'{"x": 1}')
    out = key("out.json")
    beats = []
    r1 = verify_probe(store, {"ref": src, "resultKey": out, "holdSeconds": 2}, 1, beats.append, lambda s: None)
    r2 = verify_probe(store, {"ref": src, "resultKey": out}, 2, beats.append, lambda s: None)
    assert beats == [{"held": 0}, {"held": 1}]
    assert r1["byteSum"] == sum(b'{"x": 1}') and r1["bytes"] == 8
    assert r1["ref"]["sha256"] == r2["ref"]["sha256"]  # same input, same object
