#!/usr/bin/env python3
"""The layering check: every #include "..." of a project header must point
down (or sideways inside its own folder), never up; and broker/ reads no
log file itself and asks no file system for its space (no pread, no
statvfs: storage/ owns Kafka's files and the log directory).

The allowed directions are written once, here, and in docs/ARCHITECTURE.md
("Layers inside broker/"). A file's folder is its layer; it may include
headers of its own folder and of the folders listed for it, nothing else.

    python3 tests/check_layers.py [SOURCE_ROOT]

Exits 1 and lists every back-edge (file:line: layer -> layer) if one exists.
"""
import os
import re
import sys

# layer -> the layers it may include (besides itself). Bottom first.
ALLOWED = {
    'common': set(),
    'protocol': {'common'},
    'config': {'protocol', 'common'},
    'storage': {'protocol', 'common'},
    'broker/base': {'common'},
    'broker/core': {'broker/base', 'storage', 'protocol', 'config', 'common'},
    'broker/net': {'broker/base', 'protocol', 'config', 'common'},
    'broker/api': {'broker/base', 'broker/core', 'broker/net', 'storage', 'protocol', 'config', 'common'},
    # The lifecycle and main.c: the top, wiring everything together.
    'broker': {'broker/base', 'broker/core', 'broker/net', 'broker/api', 'storage', 'protocol', 'config', 'common'},
}

# Back-edges tolerated while they are being removed, as (including file,
# included header). The list only shrinks; an entry that no longer occurs is
# an error. Empty since issue 12.
KNOWN = set()

# Calls a layer must leave to another: storage owns reading Kafka's files
# and asking the log directory's file system.
FORBIDDEN_CALLS = {
    'broker': re.compile(r'\b(pread|f?statvfs)\s*\('),
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
SOURCES = ('.c', '.h', '.def')


def layer_of(path):
    """The layer of a path relative to the source root, or None."""
    d = os.path.dirname(path)
    while d:
        if d in ALLOWED:
            return d
        d = os.path.dirname(d)
    return None


def check(root):
    errors = []
    nfiles = 0
    seen = set()
    for top in ('common', 'protocol', 'config', 'storage', 'broker'):
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if not name.endswith(SOURCES):
                    continue
                path = os.path.relpath(os.path.join(dirpath, name), root)
                src = layer_of(path)
                if src is None:
                    errors.append('%s: in no layer (add its folder to ALLOWED)' % path)
                    continue
                nfiles += 1
                top_layer = src.split('/')[0]
                with open(os.path.join(root, path), encoding='utf-8', errors='replace') as f:
                    for lineno, line in enumerate(f, 1):
                        call = FORBIDDEN_CALLS.get(top_layer)
                        if call and call.search(line.split('//')[0]) and not line.lstrip().startswith('*'):
                            errors.append('%s:%d: %s calls what storage/ owns: %s' % (path, lineno, src, line.strip()))
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        inc = m.group(1)
                        dst = layer_of(inc)
                        if dst is None or dst == src or dst in ALLOWED[src]:
                            continue
                        if (path, inc) in KNOWN:
                            seen.add((path, inc))
                            continue
                        errors.append('%s:%d: %s -> %s (#include "%s")' % (path, lineno, src, dst, inc))
    for path, inc in sorted(KNOWN - seen):
        errors.append('%s: the known back-edge to "%s" is gone: remove it from KNOWN' % (path, inc))
    return nfiles, errors


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    nfiles, errors = check(root)
    for e in errors:
        print('layer violation: ' + e)
    if errors:
        print('%d layer violation(s) in %d files; allowed directions: tests/check_layers.py ALLOWED' % (len(errors), nfiles))
        return 1
    print('layers: %d files, every include points down' % nfiles)
    return 0


if __name__ == '__main__':
    sys.exit(main())
