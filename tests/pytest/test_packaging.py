"""Installing cln-l402 the ways node runners do: ./configure and its help,
gcc and clang, the packager's CPPFLAGS/CFLAGS/LDFLAGS, make install and
uninstall with PREFIX and DESTDIR, the release tarball (make dist) and the
Debian package (make deb), checked by lintian and installed into a scratch
root, never into this machine. Every build here starts from the tarball, so
the tarball is known to build on its own."""
import gzip
import os
import re
import shutil
import subprocess
import tarfile

import pytest

from conftest import PLUGIN, ROOT

JOBS = "-j%d" % min(os.cpu_count() or 1, 2)


def makefile_version():
    with open(os.path.join(ROOT, "Makefile")) as f:
        return re.search(r"^VERSION := (\S+)$", f.read(), re.M).group(1)


VERSION = makefile_version()
NAME = "cln-l402-%s" % VERSION


def clean_env(**extra):
    """The environment of a fresh shell: nothing of make check's own build
    (BUILD=build-san, MAKEFLAGS, flags) leaks into the builds tested here."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("BUILD", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CC", "CFLAGS",
                        "CPPFLAGS", "LDFLAGS", "PREFIX", "DESTDIR", "V", "SOURCE_DATE_EPOCH")}
    env.update(extra)
    return env


def run(cmd, cwd, env=None, ok=True):
    p = subprocess.run(cmd, cwd=cwd, env=env or clean_env(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=600)
    if ok:
        assert p.returncode == 0, "%s failed (%d):\n%s" % (" ".join(cmd), p.returncode, p.stdout)
    return p


def unpack(tarball, where):
    with tarfile.open(tarball) as t:
        # Python 3.12+ warns without a filter; "data" keeps modes as packed.
        t.extractall(where, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    return os.path.join(where, NAME)


# The man pages make builds from the commands' schemas (doc/schemas/).
MAN_PAGES = sorted("lightning-%s.7" % f[:-len(".json")]
                   for f in os.listdir(os.path.join(ROOT, "doc", "schemas"))
                   if f.startswith("l402-") and f.endswith(".json"))



@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if top.returncode != 0 or os.path.realpath(top.stdout.strip()) != os.path.realpath(ROOT):
        pytest.skip("make dist packs what git tracks: this is not a git checkout")
    out = str(tmp_path_factory.mktemp("dist"))
    run(["make", "--no-print-directory", "dist", "DISTDIR=" + out], ROOT)
    return os.path.join(out, NAME + ".tar.gz")


def test_configure_help():
    p = run(["./configure", "--help"], ROOT)
    for word in ("--prefix", "--libexecdir", "--mandir", "--docdir", "--disable-werror",
                 "CC", "CFLAGS", "CPPFLAGS", "LDFLAGS", "DESTDIR", "V=1", "make dist",
                 "make deb"):
        assert word in p.stdout, "./configure --help does not mention " + word


def test_dist_tarball_is_what_git_tracks_and_reproducible(tarball, tmp_path):
    assert os.path.basename(tarball) == NAME + ".tar.gz"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, stdout=subprocess.PIPE,
                             text=True, check=True).stdout.split("\n")
    tracked = {f for f in tracked if f and os.path.exists(os.path.join(ROOT, f))}
    with tarfile.open(tarball) as t:
        members = t.getmembers()
    names = {m.name for m in members}
    assert all(n.startswith(NAME + "/") for n in names)
    assert {n[len(NAME) + 1:] for n in names} == tracked
    for must in ("configure", "Makefile", "CHANGELOG.md", "LICENSE", "README.md",
                 "contrib/deb/build.sh"):
        assert NAME + "/" + must in names
    for m in members:
        assert (m.uid, m.gid) == (0, 0), m.name
        assert m.mode in (0o644, 0o755), (m.name, oct(m.mode))
    assert NAME + "/configure" in {m.name for m in members if m.mode == 0o755}
    # The same tree, packed again: the same bytes.
    again = str(tmp_path / "again")
    run(["make", "--no-print-directory", "dist", "DISTDIR=" + again], ROOT)
    with open(tarball, "rb") as a, open(os.path.join(again, NAME + ".tar.gz"), "rb") as b:
        assert a.read() == b.read(), "make dist is not reproducible"


# ---- clang, flags, install and uninstall: one clang build from the tarball

CLANG_PREFIX = "/opt/l402"
PACKAGER = {
    "CPPFLAGS": "-D_FORTIFY_SOURCE=2",
    "LDFLAGS": "-Wl,-z,relro,-z,now",
}


@pytest.fixture(scope="module")
def clang_tree(tarball, tmp_path_factory):
    """The tarball configured with clang and a packager's flags, everything
    (plugin, unit tests, fuzz replays) built with V=1."""
    assert shutil.which("clang"), "clang is missing (contrib/install-deps.sh installs it)"
    tree = unpack(tarball, str(tmp_path_factory.mktemp("clang")))
    conf = run(["./configure", "--prefix=" + CLANG_PREFIX, "CC=clang"]
               + ["%s=%s" % kv for kv in PACKAGER.items()], tree)
    # `make` as the README says, then the tests' own binaries.
    build = run(["make", "--no-print-directory", JOBS, "V=1"], tree, ok=False)
    if build.returncode == 0:
        more = run(["make", "--no-print-directory", JOBS, "V=1", "unit-tests"], tree, ok=False)
        build = subprocess.CompletedProcess(more.args, more.returncode,
                                            build.stdout + more.stdout)
    return tree, conf.stdout, build


def compile_lines(out, cc):
    return [ln for ln in out.split("\n") if ln.startswith(cc + " ") and " -c " in ln]


def link_lines(out, cc):
    return [ln for ln in out.split("\n") if ln.startswith(cc + " ") and " -c " not in ln]


def test_clang_builds_everything_warning_free(clang_tree):
    tree, conf, build = clang_tree
    assert build.returncode == 0, build.stdout[-4000:]
    assert "warning:" not in build.stdout and "error:" not in build.stdout
    cc = compile_lines(build.stdout, "clang")
    assert len(cc) > 60, "expected every source compiled by clang with V=1"
    assert all(" -Werror " in ln for ln in cc)
    out = run([os.path.join(tree, "plugin", "l402"), "--version"], tree).stdout
    assert out.strip() == "cln-l402 " + VERSION


def test_packager_flags_reach_compiler_and_linker(clang_tree):
    tree, _, build = clang_tree
    assert build.returncode == 0
    for ln in compile_lines(build.stdout, "clang"):
        assert PACKAGER["CPPFLAGS"] in ln.split(), ln
        assert "-O2" in ln.split(), ln         # CFLAGS' default stays
    links = link_lines(build.stdout, "clang")
    assert links and all(PACKAGER["LDFLAGS"] in ln.split() for ln in links)
    # And they took effect: fortified calls, a read-only GOT bound at start.
    binary = os.path.join(tree, "plugin", "l402")
    syms = run(["nm", "-D", binary], tree).stdout
    assert re.search(r"__\w+_chk\b", syms), "no fortified calls: CPPFLAGS was lost"
    dyn = run(["readelf", "-d", "-l", binary], tree).stdout
    assert "GNU_RELRO" in dyn and re.search(r"\bNOW\b", dyn), "LDFLAGS was lost"


def test_a_change_of_flags_rebuilds(clang_tree):
    tree, _, build = clang_tree
    assert build.returncode == 0
    assert run(["make", "-q", "all"], tree, ok=False).returncode == 0, "up to date"
    # New flags make every object out of date; asking records nothing.
    assert run(["make", "-q", "all", "CPPFLAGS=-D_FORTIFY_SOURCE=3"], tree,
               ok=False).returncode == 1
    assert run(["make", "-q", "all", "LDFLAGS=-Wl,--as-needed"], tree, ok=False).returncode == 1
    assert run(["make", "-q", "all"], tree, ok=False).returncode == 0


def test_flags_from_environment_command_line_and_configure(tarball, tmp_path):
    """Dry runs (make -n V=1) in a tree configured without flags."""
    tree = unpack(tarball, str(tmp_path))
    run(["./configure"], tree)

    def dry(args, **env):
        out = run(["make", "-n", "V=1"] + args, tree, env=clean_env(**env)).stdout
        cc, ld = compile_lines(out, "cc"), link_lines(out, "cc")
        assert len(cc) > 40 and ld, out[-2000:]
        return [ln.split() for ln in cc], [ln.split() for ln in ld], out

    cc, ld, _ = dry(["all"], CPPFLAGS="-DFROM_ENV=1", CFLAGS="-O1", LDFLAGS="-Wl,--as-needed")
    assert all("-DFROM_ENV=1" in w and "-O1" in w and "-O2" not in w for w in cc)
    assert all("-Wl,--as-needed" in w and "-O1" in w for w in ld)
    cc, ld, _ = dry(["all", "CPPFLAGS=-DFROM_CLI=1"])
    assert all("-DFROM_CLI=1" in w and "-O2" in w and "-Werror" in w for w in cc)
    run(["./configure", "CPPFLAGS=-DFROM_CONFIGURE=1", "--disable-werror"], tree)
    cc, _, _ = dry(["all"])
    assert all("-DFROM_CONFIGURE=1" in w and "-Werror" not in w for w in cc)
    cc, _, _ = dry(["all", "CPPFLAGS=-DFROM_CLI=1"])
    assert all("-DFROM_CLI=1" in w and "-DFROM_CONFIGURE=1" not in w for w in cc)
    _, _, out = dry(["install", "PREFIX=/usr", "DESTDIR=/scratch/stage"])
    assert "/scratch/stage/usr/libexec/cln-l402/l402" in out


def test_install_and_uninstall_with_destdir(clang_tree, tmp_path):
    tree, _, build = clang_tree
    assert build.returncode == 0
    stage = str(tmp_path / "stage")
    run(["make", "--no-print-directory", "install", "DESTDIR=" + stage], tree)
    root = stage + CLANG_PREFIX
    files = sorted(os.path.relpath(os.path.join(d, f), root)
                   for d, _, fs in os.walk(stage) for f in fs)
    assert files == sorted([
        "libexec/cln-l402/l402",
        "share/doc/cln-l402/CHANGELOG.md", "share/doc/cln-l402/LICENSE",
        "share/doc/cln-l402/README.md",
    ] + ["share/man/man7/" + m for m in MAN_PAGES])
    assert os.access(os.path.join(root, "libexec/cln-l402/l402"), os.X_OK)
    run(["make", "--no-print-directory", "uninstall", "DESTDIR=" + stage], tree)
    left = [os.path.join(d, f) for d, ds, fs in os.walk(stage) for f in fs + ds
            if "cln-l402" in f or os.path.isfile(os.path.join(d, f))]
    assert left == [], "make uninstall left %s" % left
    # install-strip: the same files, the plugin without its symbol table.
    run(["make", "--no-print-directory", "install-strip", "DESTDIR=" + stage,
         "PREFIX=/usr"], tree)
    stripped = stage + "/usr/libexec/cln-l402/l402"
    assert ".symtab" not in run(["readelf", "-S", stripped], tree).stdout
    assert run([stripped, "--version"], tree).stdout.strip() == "cln-l402 " + VERSION


# ---- the Debian package, built from the tarball


@pytest.fixture(scope="module")
def deb(tarball, tmp_path_factory):
    for tool in ("dpkg-deb", "dpkg-shlibdeps", "lintian"):
        assert shutil.which(tool), tool + " is missing (contrib/install-deps.sh installs it)"
    base = tmp_path_factory.mktemp("deb")
    tree = unpack(tarball, str(base))
    out = str(base / "out")
    p = run(["make", "--no-print-directory", JOBS, "deb", "DISTDIR=" + out], tree, ok=False)
    assert p.returncode == 0, p.stdout[-4000:]
    assert "warning:" not in p.stdout, p.stdout
    arch = run(["dpkg", "--print-architecture"], tree).stdout.strip()
    path = os.path.join(out, "cln-l402_%s-1_%s.deb" % (VERSION, arch))
    assert os.path.exists(path), os.listdir(out)
    return path


def test_deb_passes_lintian(deb):
    p = run(["lintian", "--fail-on", "error", "--info", deb], os.path.dirname(deb), ok=False)
    assert p.returncode == 0 and not re.search(r"^E: ", p.stdout, re.M), p.stdout


def test_deb_fields_and_contents(deb):
    d = os.path.dirname(deb)
    fields = run(["dpkg-deb", "--field", deb], d).stdout
    assert re.search(r"^Package: cln-l402$", fields, re.M)
    assert re.search(r"^Version: %s-1$" % re.escape(VERSION), fields, re.M)
    depends = re.search(r"^Depends: (.*)$", fields, re.M).group(1)
    for lib in ("libc6", "libmicrohttpd", "libsodium", "libssl", "libcurl", "libgnutls"):
        assert lib in depends, depends
    listing = run(["dpkg-deb", "--contents", deb], d).stdout
    rows = {ln.split()[-1]: ln.split() for ln in listing.strip().split("\n")}
    assert all(r[1] == "root/root" for r in rows.values())
    assert rows["./usr/libexec/cln-l402/l402"][0] == "-rwxr-xr-x"
    for f in ("copyright", "changelog.gz", "changelog.Debian.gz", "README.md.gz"):
        assert rows["./usr/share/doc/cln-l402/" + f][0] == "-rw-r--r--", f
    for m in MAN_PAGES:
        assert rows["./usr/share/man/man7/%s.gz" % m][0] == "-rw-r--r--", m


def test_deb_installs_into_a_scratch_root_and_removes_cleanly(deb, tmp_path):
    root = str(tmp_path / "root")
    admin = os.path.join(root, "var", "lib", "dpkg")
    for sub in ("info", "updates"):
        os.makedirs(os.path.join(admin, sub))
    open(os.path.join(admin, "status"), "w").close()
    dpkg = ["dpkg", "--root=" + root, "--force-depends", "--force-script-chrootless",
            "--log=/dev/null"]
    run(dpkg + ["--install", deb], root)
    status = run(["dpkg", "--root=" + root, "--status", "cln-l402"], root).stdout
    assert "Status: install ok installed" in status
    plugin = os.path.join(root, "usr", "libexec", "cln-l402", "l402")
    assert run([plugin, "--version"], root).stdout.strip() == "cln-l402 " + VERSION
    with gzip.open(os.path.join(root, "usr/share/doc/cln-l402/changelog.gz"), "rt") as f:
        assert "## [%s]" % VERSION in f.read()
    with gzip.open(os.path.join(root, "usr/share/man/man7/lightning-l402-status.7.gz"),
                   "rt") as f:
        assert f.read().startswith(".TH \"LIGHTNING-L402-STATUS\" \"7\"")
    with open(os.path.join(root, "usr/share/doc/cln-l402/copyright")) as f:
        assert "License: Expat" in f.read()
    run(dpkg + ["--purge", "cln-l402"], root)
    left = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(root, "usr")) for f in fs]
    assert left == [] and not os.path.exists(os.path.join(root, "usr/libexec/cln-l402"))


def test_deb_depends_are_met_on_this_machine(deb):
    """The Depends dpkg-shlibdeps wrote name this system's packages, at
    versions it has (read from dpkg's status, without its lock)."""
    d = os.path.dirname(deb)
    depends = re.search(r"^Depends: (.*)$", run(["dpkg-deb", "--field", deb], d).stdout,
                        re.M).group(1)
    for dep in depends.split(","):
        m = re.match(r"\s*([\w.+-]+)(?: \((>=|=) ([^)]+)\))?\s*$", dep)
        assert m, dep
        have = run(["dpkg-query", "-W", "-f=${Version}", m.group(1)], d, ok=False)
        assert have.returncode == 0, m.group(1) + " is not installed"
        if m.group(2):
            op = "ge" if m.group(2) == ">=" else "eq"
            assert run(["dpkg", "--compare-versions", have.stdout, op, m.group(3)], d,
                       ok=False).returncode == 0, dep


# ---- the version, the changelog, the README's instructions


def test_version_is_the_changelogs_and_the_plugins(node):
    with open(os.path.join(ROOT, "CHANGELOG.md")) as f:
        first = re.search(r"^## \[([^\]]+)\]", f.read(), re.M)
    assert first and first.group(1) == VERSION, "CHANGELOG.md's newest entry is not " + VERSION
    assert run([PLUGIN, "--version"], ROOT).stdout.strip() == "cln-l402 " + VERSION
    assert node.rpc.call("l402-status", {})["version"] == VERSION


def readme_section(title):
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    m = re.search(r"^## %s\n(.*?)(?=^## )" % re.escape(title), text, re.M | re.S)
    assert m, "README has no section " + title
    return m.group(1)


def test_readme_lists_every_package_and_needs_no_sudo():
    with open(os.path.join(ROOT, "contrib", "install-deps.sh")) as f:
        script = f.read()
    pkgs = re.search(r'^PKGS="(.*?)"', script, re.M | re.S).group(1).replace("\\\n", " ").split()
    with open(os.path.join(ROOT, "configure")) as f:
        pkgs += re.findall(r"^need_pkg \S+ (\S+)$", f.read(), re.M)
    building = readme_section("Building")
    missing = [p for p in pkgs if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(p), building)]
    assert missing == [], "README's Building section does not list " + " ".join(missing)
    installing = readme_section("Installing")
    for cmd in re.findall(r"```sh\n(.*?)```", installing, re.S):
        assert not re.search(r"(^|&&|;|\|)\s*sudo\b", cmd, re.M), cmd
