"""Errors a user can act on: every mistake on the command line becomes one line on stderr that
names the user's own option (``model.optim.lr``, as typed), the value and the rule, with exit
status 2 (argparse's convention for usage errors). ``LATENT_EBM_DEBUG=1`` keeps the traceback.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

__all__ = [
    "UsageError",
    "checkpoint_error",
    "describe_argument_error",
    "is_wrapped_validation",
    "name_the_option",
    "one_line",
    "option_names",
    "owner_of",
]

DEBUG_ENV = "LATENT_EBM_DEBUG"


class UsageError(Exception):
    """A user's mistake, said in one line; ``cli.main`` prints ``error: <message>`` and exits 2."""


def one_line(text: str) -> str:
    """Lines joined with '; ' (the message of a multi-line error, e.g. a missing dataset)."""
    parts = [p.strip(" -") for p in str(text).strip().splitlines() if p.strip()]
    return "; ".join(parts)


def _display(key: str) -> str:
    return key.replace(".init_args.", ".").replace(".dict_kwargs.", ".")


def option_names(keys: Iterable[str]) -> list[str]:
    """The dotted options a user can type (``model.optim.lr``) from a parser's keys."""
    return sorted({_display(k) for k in keys if k and not k.endswith(("class_path", "__path__"))})


_NAMED = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)=(?P<rest>.*)$", re.DOTALL)


def name_the_option(message: str, options: Sequence[str], argv: Sequence[str], owner: str | None) -> str:
    """A constructor's ``name=value is not allowed; ...`` with ``name`` as the user's option.

    ``name`` may be a field (``lr``), a group field (``optim.lr``) or already an option. Among the
    options ending with it, one the user typed wins; else, with ``owner`` (``model`` or ``data``,
    the object whose constructor raised), the owner's own; else the message is left as it is.
    """
    m = _NAMED.match(one_line(message))
    if not m:
        return one_line(message)
    name, rest = m.group("name"), m.group("rest")
    given = {_display(a.lstrip("-").split("=", 1)[0]) for a in argv if a.startswith("--")}
    cands = sorted({o for o in [*options, *given] if o == name or o.endswith("." + name)})
    # a group's own prefix (optim.lr) also names a group held under another name (model.energy_optim.lr)
    typed = [c for c in cands if c in given] or sorted(g for g in given if g.endswith("_" + name))
    own = [c for c in cands if owner and c in (f"{owner}.{name}",)]
    pick = typed[:1] or own[:1] or (cands if len(cands) == 1 else [])
    if pick:
        return f"{pick[0]}={rest}"
    return f"{owner}.{name}={rest}" if owner and not name.startswith(owner + ".") else f"{name}={rest}"


def owner_of(tb: object) -> str | None:
    """``model``, ``data`` or ``trainer``: whose constructor or method raised (innermost wins)."""
    import lightning as L

    owner = None
    while tb is not None:
        obj = tb.tb_frame.f_locals.get("self")
        if isinstance(obj, L.LightningModule):
            owner = "model"
        elif isinstance(obj, L.LightningDataModule):
            owner = "data"
        tb = tb.tb_next
    return owner


_UNION = re.compile(r"(?:Parser key \"(?P<key>[\w.]+)\":[;\s]*)?Does not validate against any of the Union subtypes.*?Errors:;\s*"
                    r"(?P<inner>.*?);\s*Expected a <class 'NoneType'>", re.DOTALL)
_CLASS_OPTION = re.compile(r"Problem with given class_path '(?P<cls>[\w.]+)':;\s*Option '(?P<opt>[\w.]+)' is not accepted")


def is_wrapped_validation(message: str) -> bool:
    """jsonargparse's Union message around a constructor's error (a model given as class_path)."""
    return _UNION.search(one_line(message)) is not None


def _init_options(class_path: str, key: str) -> list[str]:
    """``<key>.<param>`` for each constructor parameter of ``class_path`` (subclass mode)."""
    import importlib
    import inspect

    module, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
        params = inspect.signature(cls.__init__).parameters
    except (ImportError, AttributeError, ValueError, TypeError):
        return []
    return [f"{key}.{p}" for p in params if p != "self"]


def describe_argument_error(message: str, options: Sequence[str], argv: Sequence[str] = ()) -> str:
    """jsonargparse's messages in one line, with 'did you mean' for an unknown option.

    A model given as ``class_path`` (subclass mode) is validated while parsing: jsonargparse wraps
    its constructor's error in a Union message, unwrapped here."""
    text = one_line(message)
    union = _UNION.search(text)
    if union:
        key, inner = union.group("key") or "model", union.group("inner")
        nested = re.search(r'Parser key "([\w.]+)":[;\s]*(.*)', inner)
        if nested:
            return _describe_key(f"{key}.{nested.group(1)}", nested.group(2).strip())
        bad = _CLASS_OPTION.search(inner)
        if bad:
            opts = _init_options(bad.group("cls"), key)
            flag = f"--{key}.{bad.group('opt')}"
            close = difflib.get_close_matches(flag[2:], opts, n=1, cutoff=0.75)
            return f"unrecognized option {flag}" + (f"; did you mean --{close[0]}?" if close else "; see --help")
        return name_the_option(inner, options, argv, key)
    unknown = re.search(r"[Uu]nrecognized arguments: (.*)", text)
    if unknown:
        flags = [t for t in unknown.group(1).split() if t.startswith("--")]
        hints = []
        for flag in flags:
            close = difflib.get_close_matches(flag.lstrip("-").split("=", 1)[0], options, n=1, cutoff=0.75)
            if close:
                hints.append(f"did you mean --{close[0]}?")
        names = " ".join(flags) or unknown.group(1)
        return f"unrecognized option {names}" + (f"; {' '.join(hints)}" if hints else "; see --help")
    key = re.search(r'Parser key "([^"]+)":[;\s]*(.*)', text)
    if key:
        return _describe_key(_display(key.group(1)), key.group(2).strip())
    return text


_KINDS = {"int": "an int", "float": "a number", "bool": "true or false", "str": "a string"}


def _describe_key(name: str, detail: str) -> str:
    """``name=value is not allowed; ...`` from jsonargparse's "Expected ... Got value: ..." detail."""
    typed = re.search(r"Expected a <class '(\w+)'>\. Got value: (.*)", detail)
    if typed:
        return f"{name}={typed.group(2)!r} is not allowed; it must be {_KINDS.get(typed.group(1), typed.group(1))}"
    choice = re.search(r"Expected a typing\.Literal\[(.*)\]\. Got value: (.*)", detail)
    if choice:
        return f"{name}={choice.group(2)!r} is not allowed; use one of {choice.group(1)}"
    return f"{name}: {detail}"


def checkpoint_error(path: str, err: BaseException) -> str:
    """``PATH is not a valid checkpoint (...)``, never torch's advice to load with weights_only=False."""
    paragraphs = [p.strip() for p in str(err).split("\n\n") if p.strip()]
    advice = ("weights_only", "Weights only load failed", "Check the documentation", "In PyTorch 2.6")
    reasons = [one_line(p) for p in paragraphs if not any(a in p for a in advice)]
    reason = (reasons[0] if reasons else "")[:160] or "unreadable"
    return f"{path} is not a valid checkpoint ({type(err).__name__}: {reason})"
