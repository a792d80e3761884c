"""Prometheus metrics on their own listener: what a scrape says after
known traffic, that promtool accepts it, and that the public listener
does not serve it."""
import shutil
import subprocess
import time
import urllib.request

import pytest

from test_paywall import buy, paywall, wait_status


def scrape(n):
    host_port = n.status()["metrics_bind"]
    with urllib.request.urlopen("http://%s/metrics" % host_port, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return r.read().decode()


def value(text, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric, _, v = line.rpartition(" ")
        key, _, rest = metric.partition("{")
        got = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if key == name and got == want:
            return float(v)
    return None


def test_metrics_after_known_traffic(node_factory):
    n, web = paywall(node_factory, "GET /p 10sat text:p", "GET /f 0 text:f rate=1/60",
                     options=[("l402-metrics-bind", "127.0.0.1:0")])
    auth, _ = buy(n, web, "/p")
    wait_status(web, "/p", {"Authorization": auth}, 200)
    for _ in range(3):
        assert web.get("/p", {"Authorization": auth})[0] == 200
    assert web.get("/p", {"Authorization": "L402 bad:" + "00" * 32})[0] == 402
    assert [web.get("/f")[0] for _ in range(2)] == [200, 429]
    assert web.get("/nope")[0] == 404
    time.sleep(0.3)
    text = scrape(n)
    assert value(text, "l402_http_requests_total", route="GET /p", outcome="served") >= 4
    assert value(text, "l402_http_requests_total", route="GET /p", outcome="challenged") >= 2
    assert value(text, "l402_challenges_total", route="GET /p", reason="no_credentials") >= 1
    assert value(text, "l402_challenges_total", route="GET /p", reason="bad_base64") == 1
    assert value(text, "l402_http_requests_total", route="GET /f", outcome="rate_limited") == 1
    assert value(text, "l402_http_requests_total", route="none", outcome="refused") == 1
    assert value(text, "l402_payments_total", route="GET /p") == 1
    assert value(text, "l402_revenue_msat_total", route="GET /p") == 10000
    assert value(text, "l402_unpaid_invoices") >= 1
    assert value(text, "l402_routes") == 2
    assert value(text, "l402_rpc_connected") == 1
    assert value(text, "l402_rpc_calls_total", outcome="ok") > 0
    assert value(text, "l402_http_request_duration_seconds_count") >= 8
    assert value(text, "l402_rpc_duration_seconds_bucket", le="+Inf") == \
        value(text, "l402_rpc_duration_seconds_count")
    # Routes, not paths: a thousand paths do not make a thousand series.
    n2 = len(text.splitlines())
    for i in range(50):
        web.get("/nope/%d" % i)
    assert len(scrape(n).splitlines()) == n2
    # Only /metrics, only on its own listener.
    host_port = n.status()["metrics_bind"]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen("http://%s/other" % host_port, timeout=10)
    assert e.value.code == 404
    assert web.get("/metrics")[0] == 404
    # contrib/install-deps.sh installs it (Debian's prometheus package).
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run contrib/install-deps.sh"
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr


def test_metrics_off_by_default_and_bad_bind(node_factory):
    n, web = paywall(node_factory, "GET /f 0 text:f")
    assert "metrics_bind" not in n.status()
    n2 = node_factory.get_node([("l402-metrics-bind", "nowhere")], may_fail=True)
    n2.wait_for_log("disabled itself: l402-metrics-bind: 'nowhere' is not HOST:PORT")


def readme_yaml(first_line):
    """The README's yaml block that starts with first_line."""
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    text = open(os.path.join(here, "..", "..", "README.md")).read()
    start = text.index("```yaml\n" + first_line) + len("```yaml\n")
    return text[start:text.index("```", start)]


def test_readme_scrape_config_and_rules_check(directory):
    import os
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run contrib/install-deps.sh"
    for name, kind in (("prometheus.yml", "config"), ("l402-rules.yml", "rules")):
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write(readme_yaml("# " + name))
        p = subprocess.run([promtool, "check", kind, path], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr


def test_metrics_of_the_payment_scheme(node_factory):
    from test_mpp_session import cred, open_session
    n, web = paywall(node_factory, "GET /s 2sat text:ok balance=10sat",
                     options=[("l402-metrics-bind", "127.0.0.1:0")])
    assert value(scrape(n), "l402_payment_sessions_open") == 0
    ch, req, pre, _ = open_session(n, web)
    assert web.get("/s", {"Authorization": "Payment !!"})[0] == 402
    # The open drew 2 of the 10 sat; four more draws spend it, the fifth is refused.
    for _ in range(5):
        web.get("/s", cred(ch, action="bearer", sessionId=req["paymentHash"], preimage=pre))
    time.sleep(0.3)
    text = scrape(n)
    assert value(text, "l402_payment_sessions_open") == 1
    assert value(text, "l402_challenges_total", route="GET /s",
                 reason="malformed-credential") == 1
    assert value(text, "l402_challenges_total", route="GET /s", reason="balance_exhausted") == 1
    p = subprocess.run([shutil.which("promtool"), "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
