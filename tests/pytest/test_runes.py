"""The README's runes, created as written there and checked with checkrune
against every l402-* command (the double's createrune/checkrune replay a
real lightningd's, trace 82)."""
import json
import os
import re
import shlex

import pytest

from cln_schema import check_response
from conftest import ROOT, SHARED, RpcError
from test_schemas import schemas

READ_ONLY = {"l402-status", "l402-routes", "l402-stats", "l402-tokens", "l402-verify"}
NEVER_FOR_A_MANAGER = {"l402-mint", "l402-rotate-secret"}


def readme_runes():
    """The README's createrune lines: {comment: restrictions}."""
    with open(os.path.join(ROOT, "README.md")) as f:
        section = f.read().split("### Runes", 1)[1].split("\n### ", 1)[0]
    out, comment = {}, None
    for line in section.splitlines():
        if line.startswith("# "):
            comment = line[2:]
        elif line.startswith("lightning-cli createrune "):
            arg = shlex.split(line)[2]
            assert arg.startswith("restrictions=")
            out[comment] = json.loads(arg[len("restrictions="):])
    return out


def permitted(node, rune, method):
    try:
        return node.rpc.checkrune(rune=rune, method=method, params={})["valid"]
    except RpcError as e:
        assert e.code == 1502 and e.error["message"].startswith("Not permitted: "), e.error
        return False


@pytest.fixture
def plain_node(node_factory):
    return node_factory.get_node(plugin=None)


def test_readme_runes_grant_what_they_say(plain_node):
    runes = readme_runes()
    assert len(runes) == 2, runes
    (ro_text, ro), (mgr_text, mgr) = runes.items()
    assert "read-only" in ro_text and "manager" in mgr_text
    commands = set(schemas())
    others = ["listinvoices", "getinfo", "datastore", "setconfig", "pay"]
    made = plain_node.rpc.createrune(restrictions=ro)
    assert not check_response(SHARED, "createrune", made)
    assert not check_response(SHARED, "checkrune", plain_node.rpc.checkrune(
        rune=made["rune"], method="l402-status", params={}))
    ro_rune = made["rune"]
    mgr_rune = plain_node.rpc.createrune(restrictions=mgr)["rune"]
    for c in sorted(commands):
        assert permitted(plain_node, ro_rune, c) == (c in READ_ONLY), c
        assert permitted(plain_node, mgr_rune, c) == (c not in NEVER_FOR_A_MANAGER), c
    for c in others:
        assert not permitted(plain_node, ro_rune, c) and not permitted(plain_node, mgr_rune, c), c
    # The mistake the README warns of: method^l402- alone grants minting.
    loose = plain_node.rpc.createrune(restrictions=[["method^l402-"]])["rune"]
    assert permitted(plain_node, loose, "l402-mint") and permitted(plain_node, loose, "l402-rotate-secret")
    with pytest.raises(RpcError) as e:
        plain_node.rpc.checkrune(rune=mgr_rune, method="l402-mint", params={})
    assert e.value.error["message"] == "Not permitted: method is equal to l402-mint"


def test_builtin_readonly_rune_permits_no_l402_command(plain_node):
    rune = plain_node.rpc.createrune(restrictions="readonly")["rune"]
    for c in sorted(schemas()):
        assert not permitted(plain_node, rune, c), c
    assert permitted(plain_node, rune, "listinvoices")
    assert not permitted(plain_node, rune, "listdatastore")


def test_readme_shows_the_checkrune_refusal_lightningd_gives(plain_node):
    with open(os.path.join(ROOT, "README.md")) as f:
        section = f.read().split("### Runes", 1)[1].split("\n### ", 1)[0]
    m = re.search(r"error 1502 `([^`]+)`", section.replace("\n", " "))
    mgr = readme_runes()
    rune = plain_node.rpc.createrune(restrictions=list(mgr.values())[1])["rune"]
    with pytest.raises(RpcError) as e:
        plain_node.rpc.checkrune(rune=rune, method="l402-mint", params={})
    assert m and e.value.code == 1502 and e.value.error["message"] == m.group(1)
