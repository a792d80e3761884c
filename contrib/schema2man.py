#!/usr/bin/env python3
"""Write the man page lightning-COMMAND.7 of one command from its JSON
schema (doc/schemas/COMMAND.json, in Core Lightning's doc/schemas style),
as Core Lightning builds its own pages: `lightning-cli help COMMAND` runs
`man lightning-COMMAND`.

    schema2man.py [--version V] doc/schemas/l402-status.json > lightning-l402-status.7

Standard library only; the descriptions' markdown (`code`, *em*, **strong**)
becomes roff fonts."""
import json
import re
import sys


def roff_text(s):
    """One line of a description as roff: escapes, then fonts."""
    s = s.replace("\\", "\\e").replace("-", "\\-")
    s = re.sub(r"\*\*(.+?)\*\*", r"\\fB\1\\fR", s)
    s = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", s)
    s = re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"\\fI\1\\fR", s)
    # A line starting with . or ' would be read as a request.
    if s.startswith((".", "'")):
        s = "\\&" + s
    return s


def paragraphs(lines):
    out, para = [], []
    for line in lines + [""]:
        if line == "":
            if para:
                out.append(".PP")
                out += [roff_text(x) for x in para]
                para = []
        elif line.startswith("- "):
            if para:
                out.append(".PP")
                out += [roff_text(x) for x in para]
                para = []
            out += [".IP \\(bu 2", roff_text(line[2:])]
        else:
            para.append(line)
    return out


def type_name(p):
    if "oneOf" in p:
        return " or ".join(type_name(x) for x in p["oneOf"])
    t = p.get("type", "any")
    if isinstance(t, list):
        return " or ".join(t)
    if t == "array" and isinstance(p.get("items"), dict) and "type" in p["items"]:
        return "array of %ss" % type_name(p["items"])
    return t


def description(p):
    d = p.get("description")
    if d is None and "oneOf" in p:
        d = p["oneOf"][0].get("description", [])
    d = list(d or [])
    if "enum" in p:
        d.append("One of %s." % ", ".join("`%s`" % e for e in p["enum"]))
    return " ".join(d)


def members(obj, required, out, depth):
    for name, p in obj.get("properties", {}).items():
        tag = "" if name in required else ", optional"
        text = "\\fB%s\\fR (%s%s)" % (roff_text(name), roff_text(type_name(p)), tag)
        d = description(p)
        if d:
            text += ": " + roff_text(d)
        out += [".IP \\(bu 2", text]
        sub = p.get("items", p) if p.get("type") == "array" else p
        if isinstance(sub, dict) and sub.get("properties"):
            out.append(".RS")
            if p.get("type") == "array":
                out.append("Each an object containing:")
            members(sub, sub.get("required", []), out, depth + 1)
            out.append(".RE")


def page(schema, version):
    name = schema["rpc"]
    req = schema.get("request", {})
    resp = schema.get("response", {})
    params = req.get("properties", {})
    required = req.get("required", [])
    out = ['.TH "LIGHTNING-%s" "7" "" "cln-l402 %s" "cln-l402 Manual"' % (name.upper(), version),
           ".SH NAME",
           "lightning-%s \\- %s" % (roff_text(name), roff_text(schema["title"])),
           ".SH SYNOPSIS",
           "\\fB%s\\fR %s" % (roff_text(name), " ".join(
               ("\\fI%s\\fR" if k in required else "[\\fI%s\\fR]") % roff_text(k) for k in params)),
           ".SH DESCRIPTION"]
    out += paragraphs(schema.get("description", []))
    if params:
        out += [".PP", "Parameters, by position or by name (\\fBlightning\\-cli \\-k\\fR):"]
        members(req, required, out, 0)
    out += [".SH RETURN VALUE", "On success, an object is returned, containing:"]
    members(resp, resp.get("required", []), out, 0)
    if schema.get("errors"):
        out.append(".SH ERRORS")
        out += paragraphs(schema["errors"])
    for ex in schema.get("examples", []):
        out += [".SH EXAMPLE", ".nf", ".RS"]
        out += [roff_text(x) for x in json.dumps(ex["request"], indent=2).split("\n")]
        out += [".PP"] + [roff_text(x) for x in json.dumps(ex["response"], indent=2).split("\n")]
        out += [".RE", ".fi"]
    if schema.get("author"):
        out.append(".SH AUTHOR")
        out += paragraphs(schema["author"])
    if schema.get("see_also"):
        out += [".SH SEE ALSO", roff_text(", ".join(schema["see_also"]))]
    if schema.get("resources"):
        out.append(".SH RESOURCES")
        out += paragraphs(schema["resources"])
    return "\n".join(out) + "\n"


def main(argv):
    version = "unknown"
    if len(argv) >= 2 and argv[0] == "--version":
        version, argv = argv[1], argv[2:]
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        sys.stdout.write(page(json.load(f), version))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
