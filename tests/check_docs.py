#!/usr/bin/env python3
"""docs/compatibility.md holds the API tables that `gregor --print-api-table`
prints, between the GENERATED markers; fail if they differ.
Regenerate with:  tests/check_docs.py GREGOR_BIN docs/compatibility.md --fix"""
import subprocess
import sys

BEGIN = "<!-- BEGIN GENERATED: gregor --print-api-table -->\n"
END = "<!-- END GENERATED -->\n"


def main():
    gregor, path = sys.argv[1], sys.argv[2]
    table = subprocess.run([gregor, "--print-api-table"], check=True, capture_output=True, text=True).stdout
    text = open(path).read()
    if BEGIN not in text or END not in text:
        sys.exit("%s: no GENERATED markers" % path)
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    want = head + BEGIN + table + END + tail
    if want == text:
        print("docs: %s matches the API table" % path)
        return 0
    if "--fix" in sys.argv:
        open(path, "w").write(want)
        print("docs: rewrote %s" % path)
        return 0
    print("docs: %s is out of date with `gregor --print-api-table`; run %s %s %s --fix"
          % (path, sys.argv[0], gregor, path))
    return 1


if __name__ == "__main__":
    sys.exit(main())
