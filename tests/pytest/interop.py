"""The independent clients under tests/interop (npm packages pinned in its
package.json), installed once under build/interop, and a runner for one
of its scripts: run(*args) -> the JSON the script prints."""
import json
import os
import shutil
import subprocess

from conftest import ROOT

INTEROP = os.path.join(ROOT, "tests", "interop")
PREFIX = os.path.join(ROOT, "build", "interop")


def install():
    node = shutil.which("node")
    npm = shutil.which("npm")
    assert node and npm, "node/npm missing: run contrib/install-deps.sh"
    os.makedirs(PREFIX, exist_ok=True)
    want = open(os.path.join(INTEROP, "package.json")).read()
    have = os.path.join(PREFIX, "package.json")
    deps = json.loads(want)["dependencies"]
    if not (os.path.exists(have) and open(have).read() == want
            and all(os.path.isdir(os.path.join(PREFIX, "node_modules", d)) for d in deps)):
        shutil.copy(os.path.join(INTEROP, "package.json"), have)
        # viem's newest releases want an mppx newer than the registry's
        # latest: the peer ranges are ignored, the versions are pinned.
        p = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--legacy-peer-deps",
                            "--no-package-lock"], cwd=PREFIX, capture_output=True, text=True,
                           timeout=600)
        assert p.returncode == 0, p.stdout + p.stderr
    return node


def interop_client(script):
    node = install()
    shutil.copy(os.path.join(INTEROP, script), PREFIX)

    def run(*args):
        p = subprocess.run([node, os.path.join(PREFIX, script)] + list(args),
                           cwd=PREFIX, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)
    return run
