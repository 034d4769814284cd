#!/usr/bin/env python3
"""Compare Gregor's schema files with Kafka's reference message JSON.

    check_schemas.py SCHEMA_DIR REFERENCE_DIR

For every SCHEMA_DIR/<Name>.gps, reads REFERENCE_DIR/<Name>Request.json and
<Name>Response.json (Kafka's clients/src/main/resources/common/message) and
compares the api key, name, valid and flexible versions, and, field by field
and recursively: presence (by snake_case name), order, type ("is array",
"is struct" and the primitive type; struct names are not compared), versions,
nullable versions, tag and tagged versions, and default.

Version ranges are compared as they take effect: a field's range intersected
with its parent's (Kafka lets a nested field name versions its parent lacks;
schema.py does not), nullable versions intersected with the field's.

Each difference is printed as one line, ours first and Kafka's second:

    Produce.gps: request.topic_data.partition_data.index: versions 0+ != 1+

Exit status 1 if there is any difference, else 0.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schema  # noqa: E402
from schema import Range, snake  # noqa: E402

NUMERIC = {"int8", "int16", "int32", "int64", "uint16", "uint32", "float64"}


def load_reference(path):
    """Kafka's message JSON, without its `//` comment lines."""
    with open(path) as f:
        text = "".join(line for line in f if not line.lstrip().startswith("//"))
    return json.loads(text)


def krange(text):
    """A Kafka version range ("0+", "1-3", "2", "none") as a schema.Range."""
    return Range.parse(str(text).strip(), "reference")


def ktype(t):
    """(is_array, is_struct, primitive) for a Kafka or Gregor type; the
    primitive is None for a struct, whose name is not compared."""
    arr = t.startswith("[]")
    elem = t[2:] if arr else t
    is_struct = elem not in schema.PRIMITIVES
    return arr, is_struct, None if is_struct else elem


def type_text(arr, is_struct, elem):
    return ("[]" if arr else "") + ("struct" if is_struct else elem)


def norm_default(value, arr, is_struct, elem):
    """A comparable form of a default; `value` is None when none is given."""
    if value is not None and not isinstance(value, str):
        # The JSON sometimes writes a default as a number or a boolean.
        value = json.dumps(value)
    if arr or is_struct:
        return "null" if value == "null" else ("<default>" if value in (None, "") else value)
    if value == "null":
        return "null"
    if elem in NUMERIC:
        if value in (None, ""):
            return 0
        try:
            return float(value) if elem == "float64" else int(value, 0)
        except ValueError:
            return "bad number %r" % value
    if elem == "bool":
        return "false" if value in (None, "") else value.lower()
    if elem == "uuid":
        return "<zero>" if value in (None, "", "AAAAAAAAAAAAAAAAAAAAAA") else value
    # string, bytes, records
    return "" if value is None else value


def show_default(v):
    return '""' if v == "" else str(v)


def show(r, valid):
    """A range as text, `N+` when it runs to the last valid version."""
    if not r.empty() and r.hi >= valid.hi:
        return "%d+" % r.lo
    return str(r)


class Checker:
    def __init__(self):
        self.problems = []
        self.valid = None   # the reference's valid versions, for show()

    def report(self, fname, path, text):
        self.problems.append(": ".join(p for p in (fname, path, text) if p))

    def compare_fields(self, fname, path, ours, theirs, common, o_parent, k_parent):
        """Compare one struct: `ours` a list of schema.Field, `theirs` a list of
        Kafka field dicts; o_parent/k_parent are the effective ranges of the
        enclosing struct on each side."""
        by_name = {}
        korder = []
        for kf in theirs:
            name = snake(kf["name"])
            if name in by_name:
                self.report(fname, path, "reference has two fields named %s" % name)
            by_name[name] = kf
            korder.append(name)
        onames = [f.name for f in ours]

        for f in ours:
            if f.name not in by_name:
                self.report(fname, "%s.%s" % (path, f.name),
                            "field not in the reference")
        for name in korder:
            if name not in onames:
                self.report(fname, "%s.%s" % (path, name), "field missing (reference has it)")

        both_o = [n for n in onames if n in by_name]
        both_k = [n for n in korder if n in onames]
        if both_o != both_k:
            self.report(fname, path, "field order %s != %s"
                        % (" ".join(both_o), " ".join(both_k)))

        for f in ours:
            kf = by_name.get(f.name)
            if kf is not None:
                self.compare_field(fname, "%s.%s" % (path, f.name), f, kf, common,
                                   o_parent, k_parent)

    def compare_field(self, fname, path, f, kf, common, o_parent, k_parent):
        def rep(text):
            self.report(fname, path, text)

        o_type = ktype(f.type)
        k_type = ktype(kf["type"])
        if o_type != k_type:
            rep("type %s != %s" % (type_text(*o_type), type_text(*k_type)))

        o_vers = f.versions.intersect(o_parent)
        k_vers = krange(kf["versions"]).intersect(k_parent)
        if o_vers != k_vers:
            rep("versions %s != %s" % (show(o_vers, self.valid), show(k_vers, self.valid)))

        o_null = f.nullable.intersect(o_vers)
        k_null = krange(kf.get("nullableVersions", "none")).intersect(k_vers)
        if o_null != k_null:
            rep("nullable %s != %s" % (show(o_null, self.valid), show(k_null, self.valid)))

        k_tag = kf.get("tag")
        if f.tag != k_tag:
            rep("tag %s != %s" % (f.tag, k_tag))
        if "taggedVersions" in kf or k_tag is not None:
            k_tagged = krange(kf.get("taggedVersions", "none")).intersect(k_parent)
            o_tagged = o_vers if f.tag is not None else Range(1, 0)
            if o_tagged != k_tagged:
                rep("tagged versions %s != %s"
                    % (show(o_tagged, self.valid), show(k_tagged, self.valid)))

        o_def = norm_default(f.default, *o_type)
        k_def = norm_default(kf.get("default"), *k_type)
        if o_def != k_def:
            rep("default %s != %s" % (show_default(o_def), show_default(k_def)))

        for key in kf:
            if key not in ("name", "type", "versions", "nullableVersions", "tag",
                           "taggedVersions", "default", "fields", "about", "ignorable",
                           "mapKey", "entityType"):
                rep("reference key %r is not represented" % key)

        if f.struct is not None and k_type[1]:
            kname = kf["type"][2:] if k_type[0] else kf["type"]
            kfields = kf.get("fields")
            if kfields is None:
                kfields = common.get(kname)
            if kfields is None:
                rep("reference struct %s has no fields" % kname)
                return
            self.compare_fields(fname, path, f.struct.fields, kfields, common, o_vers, k_vers)

    def check_file(self, path, refdir):
        fname = os.path.basename(path)
        try:
            api = schema.parse(path)
        except schema.SchemaError as e:
            self.report(fname, "", "schema error: %s" % e)
            return False
        if fname != api.name + ".gps":
            self.report(fname, "", "file name does not match api name %s" % api.name)
        for kind, msg in (("request", api.request), ("response", api.response)):
            ref_path = os.path.join(refdir, "%s%s.json" % (api.name, kind.capitalize()))
            if not os.path.exists(ref_path):
                self.report(fname, kind, "no reference file %s" % ref_path)
                continue
            ref = load_reference(ref_path)
            if ref.get("type") != kind:
                self.report(fname, kind, "reference type is %s" % ref.get("type"))
            if ref.get("apiKey") != api.key:
                self.report(fname, kind, "api key %s != %s" % (api.key, ref.get("apiKey")))
            k_valid = krange(ref["validVersions"])
            self.valid = k_valid
            if api.versions != k_valid:
                self.report(fname, kind, "valid versions %s != %s" % (api.versions, k_valid))
            k_flex = krange(ref["flexibleVersions"]).intersect(k_valid)
            o_flex = api.flexible.intersect(api.versions)
            if o_flex != k_flex:
                self.report(fname, kind, "flexible versions %s != %s"
                            % (show(o_flex, k_valid), show(k_flex, k_valid)))
            common = {}
            for cs in ref.get("commonStructs", []):
                common[cs["name"]] = cs["fields"]
            self.compare_fields(fname, kind, msg.struct.fields, ref["fields"], common,
                                api.versions, k_valid)
        return True


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: check_schemas.py SCHEMA_DIR REFERENCE_DIR")
    sdir, refdir = sys.argv[1], sys.argv[2]
    if not os.path.isdir(refdir):
        print("schemas: no reference at %s, skipped" % refdir)
        return 77  # meson's "skipped"
    files = sorted(n for n in os.listdir(sdir) if n.endswith(".gps"))
    c = Checker()
    parsed = [c.check_file(os.path.join(sdir, name), refdir) for name in files]
    if all(parsed):
        try:
            schema.load_dir(sdir)  # as the generator does; also checks api keys are unique
        except schema.SchemaError as e:
            c.report("", "", "schema error: %s" % e)
    for p in c.problems:
        print(p)
    if c.problems:
        return 1
    print("schemas: %d files match the reference" % len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
