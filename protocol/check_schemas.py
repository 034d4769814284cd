#!/usr/bin/env python3
"""Compare Gregor's schema files with Kafka's message JSON of two releases.

    check_schemas.py SCHEMA_DIR [--kafka39 PATH] [--kafka44 PATH]

Gregor serves every version from Kafka 3.9's oldest to Kafka 4.4's newest,
so each schema file is checked against both releases. A PATH is a directory
of Kafka's message JSON (clients/src/main/resources/common/message) or a
kafka-clients jar (read with zipfile); `--kafka44 auto` looks for the
4.4.0 jar where scripts/kafka-ref and scripts/install-clients put it. A
reference that is not given, or not there, is skipped with a line saying
so; when every reference is skipped the exit status is 77 (meson's "skip").

How a schema is compared. For each release, its range R is the versions a
default broker of that release accepts: validVersions, less the highest one
when the request says latestVersionUnstable (kafka_ranges.py).

 - The versions line must be the union: lowest = Kafka 3.9's lowest,
   highest = Kafka 4.4's highest in R. With one release only, its half is
   checked: 3.9 alone wants our lowest to equal its lowest and our range to
   reach its highest; 4.4 alone wants our highest to equal its highest and
   our range to reach down to its lowest.
 - Everything else is compared per release, with both sides clipped to that
   release's R: the api key, the flexible versions, and, field by field and
   recursively, presence (by snake_case name), order, type ("is array", "is
   struct" and the primitive type; struct names are not compared), versions,
   nullable versions, tag and tagged versions, and default. A field that
   exists on one side only, in versions outside R, is no difference
   (Produce's topic_id, v13+, seen from 3.9; ListOffsets' max_num_offsets,
   v0 only, seen from 4.4, whose lowest is 1). So an older version must
   match 3.9, a newer one 4.4, and a version both define must match both.
   A field Kafka renamed carries `was=OLD` in the schema; either name then
   matches it.

Version ranges are compared as they take effect: a field's range intersected
with its parent's (Kafka lets a nested field name versions its parent lacks;
schema.py does not), nullable versions intersected with the field's.

Each difference is printed as one line, ours first and Kafka's second, with
the release whose JSON disagrees:

    Produce.gps: request.topic_data.partition_data.index: versions 0+ != 1+ [kafka 4.4]

Exit status 1 if there is any difference, 77 if no reference was found, else 0.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kafka_ranges  # noqa: E402
import schema  # noqa: E402
from schema import Range, snake  # noqa: E402

NUMERIC = {"int8", "int16", "int32", "int64", "uint16", "uint32", "float64"}


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
        self.valid = None   # the release's range being compared, for show()
        self.label = None   # the release being compared, for report()

    def report(self, fname, path, text):
        if self.label:
            text = "%s [%s]" % (text, self.label)
        self.problems.append(": ".join(p for p in (fname, path, text) if p))

    def compare_fields(self, fname, path, ours, theirs, common, o_parent, k_parent):
        """Compare one struct: `ours` a list of schema.Field, `theirs` a list of
        Kafka field dicts; o_parent/k_parent are the effective ranges of the
        enclosing struct on each side, already clipped to the release's range.
        A field whose effective range is empty on its side counts as absent."""
        by_name = {}
        korder = []
        renamed = {f.was: f.name for f in ours if f.was}
        for kf in theirs:
            name = snake(kf["name"])
            name = renamed.get(name, name)
            if name in by_name:
                self.report(fname, path, "reference has two fields named %s" % name)
            if krange(kf["versions"]).intersect(k_parent).empty():
                continue
            by_name[name] = kf
            korder.append(name)
        live = [f for f in ours if not f.versions.intersect(o_parent).empty()]
        onames = [f.name for f in live]

        for f in live:
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

        for f in live:
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

    def compare_api(self, fname, api, ref):
        """Compare one parsed schema with one release; return the release's
        range (None if it lacks the api or has no stable version of it)."""
        self.label = ref.label
        req = ref.load("%sRequest.json" % api.name)
        if req is None:
            self.label = None
            return None
        stable = kafka_ranges.stable_range(req)
        self.valid = stable
        for kind, msg in (("request", api.request), ("response", api.response)):
            ref_msg = req if kind == "request" else ref.load("%sResponse.json" % api.name)
            if ref_msg is None:
                self.report(fname, kind, "no reference file %sResponse.json" % api.name)
                continue
            if ref_msg.get("type") != kind:
                self.report(fname, kind, "reference type is %s" % ref_msg.get("type"))
            if ref_msg.get("apiKey") != api.key:
                self.report(fname, kind, "api key %s != %s" % (api.key, ref_msg.get("apiKey")))
            k_valid = krange(ref_msg["validVersions"])
            if kind == "response" and k_valid != krange(req["validVersions"]):
                self.report(fname, kind, "reference's request and response versions differ")
            if stable.empty():
                continue
            # Both sides clipped to the release's range alone: the versions
            # line is checked once, by check_versions.
            k_valid = k_valid.intersect(stable)
            o_valid = stable
            k_flex = krange(ref_msg["flexibleVersions"]).intersect(k_valid)
            o_flex = api.flexible.intersect(o_valid)
            if o_flex != k_flex:
                self.report(fname, kind, "flexible versions %s != %s"
                            % (show(o_flex, stable), show(k_flex, stable)))
            common = {}
            for cs in ref_msg.get("commonStructs", []):
                common[cs["name"]] = cs["fields"]
            self.compare_fields(fname, kind, msg.struct.fields, ref_msg["fields"], common,
                                o_valid, k_valid)
        self.label = None
        return None if stable.empty() else stable

    def check_versions(self, fname, api, r39, r44):
        """The versions line against the union of the releases' ranges (or
        the half that the releases present allow to check)."""
        ours = api.versions
        if r39 is not None and r44 is not None:
            want = Range(min(r39.lo, r44.lo), max(r39.hi, r44.hi))
            if ours != want:
                self.report(fname, "", "versions %s != %s (kafka 3.9 %s, kafka 4.4 %s)"
                            % (ours, want, r39, r44))
            return
        if r39 is not None and (ours.lo != r39.lo or ours.hi < r39.hi):
            self.report(fname, "", "versions %s: want lowest %d and up to at least %d (kafka 3.9 %s)"
                        % (ours, r39.lo, r39.hi, r39))
        if r44 is not None and (ours.hi != r44.hi or ours.lo > r44.lo):
            self.report(fname, "", "versions %s: want highest %d and down to at least %d (kafka 4.4 %s)"
                        % (ours, r44.hi, r44.lo, r44))

    def check_file(self, path, refs):
        fname = os.path.basename(path)
        try:
            api = schema.parse(path)
        except schema.SchemaError as e:
            self.report(fname, "", "schema error: %s" % e)
            return False
        if fname != api.name + ".gps":
            self.report(fname, "", "file name does not match api name %s" % api.name)
        have = [ref for ref in refs.values() if ref is not None]
        if not any(ref.has("%sRequest.json" % api.name) for ref in have):
            self.report(fname, "", "no reference file %sRequest.json in %s"
                        % (api.name, " or ".join(r.path for r in have)))
            return True
        ranges = {label: (self.compare_api(fname, api, ref) if ref else None)
                  for label, ref in refs.items()}
        self.check_versions(fname, api, ranges["kafka 3.9"], ranges["kafka 4.4"])
        return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("schema_dir")
    ap.add_argument("--kafka39", help="Kafka 3.9's message JSON (directory or jar, "
                    "or 'auto' for the cached kafka-clients 3.9.1 jar)")
    ap.add_argument("--kafka44", help="Kafka 4.4's message JSON (directory or jar, "
                    "or 'auto' for the cached kafka-clients jar)")
    args = ap.parse_args()
    sdir = args.schema_dir
    k44 = args.kafka44
    if k44 == "auto":
        k44 = kafka_ranges.find_kafka44_jar()
        if k44 is None:
            print("schemas: kafka 4.4 part skipped: no kafka-clients-%s.jar in the caches "
                  "(scripts/kafka-ref fetch brings it)" % kafka_ranges.KAFKA44)
    k39 = args.kafka39
    if k39 == "auto":
        k39 = kafka_ranges.find_kafka39_jar()
        if k39 is None:
            print("schemas: kafka 3.9 part skipped: no kafka-clients-%s.jar in the caches "
                  "(KAFKA_REF_VERSION=%s scripts/kafka-ref fetch brings it)"
                  % (kafka_ranges.KAFKA39, kafka_ranges.KAFKA39))
    refs = {}
    for label, path in (("kafka 3.9", k39), ("kafka 4.4", k44)):
        refs[label] = kafka_ranges.open_reference(label, path)
        if refs[label] is None and path is not None:
            print("schemas: %s part skipped: no reference at %s" % (label, path))
    if not any(refs.values()):
        print("schemas: no reference, skipped")
        return 77  # meson's "skipped"
    files = sorted(n for n in os.listdir(sdir) if n.endswith(".gps"))
    c = Checker()
    parsed = [c.check_file(os.path.join(sdir, name), refs) for name in files]
    if all(parsed):
        try:
            schema.load_dir(sdir)  # as the generator does; also checks api keys are unique
        except schema.SchemaError as e:
            c.report("", "", "schema error: %s" % e)
    for p in c.problems:
        print(p)
    if c.problems:
        return 1
    print("schemas: %d files match %s" % (len(files), " and ".join(
        "%s (%s)" % (label, ref.path) for label, ref in refs.items() if ref)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
