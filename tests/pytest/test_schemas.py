"""The commands' schemas (doc/schemas/, in Core Lightning's style): one per
command the plugin registers, its parameters those the plugin takes, the
README's command table the same, man pages built from them where
`lightning-cli help` finds them. Every l402-* call of every test is checked
against its schema by conftest.py (LightningRpc.call)."""
import glob
import json
import os
import re
import subprocess
import sys

import pytest

import conftest
from conftest import ROOT, check_against_schema
from test_paywall import buy, paywall

SCHEMAS = os.path.join(ROOT, "doc", "schemas")
TOOL = os.path.join(ROOT, "contrib", "schema2man.py")
CLI = os.path.join(ROOT, "tests", "lightningd-double", "lightning-cli")


def schemas():
    out = {}
    for p in sorted(glob.glob(os.path.join(SCHEMAS, "*.json"))):
        with open(p) as f:
            out[os.path.basename(p)[:-5]] = json.load(f)
    return out


def usage_of(schema):
    req = schema["request"]
    return " ".join(k if k in req.get("required", []) else "[%s]" % k for k in req["properties"])


def registered(node):
    """name -> usage, as lightningd's help lists the plugin's commands."""
    out = {}
    for h in node.rpc.help()["help"]:
        name, _, usage = h["command"].partition(" ")
        if name.startswith("l402-"):
            out[name] = usage
    return out


def test_one_schema_per_command_with_its_parameters(node):
    s = schemas()
    cmds = registered(node)
    assert sorted(cmds) == sorted(s), "commands without a schema or schemas without a command"
    for name, usage in cmds.items():
        sc = s[name]
        assert sc["rpc"] == name and sc["title"] and sc["description"]
        assert usage == usage_of(sc), (name, usage, usage_of(sc))
        for part in ("request", "response"):
            assert sc[part]["additionalProperties"] is False, (name, part)
            for r in sc[part]["required"]:
                assert r in sc[part]["properties"], (name, part, r)


def readme_commands():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    table = text.split("### Commands", 1)[1].split("\n### ", 1)[0]
    rows = {}
    for line in table.splitlines():
        m = re.match(r"\| `(l402-[a-z-]+)((?: [^`]*)?)` \|", line)
        if m:
            rows[m.group(1)] = m.group(2).strip()
    return rows


def test_readme_command_table_follows_the_schemas():
    s = schemas()
    rows = readme_commands()
    assert sorted(rows) == sorted(s), "README's table vs doc/schemas: %s" % (
        sorted(set(rows) ^ set(s)))
    for name, usage in rows.items():
        assert usage == usage_of(s[name]), (name, usage, usage_of(s[name]))


def test_every_command_answers_as_its_schema_says(node_factory):
    """Each command once, with what it may add; conftest checks each answer."""
    n, web = paywall(node_factory, 'GET /v1/price/* 10sat text:p valid=3600 uses=5 desc="Price"',
                     "GET /free 0 text:f rate=5/60,burst=2 free=1/60",
                     "POST /bal 1sat text:b balance=100sat")
    auth, _ = buy(n, web, "/v1/price/x")
    c = n.rpc.call
    c("l402-status", [])
    c("l402-routes", ["GET /free"])
    c("l402-route-add", {"route": "GET /new 5sat text:new valid=60"})
    c("l402-route-update", ["GET /new", "7sat", None, 0, 3])
    c("l402-route-remove", ["GET /new"])
    c("l402-tokens", {"status": "paid", "limit": 5})
    minted = c("l402-mint", {"route": "GET /v1/price/*", "valid": 60, "uses": 2})
    c("l402-mint", ["POST /bal"])
    c("l402-revoke", [minted["token_id"]])
    c("l402-verify", [auth])
    c("l402-verify", {"authorization": minted["authorization"], "route": "GET /v1/price/*"})
    c("l402-verify", ["L402 garbage"])
    c("l402-stats", [])
    c("l402-manifest", [])
    c("l402-listing", [])
    c("l402-rotate-secret", {"confirm": True})


def test_a_response_off_its_schema_is_caught():
    with pytest.raises(AssertionError, match="unexpected member bogus"):
        check_against_schema("l402-revoke", {"token_id": "00" * 32},
                             {"token_id": "00" * 32, "revoked": True, "already_revoked": False,
                              "bogus": 1})
    with pytest.raises(AssertionError, match="missing already_revoked"):
        check_against_schema("l402-revoke", ["00" * 32], {"token_id": "00" * 32, "revoked": True})
    with pytest.raises(AssertionError, match="has no schema"):
        check_against_schema("l402-nonesuch", [], {})


@pytest.mark.parametrize("name", sorted(schemas()))
def test_man_page_renders_without_warnings(name, tmp_path):
    page = tmp_path / ("lightning-%s.7" % name)
    page.write_text(subprocess.run([sys.executable, TOOL, "--version", "9.9", os.path.join(SCHEMAS, name + ".json")],
                                   check=True, capture_output=True, text=True).stdout)
    p = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True, text=True,
                       env=dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8"))
    assert p.returncode == 0 and p.stderr == "", p.stderr
    assert re.search(r"^NAME\n\s+lightning-%s - " % re.escape(name), p.stdout, re.M), p.stdout[:500]
    for section in ("SYNOPSIS", "DESCRIPTION", "RETURN VALUE", "SEE ALSO"):
        assert re.search("^%s$" % section, p.stdout, re.M), section
    sc = schemas()[name]
    for k in list(sc["request"]["properties"]) + list(sc["response"]["properties"]):
        assert k in p.stdout, k


def test_make_installs_man_pages_where_lightning_cli_help_finds_them(tmp_path):
    build = tmp_path / "build"
    dest = tmp_path / "dest"
    subprocess.run(["make", "-s", "install-man", "BUILD=%s" % build, "DESTDIR=%s" % dest,
                    "PREFIX=/usr/local"], cwd=ROOT, check=True, capture_output=True)
    man7 = dest / "usr" / "local" / "share" / "man" / "man7"
    assert sorted(os.listdir(man7)) == sorted("lightning-%s.7" % n for n in schemas())
    # lightning-cli help l402-status runs `man lightning-l402-status`; with
    # the pages under a MANPATH, it shows the page and asks lightningd nothing.
    env = dict(os.environ, MANPATH=str(dest / "usr" / "local" / "share" / "man"),
               MANPAGER="cat", PAGER="cat", MANWIDTH="80", LC_ALL="C.UTF-8")
    p = subprocess.run([sys.executable, CLI, "--lightning-dir=%s" % (tmp_path / "nonode"), "help",
                        "l402-status"], capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "lightning-l402-status - " in p.stdout and "secret_fingerprint" in p.stdout


def manifest(tmp_path):
    from plugin_process import PluginProcess
    p = PluginProcess(conftest.PLUGIN, str(tmp_path))
    try:
        rid = p.request("getmanifest", {"allow-deprecated-apis": False})
        return p.read_reply(rid)["result"]
    finally:
        p.close_stdin()
        p.proc.wait(10)


def readme_section(title):
    with open(os.path.join(ROOT, "README.md")) as f:
        return re.split(r"\n#{2,3} ", f.read().split(title, 1)[1], 1)[0]


def test_readme_options_table_lists_every_option(tmp_path):
    m = manifest(tmp_path)
    table = readme_section("### Options\n")
    rows = {}
    for line in table.splitlines():
        if line.startswith("| `l402-"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            for name in re.findall(r"`(l402-[a-z0-9-]+)", cells[0]):
                rows[name] = cells[1]
    opts = {o["name"]: o for o in m["options"]}
    assert sorted(rows) == sorted(opts), "README's options vs the manifest: %s" % (
        sorted(set(rows) ^ set(opts)))
    for name, o in opts.items():
        kind = rows[name]
        assert ("dynamic" in kind) == bool(o.get("dynamic")), (name, kind)
        assert ("multi" in kind) == bool(o.get("multi")), (name, kind)


def test_readme_first_example_names_the_public_url():
    section = readme_section("## Running it on your node")
    first_ini = section.split("```ini\n", 1)[1].split("```", 1)[0]
    assert re.search(r"^l402-public-url=https://", first_ini, re.M), first_ini


def test_readme_tells_one_story_of_trusted_proxy_and_tor():
    tor = " ".join(readme_section("### Over Tor\n").split())
    fwd = " ".join(readme_section("### Behind Caddy, nginx or Traefik (forward-auth)\n").split())
    # Both name the rule and point at each other; neither forbids what the
    # other recommends without saying when.
    assert "l402-trusted-proxy=127.0.0.1" in fwd and "see Over Tor" in fwd
    assert "while Tor reaches the plugin directly" in tor
    assert "`l402-trusted-proxy=127.0.0.1` is right" in tor
    assert "trust an address only when every connection from it is your proxy's" in tor


def test_manifest_declares_the_notifications_and_cancheck(tmp_path):
    m = manifest(tmp_path)
    assert m["notifications"] == [{"method": t} for t in
                                  ("l402_sale", "l402_session_close", "l402_refund")]
    assert m["cancheck"] is True
