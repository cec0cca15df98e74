#!/usr/bin/env python3
"""The module graph, read from the CMake files: each src/<module>/ library and
the sesame_* libraries it links. Prints the dependency table that
docs/architecture.md carries between its "module-graph" markers, in layers
(a module appears after everything it depends on); exits 1 on a cycle.

  scripts/module_graph.py            print the table
  scripts/module_graph.py --check    compare with docs/architecture.md
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- module-graph:begin -->", "<!-- module-graph:end -->"


def modules():
    deps = {}
    src = os.path.join(ROOT, "src")
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name, "CMakeLists.txt")
        if not os.path.exists(path):
            continue
        text = open(path).read()
        target = "sesame" if name == "app" else f"sesame_{name}"
        links = set()
        for m in re.finditer(r"target_link_libraries\(\s*(\S+)(.*?)\)", text, re.S):
            if m.group(1) != target:
                continue
            links |= set(re.findall(r"\bsesame_([a-z][a-z0-9]*)\b", m.group(2)))
        deps[name] = sorted(links - {name})
    return deps


def layers(deps):
    placed, order = set(), []
    while len(placed) < len(deps):
        layer = sorted(m for m in deps if m not in placed and set(deps[m]) <= placed)
        if not layer:
            cycle = sorted(m for m in deps if m not in placed)
            sys.exit(f"module graph has a cycle among: {', '.join(cycle)}")
        order.append(layer)
        placed |= set(layer)
    return order


def table(deps):
    lines = ["| layer | module | depends on (sesame_* libraries it links) |", "|---|---|---|"]
    for i, layer in enumerate(layers(deps)):
        for m in layer:
            lines.append(f"| {i} | `{m}/` | {', '.join(f'`{d}`' for d in deps[m]) or '—'} |")
    return "\n".join(lines)


def closure(deps, m):
    seen, todo = set(), list(deps[m])
    while todo:
        d = todo.pop()
        if d not in seen:
            seen.add(d)
            todo.extend(deps.get(d, []))
    return seen


def hidden_includes(deps):
    """#include "<module>/..." in a module that does not depend on it."""
    bad = []
    for m in deps:
        allowed = closure(deps, m) | {m}
        folder = os.path.join(ROOT, "src", m)
        for f in sorted(os.listdir(folder)):
            if not f.endswith((".h", ".cc")) or f.endswith("_test.cc"):
                continue
            for line in open(os.path.join(folder, f)):
                inc = re.match(r'#include "([a-z][a-z0-9]*)/', line)
                if inc and inc.group(1) in deps and inc.group(1) not in allowed:
                    bad.append(f"src/{m}/{f} includes {inc.group(1)}/ but {m} does not link it")
    return bad


def main():
    deps = modules()
    out = table(deps)
    bad = hidden_includes(deps)
    if bad:
        sys.exit("\n".join(bad))
    if "--check" not in sys.argv:
        print(out)
        return
    doc = open(os.path.join(ROOT, "docs", "architecture.md")).read()
    m = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), doc, re.S)
    if not m:
        sys.exit("docs/architecture.md has no module-graph markers")
    if m.group(1).strip() != out.strip():
        sys.exit("docs/architecture.md's module graph is stale; run scripts/module_graph.py:\n" + out)
    print("module graph matches docs/architecture.md")


if __name__ == "__main__":
    main()
