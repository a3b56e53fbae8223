"""deploy/ and docker-compose.yml agree with the code, and the real tools accept them.

promtool checks the Prometheus config and the alert rules and runs their unit tests;
a real redis-server runs deploy/redis.conf; the compose file's environment goes
through WorkerConfig.from_env; every dashboard and alert query names a metric that
something in the cluster exports and parses as PromQL.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from medassist.ops.embedded import free_port
from medassist.schemas import schema_dir
from medassist.security import kafka as kafka_security
from medassist.security import redis_auth, signing
from medassist.stream.config import WorkerConfig
from medassist.stream.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "medassist.json"
ALERT_TESTS = [DEPLOY / "alerts_test.yml", DEPLOY / "alerts_monthend_test.yml"]

# Exported by month-end (`medassist month-end --metrics-port 9465`) and the ledger
# (`medassist ledger --metrics-port 9466`): the names issue 4 fixes for them.
OTHER_SERVICES_METRICS = {
    "medassist_reconciliation_differences", "medassist_monthend_last_close_timestamp_seconds",
    "medassist_monthend_statements_total", "medassist_fund_balance_fen", "medassist_fund_warnings",
    "medassist_ledger_postings_total", "medassist_instructions_unverified_total",
}
PROMETHEUS_METRICS = {"up"}  # made by Prometheus itself for every target

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
                "offset", "bool", "inf", "nan"}


def promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], input=stdin.decode() if stdin else None, capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def compose() -> dict[str, Any]:
    with open(ROOT / "docker-compose.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)  # type: ignore[no-any-return]


SERIES_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created")}


def worker_metric_names() -> set[str]:
    """Every series name a worker exports, labelled families included before their first sample."""
    names = set()
    for fam in Metrics().registry.collect():
        names |= {fam.name + suffix for suffix in SERIES_SUFFIXES.get(fam.type, ("",))}
        names |= {s.name for s in fam.samples}
    return names


def known_metrics() -> set[str]:
    return worker_metric_names() | OTHER_SERVICES_METRICS | PROMETHEUS_METRICS


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (label matchers, grouping labels, functions, strings dropped)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group(0)
        if word.lower() in PROMQL_WORDS or re.match(r"\s*\(", e[m.end():]):
            continue
        if e[max(0, m.start() - 1)].isdigit():  # the unit of a duration such as 5m or 1d
            continue
        names.add(word)
    return names


def grafana_exprs() -> list[tuple[str, str]]:
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    out = []
    for p in dash["panels"]:
        for t in p.get("targets", []):
            out.append((p["title"], t["expr"]))
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            out.append((f"variable {v['name']}", v["definition"]))
    return out


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load((DEPLOY / "alerts.yml").read_text(encoding="utf-8"))
    return [r for g in doc["groups"] for r in g["rules"]]


def as_promql(expr: str) -> str:
    """A Grafana query as plain PromQL (its variables replaced by what they stand for)."""
    label_values = re.fullmatch(r"label_values\((\w+),\s*\w+\)", expr)
    if label_values:
        return label_values.group(1)
    return (expr.replace("$__rate_interval", "1m").replace("$__range", "6h").replace("$__interval", "15s")
            .replace("$policy", ".*").replace("$county", ".*"))


# --- the extractor itself, so the metric-name checks below cannot pass vacuously ------

def test_metric_names_finds_metrics_and_nothing_else() -> None:
    expr = ('histogram_quantile(0.99, sum by (le) (rate(medassist_processing_latency_seconds_bucket'
            '{job="medassist-worker"}[5m]))) > 0.1 and on () day_of_month(vector(time() + 28800)) >= 6'
            ' or absent(up{job="x"}) unless foo offset 1d')
    assert metric_names(expr) == {"medassist_processing_latency_seconds_bucket", "up", "foo"}
    assert metric_names("sum by (policy, rule) (increase(medassist_assistance_paid_fen_total[1d] offset 1d))") == {
        "medassist_assistance_paid_fen_total"}


# --- Prometheus config and alert rules -------------------------------------------------

@pytest.mark.needs("promtool")
def test_prometheus_config_is_valid_and_loads_the_rules() -> None:
    r = promtool("check", "config", "deploy/prometheus.yml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 1 rule files found" in r.stdout + r.stderr


@pytest.mark.needs("promtool")
def test_alert_rules_are_valid() -> None:
    r = promtool("check", "rules", "deploy/alerts.yml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in r.stdout + r.stderr


@pytest.mark.needs("promtool")
def test_alert_unit_tests_pass() -> None:
    r = promtool("test", "rules", *(str(p.relative_to(ROOT)) for p in ALERT_TESTS))
    assert r.returncode == 0, r.stdout + r.stderr
    assert (r.stdout + r.stderr).count("SUCCESS") == len(ALERT_TESTS)


def test_every_alert_is_proven_to_fire() -> None:
    alerts = {r["alert"] for r in alert_rules() if "alert" in r}
    fired = set()
    for path in ALERT_TESTS:
        for t in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            fired |= {a["alertname"] for a in t.get("alert_rule_test", []) if a["exp_alerts"]}
    assert len(alerts) == 18
    assert alerts - fired == set()


def test_alert_rules_only_use_exported_metrics() -> None:
    recorded = {r["record"] for r in alert_rules() if "record" in r}
    known = known_metrics() | recorded
    for rule in alert_rules():
        names = metric_names(rule["expr"])
        assert names or "record" in rule, rule["expr"]  # only the clock rule reads no metric
        assert names <= known, (rule.get("alert") or rule.get("record"), names - known)


def test_prometheus_scrapes_the_ports_the_services_listen_on() -> None:
    prom = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    services = compose()["services"]
    worker_sd = jobs["medassist-worker"]["dns_sd_configs"][0]
    assert worker_sd["names"] == ["worker"]
    assert worker_sd["port"] == int(services["worker"]["environment"]["MEDASSIST_METRICS_PORT"])
    assert worker_sd["port"] == WorkerConfig().metrics_port == 9464
    for job, service in (("medassist-monthend", "monthend"), ("medassist-ledger", "ledger")):
        (target,) = jobs[job]["static_configs"][0]["targets"]
        command = services[service]["command"]
        assert target == f"{service}:{command[command.index('--metrics-port') + 1]}"
    alerting = prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert alerting == ["alertmanager:9093"] and "alertmanager" in services


def test_month_end_alert_allows_a_day_after_the_scheduled_close() -> None:
    command = compose()["services"]["monthend"]["command"]
    close_day = int(command[command.index("--close-day") + 1])  # closes once this day has passed
    (rule,) = [r for r in alert_rules() if r.get("alert") == "MedassistMonthEndNotClosed"]
    threshold = re.search(r"day_of_month\(vector\(time\(\) \+ 28800\)\) >= (\d+)", rule["expr"])
    assert threshold and int(threshold.group(1)) == close_day + 2


# --- docker-compose.yml and the Dockerfile ---------------------------------------------

class RecordingEnv(dict[str, str]):
    """os.environ stand-in that remembers every name asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)


def from_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> tuple[WorkerConfig, set[str]]:
    env = RecordingEnv(values)
    monkeypatch.setattr(os, "environ", env)
    cfg = WorkerConfig.from_env()
    return cfg, env.asked


def test_compose_environment_is_what_worker_config_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    services = compose()["services"]
    worker_env = {k: str(v) for k, v in services["worker"]["environment"].items()}
    cfg, asked = from_env(monkeypatch, worker_env)
    asked |= SECURITY_SETTINGS  # read by medassist.security (signing keys, Kafka and Redis credentials)
    medassist_vars = {k for s in services.values() for k in (s.get("environment") or {}) if k.startswith("MEDASSIST_")}
    assert medassist_vars - asked == set()  # no misspelt or unused MEDASSIST_* name anywhere
    assert "MEDASSIST_WORKER_ID" not in worker_env  # replicas must differ: HOSTNAME is used
    assert (cfg.bootstrap, cfg.redis_url, cfg.group) == ("kafka:9092", "redis://redis:6379/0", "medassist-workers")
    assert cfg.topics.events == "medassist.events" and cfg.metrics_port == 9464
    assert cfg.partitions == 12 and cfg.batch_size == 500
    assert cfg.fast_rebalance is False
    assert services["worker"]["deploy"]["replicas"] <= cfg.partitions  # a replica beyond that would idle


SECURITY_SETTINGS = {v for mod in (signing, kafka_security, redis_auth) for k, v in vars(mod).items()
                     if k.startswith("ENV_") and isinstance(v, str)}


def test_compose_gives_each_role_its_own_principal_and_least_privilege() -> None:
    services = compose()["services"]
    kafka = services["kafka"]["environment"]
    protocols = dict(x.split(":") for x in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert protocols == {"CONTROLLER": "PLAINTEXT", "INTERNAL": "SASL_PLAINTEXT", "EXTERNAL": "SASL_SSL"}
    assert "CONTROLLER" not in kafka["KAFKA_ADVERTISED_LISTENERS"]  # the one plaintext listener is not offered
    assert services["kafka"]["ports"] == ["29092:29092"]  # only EXTERNAL leaves the host
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false" and "StandardAuthorizer" in kafka[
        "KAFKA_AUTHORIZER_CLASS_NAME"]
    acls = (DEPLOY / "kafka" / "principals.sh").read_text(encoding="utf-8")
    acl_redis = (DEPLOY / "redis" / "users.acl").read_text(encoding="utf-8")
    redis_users = set(re.findall(r"^user (\S+)", acl_redis, re.M))
    users = {}
    for name in ("worker", "ledger", "monthend"):
        env = services[name]["environment"]
        users[name] = (env["MEDASSIST_KAFKA_USER"], env["MEDASSIST_REDIS_USER"])
        assert f"User:{env['MEDASSIST_KAFKA_USER']} " in acls
        assert env["MEDASSIST_REDIS_USER"] in redis_users
        for f in ("MEDASSIST_KAFKA_PASSWORD_FILE", "MEDASSIST_REDIS_PASSWORD_FILE"):
            secret = env[f].removeprefix("/run/secrets/")
            assert secret in services[name]["secrets"] and secret in compose()["secrets"]
    assert len({k for k, _ in users.values()}) == 3 and len({r for _, r in users.values()}) == 3  # none shared
    # the platform only writes events; finance only reads instructions and reconciliation
    assert re.search(r"User:platform --operation Write --operation Describe \$\(topic events\)\n", acls)
    assert re.search(r"User:finance --operation Read --operation Describe \$\(topic instructions reconciliation\)\n",
                     acls)
    assert len(re.findall(r"User:platform ", acls)) == 1 and "User:finance --operation Write" not in acls
    # only the workers hold the signing key; the ledger and month-end only the public keys
    holders = {n for n, svc in services.items() if "instruction-signing.key" in (svc.get("secrets") or [])}
    assert holders == {"worker"}
    for secret in compose()["secrets"].values():
        assert secret["file"].startswith("${MEDASSIST_SECRETS_DIR:-./secrets}/")
    assert "/secrets/" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()


def test_compose_wires_the_services(monkeypatch: pytest.MonkeyPatch) -> None:
    services = compose()["services"]
    assert {"kafka", "redis", "topics", "worker", "monthend", "ledger", "prometheus", "alertmanager",
            "grafana"} <= set(services)
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert len(base64.urlsafe_b64decode(kafka["CLUSTER_ID"] + "==")) == 16  # a valid KRaft cluster id
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert services["kafka"]["image"].startswith("apache/kafka:")
    for name in ("worker", "monthend", "ledger"):
        deps = services[name]["depends_on"]
        assert deps["topics"]["condition"] == "service_completed_successfully"
        assert deps["redis"]["condition"] == "service_healthy"
        cfg, _ = from_env(monkeypatch, {k: str(v) for k, v in services[name]["environment"].items()})
        assert cfg.bootstrap == "kafka:9092" and cfg.topics.prefix == "medassist"
    assert services["monthend"]["command"][:2] == ["month-end", "--schedule"]
    assert services["ledger"]["command"][0] == "ledger"
    assert "/usr/local/etc/redis/redis.conf" in services["redis"]["command"]
    # every file the compose file mounts from the repo exists
    for svc in services.values():
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("./"):
                assert (ROOT / src).exists(), src


def test_dockerfile_environment_is_read_by_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    env = dict(re.findall(r"(MEDASSIST_\w+)=(\S+)", text))
    assert set(env) == {"MEDASSIST_SCHEMAS", "MEDASSIST_DATADIR"}
    cfg, asked = from_env(monkeypatch, env)
    assert cfg.datadir == "/var/lib/medassist" and "MEDASSIST_DATADIR" in asked
    assert str(schema_dir()) == "/opt/medassist/schemas"  # the path the Dockerfile copies schemas/ to
    assert re.search(r"^COPY schemas /opt/medassist/schemas$", text, re.M)
    assert re.search(r'^ENTRYPOINT \["medassist"\]$', text, re.M)


def test_dockerfile_builds_the_compiled_engine() -> None:
    """The image's wheel is built from what setup.py needs, with a C compiler, and not pure."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    build = text.split("\nFROM ", 2)[1]  # the build stage: from the first FROM to the second
    copied = {name for line in re.findall(r"^COPY (.+) \S+$", build, re.M) for name in line.split()}
    assert {"pyproject.toml", "setup.py", "services"} <= copied
    assert re.search(r"apt-get install .*\bgcc\b", build) and "MEDASSIST_PURE" not in text


# --- redis.conf --------------------------------------------------------------------------

@pytest.mark.needs("redis-server")
def test_redis_conf_runs_with_aof_always_and_survives_kill9(tmp_path: Path) -> None:
    text = (DEPLOY / "redis.conf").read_text(encoding="utf-8")
    port = free_port()
    # only where it listens and writes changes: the durability settings are the file's own
    local = re.sub(r"^dir .*$", f"dir {tmp_path}", text, flags=re.M)
    local = re.sub(r"^port .*$", f"port {port}", local, flags=re.M)
    local = re.sub(r"^bind .*$", "bind 127.0.0.1", local, flags=re.M)
    conf = tmp_path / "redis.conf"
    conf.write_text(local, encoding="utf-8")

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", str(conf)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=port, socket_connect_timeout=0.5)
        for _ in range(100):
            try:
                client.ping()
                return proc
            except redis.ConnectionError:
                if proc.poll() is not None:
                    raise AssertionError(f"redis-server exited {proc.returncode} on deploy/redis.conf") from None
                subprocess.run(["sleep", "0.1"], check=True)
        raise AssertionError("redis-server did not answer")

    proc = start()
    try:
        c = redis.Redis(port=port)
        assert c.config_get("appendonly") == {"appendonly": "yes"}
        assert c.config_get("appendfsync") == {"appendfsync": "always"}
        assert c.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        assert c.config_get("no-appendfsync-on-rewrite") == {"no-appendfsync-on-rewrite": "no"}
        for i in range(50):
            c.hset("{P0000001}:acc:2023", "paid_fen", i * 100)
        c.close()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc = start()
        assert redis.Redis(port=port).hget("{P0000001}:acc:2023", "paid_fen") == b"4900"
    finally:
        proc.kill()
        proc.wait()


# --- Grafana -----------------------------------------------------------------------------

@pytest.mark.needs("promtool")
def test_dashboard_queries_use_exported_metrics_and_parse(tmp_path: Path) -> None:
    exprs = grafana_exprs()
    assert len(exprs) >= 30
    known = known_metrics()
    used: set[str] = set()
    for title, expr in exprs:
        names = metric_names(as_promql(expr))
        assert names, (title, expr)
        assert names <= known, (title, names - known)
        used |= names
    # the panels the issues ask for are there
    for needed in ("medassist_events_total", "medassist_consumer_lag_messages", "medassist_dead_letters_total",
                   "medassist_assistance_paid_fen_total", "medassist_processing_latency_seconds_bucket",
                   "medassist_reconciliation_differences", "medassist_fund_balance_fen", "medassist_fund_warnings"):
        assert needed in used, needed
    # promtool parses every query (as recording rules of a throwaway rule file)
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:q{i}", "expr": as_promql(e)} for i, (_, e) in enumerate(exprs)]}]}
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    r = promtool("check", "rules", str(path))
    assert r.returncode == 0, r.stdout + r.stderr


def test_dashboard_money_is_shown_in_yuan() -> None:
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    money = [(p["title"], t["expr"]) for p in dash["panels"] for t in p.get("targets", [])
             if "_fen" in t["expr"]]
    assert len(money) >= 6
    for title, expr in money:
        assert expr.rstrip(")").endswith("/ 100"), (title, expr)  # fen -> yuan


def test_grafana_provisioning_matches_compose_mounts() -> None:
    grafana = compose()["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/medassist.yml").read_text())
    assert mounts["./deploy/grafana/dashboards"] == provider["providers"][0]["options"]["path"]
    ds = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert ds["datasources"][0]["type"] == "prometheus"
    assert ds["datasources"][0]["url"] == "http://prometheus:9090"
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    (var,) = [v for v in dash["templating"]["list"] if v["type"] == "datasource"]
    assert var["query"] == "prometheus"
    assert all(p["datasource"]["uid"] == "${datasource}" for p in dash["panels"] if p["type"] != "row")


def test_compose_commands_are_commands_medassist_accepts() -> None:
    """Each medassist service's command parses with the real CLI parser (the image's entrypoint is
    `medassist`): a renamed flag or a missing subcommand fails here, not at 3 a.m."""
    from medassist.cli import build_parser

    parser = build_parser()
    services = compose()["services"]
    checked = []
    for name, svc in services.items():
        if svc.get("image", "").startswith("medassist:") and "entrypoint" not in svc:
            args = parser.parse_args(svc["command"])
            assert args.command == svc["command"][0]
            checked.append(name)
    assert {"worker", "monthend", "ledger"} <= set(checked)
    assert parser.parse_args(services["ledger"]["command"]).action == "consume"
