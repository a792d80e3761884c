"""The layers of plugin/ as the README's Layout writes them, checked
against every #include: a file includes headers of its own folder, of a
layer below its own, or of common/; never of a layer above. And no include
cycle anywhere in plugin/ (the shared tool's check, when it is there)."""
import glob
import os
import re
import subprocess
import sys

from conftest import ROOT, SHARED

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layers():
    """The order the README's Layout gives, lowest first ("top" is
    plugin/ itself: the composition root)."""
    text = open(os.path.join(ROOT, "README.md")).read()
    m = re.search(r"^layers, lowest first: (.+)$", text, re.M)
    assert m, "README's Layout lost its 'layers, lowest first:' line"
    return [w.strip() for w in m.group(1).split("<")]


def layer_of(path):
    rel = os.path.relpath(path, os.path.join(ROOT, "plugin"))
    return os.path.dirname(rel) or "top"


def test_the_readme_names_every_folder_once():
    order = layers()
    folders = {layer_of(p) for p in glob.glob(os.path.join(ROOT, "plugin", "**", "*.[ch]"),
                                               recursive=True)}
    assert len(order) == len(set(order))
    assert folders == set(order), (folders, order)


def test_every_include_points_down():
    order = layers()
    rank = {name: i for i, name in enumerate(order)}
    wrong = []
    for f in glob.glob(os.path.join(ROOT, "plugin", "**", "*.[ch]"), recursive=True):
        mine = layer_of(f)
        for inc in INCLUDE.findall(open(f).read()):
            if "/" not in inc:
                # common/ (the lightningd-free libraries), or the top's own
                if os.path.exists(os.path.join(ROOT, "common", inc)):
                    continue
                assert mine == "top" and os.path.exists(os.path.join(ROOT, "plugin", inc)), \
                    (f, inc)
                continue
            theirs = os.path.dirname(inc)
            assert theirs in rank, (f, inc)
            if rank[theirs] > rank[mine]:
                wrong.append("%s (%s) includes %s (%s)" % (os.path.relpath(f, ROOT), mine,
                                                         inc, theirs))
    assert not wrong, "\n".join(wrong)


def test_the_transport_names_no_payment():
    """The HTTP layer knows nothing of routes, tokens, macaroons or the
    Payment scheme: not even common/'s headers for them."""
    payment = {"l402.h", "macaroon.h", "mpp.h", "route_spec.h", "jcs.h"}
    for f in glob.glob(os.path.join(ROOT, "plugin", "http", "*.[ch]")):
        for inc in INCLUDE.findall(open(f).read()):
            assert os.path.basename(inc) not in payment, (f, inc)


def test_no_include_cycle():
    tool = os.path.join(SHARED, "tools", "include-cycles.py")
    if not os.path.exists(tool):
        return  # shared/ without the tool: the layer check above still holds
    out = subprocess.run([sys.executable, tool, ROOT], capture_output=True, text=True)
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout
