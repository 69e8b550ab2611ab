"""A policy argument (file path, TOML text or dict) as TOML text for the C++ policy parser, which
checks every key and value."""
import os
from pathlib import Path
from typing import Any, List, Mapping, Tuple, Union


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError("policy value %r: expected a bool, number, string or list" % (v,))


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else _value(k)


def _table(prefix: str, d: Mapping[str, Any], out: List[str]) -> None:
    scalars = [(k, v) for k, v in d.items() if not isinstance(v, Mapping) and not _is_table_list(v)]
    if scalars or not prefix:
        if prefix:
            out.append("[" + prefix + "]")
        out.extend(_key(k) + " = " + _value(v) for k, v in scalars)
    for k, v in d.items():
        name = (prefix + "." if prefix else "") + _key(k)
        if isinstance(v, Mapping):
            _table(name, v, out)
        elif _is_table_list(v):
            for item in v:
                out.append("[[" + name + "]]")
                for ik, iv in item.items():
                    if isinstance(iv, Mapping):  # inline table, e.g. an override's `set`
                        out.append(_key(ik) + " = {" + ", ".join(_key(a) + " = " + _value(b) for a, b in iv.items()) + "}")
                    else:
                        out.append(_key(ik) + " = " + _value(iv))


def _is_table_list(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and len(v) > 0 and all(isinstance(x, Mapping) for x in v)


def policy_text(policy: Union[str, os.PathLike, Mapping[str, Any]]) -> Tuple[str, str]:
    """(TOML text, source name for error messages) of a policy file path, TOML text or dict."""
    if isinstance(policy, Mapping):
        out: List[str] = []
        _table("", policy, out)
        return "\n".join(out) + "\n", "<policy dict>"
    if isinstance(policy, os.PathLike) or (isinstance(policy, str) and "\n" not in policy and "=" not in policy):
        p = Path(policy)
        if not p.is_file():
            raise FileNotFoundError("policy file not found: %s" % p)
        return p.read_text(), str(p)
    if isinstance(policy, str):
        return policy, "<policy string>"
    raise TypeError("policy must be a file path, TOML text or a dict, got " + type(policy).__name__)
