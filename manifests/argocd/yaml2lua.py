#!/usr/bin/env python3
"""Writes a Lua chunk returning Argo CD health tests and their inputs as Lua tables.

usage: yaml2lua.py DIR           (DIR holds health_test.yaml and the testdata it names)
       yaml2lua.py --object FILE  (one object, YAML or JSON; `-` for stdin)

Argo CD turns an object into a Lua table through its JSON form, so YAML is read with JSON's
types: timestamps stay strings, null becomes an absent key.
"""
import math
import os
import sys

import yaml


class JsonTypedLoader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver (JSON has no date type)."""


JsonTypedLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def lua_string(text):
    out = []
    for ch in text:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append("\\%03d" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def lua_value(value):
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError("JSON has no NaN or infinity")
        return repr(value)
    if isinstance(value, str):
        return lua_string(value)
    if isinstance(value, list):
        return "{" + ", ".join(lua_value(v) for v in value) + "}"
    if isinstance(value, dict):
        fields = ("[%s] = %s" % (lua_string(str(k)), lua_value(v)) for k, v in value.items() if v is not None)
        return "{" + ", ".join(fields) + "}"
    raise TypeError("unsupported YAML value %r" % (value,))


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=JsonTypedLoader)


def main():
    if sys.argv[1] == "--object":
        source = sys.stdin if sys.argv[2] == "-" else open(sys.argv[2], encoding="utf-8")
        print("return %s" % lua_value(yaml.load(source, Loader=JsonTypedLoader)))
        return
    base = sys.argv[1]
    tests = load(os.path.join(base, "health_test.yaml"))["tests"]
    inputs = {t["inputPath"]: load(os.path.join(base, t["inputPath"])) for t in tests}
    print("return {")
    print("  tests = %s," % lua_value(tests))
    print("  inputs = %s," % lua_value(inputs))
    print("}")


if __name__ == "__main__":
    main()
