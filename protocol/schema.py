"""Parser for Gregor's protocol schema files (protocol/schema/*.gps).

The format, one file per API:

    # comment
    api 3 Metadata              api key and name
    versions 0-12               valid versions
    flexible 9+                 first flexible version ("none" if never)

    request
      topics []Topic 0+ nullable=1+
        topic_id uuid 10+
        name string 0+ nullable=10+
      allow_auto_topic_creation bool 4+ default=true

    response
      ...

A field line is `name type versions [nullable=R] [tag=N] [default=V] [was=OLD]`.
Versions and ranges are written `N`, `N+`, `N-M` or `none`. Types are bool,
int8, int16, int32, int64, uint16, uint32, float64, string, bytes, uuid,
records, a struct name (capitalised; its fields follow, indented two spaces
more), or `[]` followed by any of those. A field with `tag=N` is a tagged
field in the versions given (which must all be flexible). `default=` gives the
value a decoder fills in where the field is absent, and the value a tagged
field is omitted at; without it numbers are 0, bools false, strings empty
(also where nullable, as in Kafka) and arrays empty. `was=` names the field
as an older Kafka release called it (Kafka 3.9's generation_id is 4.4's
generation_id_or_member_epoch); the name does not reach the wire, so only
the checker reads it.

The module is shared by the code generator and by the checker that compares
the schema files with Kafka's reference JSON.
"""

import os
import re

PRIMITIVES = {
    "bool", "int8", "int16", "int32", "int64", "uint16", "uint32",
    "float64", "string", "bytes", "uuid", "records",
}

MAX_VERSION = 0x7FFF


class SchemaError(Exception):
    pass


class Range:
    """An inclusive version range; empty when lo > hi."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    @staticmethod
    def parse(text, where):
        if text == "none":
            return Range(1, 0)
        m = re.fullmatch(r"(\d+)(\+|-(\d+))?", text)
        if not m:
            raise SchemaError("%s: bad version range %r" % (where, text))
        lo = int(m.group(1))
        if m.group(2) is None:
            hi = lo
        elif m.group(2) == "+":
            hi = MAX_VERSION
        else:
            hi = int(m.group(3))
        if hi < lo:
            raise SchemaError("%s: empty version range %r" % (where, text))
        return Range(lo, hi)

    def empty(self):
        return self.lo > self.hi

    def contains(self, v):
        return self.lo <= v <= self.hi

    def intersect(self, other):
        return Range(max(self.lo, other.lo), min(self.hi, other.hi))

    def covers(self, other):
        return other.empty() or (self.lo <= other.lo and other.hi <= self.hi)

    def __eq__(self, other):
        if self.empty() and other.empty():
            return True
        return (self.lo, self.hi) == (other.lo, other.hi)

    def __str__(self):
        if self.empty():
            return "none"
        if self.hi == MAX_VERSION:
            return "%d+" % self.lo
        if self.lo == self.hi:
            return "%d" % self.lo
        return "%d-%d" % (self.lo, self.hi)

    def c_test(self, var="v"):
        """A C expression that is true when `var` lies in the range."""
        if self.empty():
            return "0"
        if self.hi == MAX_VERSION:
            return "1" if self.lo == 0 else "%s >= %d" % (var, self.lo)
        if self.lo == self.hi:
            return "%s == %d" % (var, self.lo)
        if self.lo == 0:
            return "%s <= %d" % (var, self.hi)
        return "(%s >= %d && %s <= %d)" % (var, self.lo, var, self.hi)


class Field:
    def __init__(self, name, type_, versions, nullable, tag, default, line, was=None):
        self.name = name
        self.was = was               # the name an older Kafka release gave it
        self.type = type_            # full type text, e.g. "[]Topic"
        self.versions = versions
        self.nullable = nullable
        self.tag = tag
        self.default = default
        self.line = line
        self.struct = None           # Struct for struct and []struct fields

    @property
    def is_array(self):
        return self.type.startswith("[]")

    @property
    def elem(self):
        return self.type[2:] if self.is_array else self.type

    @property
    def is_struct(self):
        return self.elem not in PRIMITIVES


class Struct:
    def __init__(self, name, fields):
        self.name = name             # C-level name (snake case, unique per API)
        self.fields = fields


class Message:
    def __init__(self, kind, struct):
        self.kind = kind             # "request" or "response"
        self.struct = struct


class Api:
    def __init__(self, path):
        self.path = path
        self.key = None
        self.name = None
        self.versions = None
        self.flexible = None
        self.request = None
        self.response = None

    @property
    def snake(self):
        return snake(self.name)


def snake(name):
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    s = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s)
    return s.lower()


def _parse_field(text, where):
    parts = text.split()
    if len(parts) < 3:
        raise SchemaError("%s: a field needs a name, a type and versions" % where)
    name, type_, vers = parts[0], parts[1], parts[2]
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise SchemaError("%s: field name %r is not snake_case" % (where, name))
    elem = type_[2:] if type_.startswith("[]") else type_
    if elem not in PRIMITIVES and not re.fullmatch(r"[A-Z][A-Za-z0-9]*", elem):
        raise SchemaError("%s: unknown type %r" % (where, type_))
    nullable, tag, default, was = Range(1, 0), None, None, None
    for opt in parts[3:]:
        k, _, val = opt.partition("=")
        if k == "nullable":
            nullable = Range.parse(val, where)
        elif k == "tag":
            tag = int(val)
        elif k == "default":
            default = val
        elif k == "was" and re.fullmatch(r"[a-z][a-z0-9_]*", val):
            was = val
        else:
            raise SchemaError("%s: unknown option %r" % (where, opt))
    return Field(name, type_, Range.parse(vers, where), nullable, tag, default, where, was)


def parse(path):
    api = Api(path)
    base = os.path.basename(path)
    lines = []
    with open(path) as f:
        for no, raw in enumerate(f, 1):
            body = raw.split("#", 1)[0].rstrip()
            if body.strip():
                lines.append((no, raw.rstrip("\n"), body))

    i = 0
    section = None

    def parse_block(indent, owner, names):
        """Parse fields at exactly `indent` spaces; return the list. Struct
        types are named <owner>_<type>, unique within a message."""
        nonlocal i
        fields = []
        seen = set()
        while i < len(lines):
            no, raw, body = lines[i]
            ind = len(body) - len(body.lstrip(" "))
            if ind < indent:
                break
            where = "%s:%d" % (base, no)
            if ind != indent:
                raise SchemaError("%s: unexpected indentation" % where)
            i += 1
            fld = _parse_field(body.strip(), where)
            if fld.name in seen:
                raise SchemaError("%s: duplicate field %r" % (where, fld.name))
            seen.add(fld.name)
            if fld.is_struct:
                cname = "%s_%s" % (owner, snake(fld.elem))
                if cname in names:
                    raise SchemaError("%s: struct type %s used twice" % (where, fld.elem))
                names.add(cname)
                sub = parse_block(indent + 2, owner, names)
                if not sub:
                    raise SchemaError("%s: struct %s has no fields" % (where, fld.elem))
                fld.struct = Struct(cname, sub)
            fields.append(fld)
        return fields

    while i < len(lines):
        no, raw, body = lines[i]
        where = "%s:%d" % (base, no)
        if body.startswith(" "):
            raise SchemaError("%s: field outside request/response" % where)
        words = body.split()
        i += 1
        if words[0] == "api" and len(words) == 3:
            api.key, api.name = int(words[1]), words[2]
        elif words[0] == "versions" and len(words) == 2:
            api.versions = Range.parse(words[1], where)
        elif words[0] == "flexible" and len(words) == 2:
            api.flexible = Range.parse(words[1], where)
        elif words[0] in ("request", "response") and len(words) == 1:
            if api.name is None:
                raise SchemaError("%s: 'api' must come first" % where)
            section = words[0]
            owner = "gp_%s_%s" % (api.snake, section)
            fields = parse_block(2, owner, set())
            msg = Message(section, Struct(owner, fields))
            if getattr(api, section) is not None:
                raise SchemaError("%s: second %s section" % (where, section))
            setattr(api, section, msg)
        else:
            raise SchemaError("%s: cannot read %r" % (where, body))

    for what in ("key", "name", "versions", "flexible", "request", "response"):
        if getattr(api, what) is None:
            raise SchemaError("%s: no %s" % (base, what))
    _validate(api)
    return api


def _validate(api):
    def walk(struct, within):
        tags = set()
        for f in struct.fields:
            if not within.covers(f.versions.intersect(api.versions)):
                raise SchemaError("%s: field %s versions %s outside its parent's %s"
                                  % (f.line, f.name, f.versions, within))
            if not f.versions.covers(f.nullable):
                raise SchemaError("%s: nullable versions outside the field's" % f.line)
            if f.tag is not None:
                if not api.flexible.covers(f.versions.intersect(api.versions)):
                    raise SchemaError("%s: tagged field in non-flexible versions" % f.line)
                if f.tag in tags:
                    raise SchemaError("%s: duplicate tag %d" % (f.line, f.tag))
                tags.add(f.tag)
            if not f.nullable.empty() and f.elem in ("bool", "int8", "int16", "int32",
                                                     "int64", "uint16", "uint32",
                                                     "float64", "uuid") and not f.is_array:
                raise SchemaError("%s: type %s cannot be nullable" % (f.line, f.type))
            if f.struct:
                walk(f.struct, f.versions.intersect(within))

    for msg in (api.request, api.response):
        walk(msg.struct, api.versions)


def load_dir(path):
    apis = []
    for name in sorted(os.listdir(path)):
        if name.endswith(".gps"):
            apis.append(parse(os.path.join(path, name)))
    keys = {}
    for a in apis:
        if a.key in keys:
            raise SchemaError("api key %d in both %s and %s" % (a.key, keys[a.key], a.path))
        keys[a.key] = a.path
    return sorted(apis, key=lambda a: a.key)
