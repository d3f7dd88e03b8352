#!/usr/bin/env python3
"""Turns a Kubernetes API server's OpenAPI v2 document into JSON schemas for kubeconform.

    scripts/openapi2jsonschema.py [--no-strict] OPENAPI_V2.json OUT_DIR

OPENAPI_V2.json is what `kubectl get --raw /openapi/v2` prints (`-` reads standard input): the
built-in kinds of that server and every CRD applied to it. For each kind (each definition with
`x-kubernetes-group-version-kind`) it writes one self-contained Draft 4 schema (the definitions
it reaches by `$ref` are copied into its own `definitions`) named the way kubeconform's
`{{ .ResourceKind }}{{ .KindSuffix }}` names it: the kind lowercased, then `-<version>` for the
core group or `-<first label of the group>-<version>` (`deployment-apps-v1.json`,
`ingress-networking-v1.json`, `region-upline-v1alpha1.json`). So kubeconform validates offline with

    kubeconform -strict -schema-location 'OUT_DIR/{{ .ResourceKind }}{{ .KindSuffix }}.json'

What it changes on the way, as kubeconform's own converter and schema repository do:
- strict (the default): an object with `properties` gets `additionalProperties: false`, unless it
  keeps unknown fields (`x-kubernetes-preserve-unknown-fields`) or combines schemas (allOf/anyOf/
  oneOf), so a misspelt or misplaced field is an error, as `kubectl apply` (strict field
  validation) makes it;
- IntOrString (`format: int-or-string`, `x-kubernetes-int-or-string`) accepts a string or an
  integer, a Quantity a string or a number, a `nullable` field null;
- `format` is dropped: OpenAPI's formats (int32, int64, byte, date-time...) are not JSON Schema
  assertions kubeconform could check the way the API server does.
Two kinds that would share one file name (two groups with the same first label) are reported;
the built-in group (`*.k8s.io` or no dot) wins, else the first in order.
"""

import copy
import json
import sys
from pathlib import Path

QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
REF_PREFIX = "#/definitions/"


def file_name(group, version, kind):
    """kubeconform's `{{ .ResourceKind }}{{ .KindSuffix }}.json` for group/version, kind."""
    suffix = f"-{group.split('.')[0].lower()}-{version.lower()}" if group else f"-{version.lower()}"
    return f"{kind.lower()}{suffix}.json"


def is_builtin_group(group):
    return group == "" or "." not in group or group.endswith(".k8s.io")


def transform(node, strict):
    """The JSON schema for one OpenAPI schema node (a new object; the input is not changed)."""
    if isinstance(node, bool) or not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: transform(child, strict) for name, child in value.items()}
        elif key in ("patternProperties", "definitions"):
            out[key] = {name: transform(child, strict) for name, child in value.items()}
        elif key in ("additionalProperties", "not", "items") and isinstance(value, dict):
            out[key] = transform(value, strict)
        elif key == "items" and isinstance(value, list):
            out[key] = [transform(child, strict) for child in value]
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [transform(child, strict) for child in value]
        elif key == "format":
            continue
        else:
            out[key] = value
    if node.get("format") == "int-or-string" or node.get("x-kubernetes-int-or-string"):
        out["type"] = ["string", "integer"]
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if (
        strict
        and "properties" in out
        and "additionalProperties" not in out
        and not node.get("x-kubernetes-preserve-unknown-fields")
        and not any(k in out for k in ("allOf", "anyOf", "oneOf"))
    ):
        out["additionalProperties"] = False
    return out


def refs_in(node, found):
    """Adds to `found` the definition names that `node` refers to with `$ref`."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            found.add(ref[len(REF_PREFIX):])
        for value in node.values():
            refs_in(value, found)
    elif isinstance(node, list):
        for value in node:
            refs_in(value, found)


def reachable(name, definitions):
    """Every definition reached from `name` by `$ref`, `name` excluded unless it refers to itself."""
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        found = set()
        refs_in(definitions[current], found)
        for ref in found:
            if ref not in definitions:
                raise SystemExit(f"openapi2jsonschema.py: {current} refers to {ref}, which the document does not define")
            if ref not in seen:
                seen.add(ref)
                todo.append(ref)
    return seen


def convert(document, out_dir, strict):
    raw = document.get("definitions")
    if not isinstance(raw, dict) or not raw:
        raise SystemExit("openapi2jsonschema.py: no `definitions` in the document: is it OpenAPI v2 (/openapi/v2)?")
    definitions = {name: transform(schema, strict) for name, schema in raw.items()}
    # Quantity and IntOrString are strings in OpenAPI; YAML writes `cpu: 1` and `port: 8080`.
    if QUANTITY in definitions:
        definitions[QUANTITY] = {**definitions[QUANTITY], "type": ["string", "number"]}
    if INT_OR_STRING in definitions:
        definitions[INT_OR_STRING] = {**definitions[INT_OR_STRING], "type": ["string", "integer"]}

    chosen = {}  # file name -> (group, version, kind, definition name)
    for name in sorted(raw):
        for gvk in raw[name].get("x-kubernetes-group-version-kind", []):
            group, version, kind = gvk.get("group", ""), gvk["version"], gvk["kind"]
            target = file_name(group, version, kind)
            if target in chosen:
                other = chosen[target]
                if other[3] == name:
                    continue
                keep_new = is_builtin_group(group) and not is_builtin_group(other[0])
                loser = other if keep_new else (group, version, kind, name)
                print(
                    f"openapi2jsonschema.py: {target}: {loser[0] or 'core'}/{loser[1]} {loser[2]} "
                    f"({loser[3]}) shares the file name; kubeconform cannot tell the groups apart, skipped",
                    file=sys.stderr,
                )
                if not keep_new:
                    continue
            chosen[target] = (group, version, kind, name)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for target, (group, version, kind, name) in sorted(chosen.items()):
        schema = copy.deepcopy(definitions[name])
        schema.pop("x-kubernetes-group-version-kind", None)
        needed = reachable(name, definitions)
        standalone = {"$schema": "http://json-schema.org/draft-04/schema#", **schema}
        if needed:
            standalone["definitions"] = {ref: definitions[ref] for ref in sorted(needed)}
        # Only this kind's apiVersion and kind: a document of another kind never passes for it.
        api_version = f"{group}/{version}" if group else version
        properties = standalone.setdefault("properties", {})
        properties["apiVersion"] = {**properties.get("apiVersion", {}), "type": "string", "enum": [api_version]}
        properties["kind"] = {**properties.get("kind", {}), "type": "string", "enum": [kind]}
        (out / target).write_text(json.dumps(standalone, indent=1, sort_keys=True) + "\n")
    return len(chosen)


def main(argv):
    strict = True
    args = list(argv)
    if args and args[0] == "--no-strict":
        strict, args = False, args[1:]
    if len(args) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    source, out_dir = args
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    written = convert(json.loads(text), out_dir, strict)
    print(f"openapi2jsonschema.py: {written} kinds written to {out_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
