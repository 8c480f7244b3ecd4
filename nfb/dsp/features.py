"""Feedback feature expressions.

A protocol names its feature as a small arithmetic expression over band values, for example
``"alpha"``, ``"alpha / beta"``, ``"theta / (alpha + beta)"`` or
``"ln(alpha@F4) - ln(alpha@F3)"`` (frontal alpha asymmetry). A bare band name refers to the
protocol's main derivation (its ``signal.channels``); ``band@X`` refers to channel ``X`` or
to a bipolar pair ``X-Y``. Only ``+ - * /``, unary minus, numbers, parentheses and the
functions ``ln``, ``log10``, ``sqrt``, ``abs`` are allowed: the expression is parsed once and
evaluated element-wise on arrays of frames, so it is exact and cheap.

An expression is refused at load, with one line, when it is longer than
:data:`MAX_FEATURE_CHARS`, has more than :data:`MAX_FEATURE_TERMS` terms or nests deeper
than :data:`MAX_FEATURE_DEPTH`, or when, tried on band values (which are positive), it
divides by something that is always zero, is never a finite number, or is a constant.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, quoted

_REF = re.compile(
    r"\b([A-Za-z_][A-Za-z0-9_]*)(?:@([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z][A-Za-z0-9]*)?))?"
)
_FUNCS = {"ln": np.log, "log": np.log, "log10": np.log10, "sqrt": np.sqrt, "abs": np.abs}
_BINOPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide}

#: Longest feature expression, in characters (the presets' longest has 27).
MAX_FEATURE_CHARS = 500
#: Most terms (band references and numbers) in one expression.
MAX_FEATURE_TERMS = 64
#: Deepest nesting of parentheses, function calls and signs (``-(ln(abs(x)))`` is 4).
MAX_FEATURE_DEPTH = 16
#: Band values an expression is tried on at load: positive, from 0.01 to 1000 (µV or µV²),
#: drawn once with a fixed seed so that a given text always gets the same verdict.
_PROBES = 16
#: A value this small against the largest magnitude that went into it is a zero (a
#: difference of two equal terms leaves rounding noise, not a value).
_ZERO_RTOL = 1e-9


def _paren_depth(text: str) -> int:
    depth = deepest = 0
    for c in text:
        if c == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif c == ")":
            depth -= 1
    return deepest


@dataclass(frozen=True)
class BandRef:
    """A band evaluated on a derivation (``None`` = the protocol's main derivation)."""

    band: str
    derivation: str | None

    @property
    def column(self) -> str:
        """Frame column name: ``alpha`` or ``alpha@F4``."""
        return self.band if self.derivation is None else f"{self.band}@{self.derivation}"


class FeatureExpr:
    """A parsed feature expression.

    Parameters
    ----------
    text : str
        The expression.
    bands : collection of str
        Known band names.
    where : str
        Where the expression came from, for errors (``"feedback.feature"``).
    """

    def __init__(self, text: str, bands, *, where: str = "feedback.feature") -> None:
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{where} must be a non-empty expression such as 'alpha / beta'")
        if len(text) > MAX_FEATURE_CHARS:
            raise ConfigError(
                f"{where}: the expression has {len(text)} characters; at most "
                f"{MAX_FEATURE_CHARS} (e.g. 'alpha / beta')"
            )
        if _paren_depth(text) > MAX_FEATURE_DEPTH:
            raise ConfigError(
                f"{where}: {quoted(text)} nests parentheses {_paren_depth(text)} deep; at most "
                f"{MAX_FEATURE_DEPTH} levels of parentheses, functions and signs"
            )
        self.text = text
        refs: list[BandRef] = []
        names: dict[BandRef, str] = {}

        def substitute(match: re.Match) -> str:
            name, deriv = match.group(1), match.group(2)
            if name in _FUNCS and deriv is None:
                return name
            if name not in bands:
                raise ConfigError(
                    f"{where}: unknown band {name!r} in {quoted(text)}; "
                    f"known: {', '.join(sorted(bands))}"
                )
            if deriv and "-" in deriv and len(set(deriv.lower().split("-"))) == 1:
                raise ConfigError(f"{where}: {deriv} names the same electrode twice")
            ref = BandRef(name, deriv)
            if ref not in names:
                names[ref] = f"_v{len(refs)}"
                refs.append(ref)
            return names[ref]

        code = _REF.sub(substitute, text)
        try:
            tree = ast.parse(code, mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            raise ConfigError(f"{where}: cannot parse {quoted(text)}") from None
        self._names = {v: k for k, v in names.items()}
        self._check(tree.body, where)
        self._tree = tree.body
        self.refs: tuple[BandRef, ...] = tuple(refs)
        if not refs:
            raise ConfigError(f"{where}: {quoted(text)} uses no band")
        self._check_values(where)

    def _check(self, root: ast.AST, where: str) -> None:
        """Allowed nodes only, and the size and depth limits (an explicit stack, no recursion:
        the limits are what keep :meth:`_eval`'s recursion shallow)."""
        n_terms = 0
        stack: list[tuple[ast.AST, int]] = [(root, 0)]
        while stack:
            node, depth = stack.pop()
            if depth > MAX_FEATURE_DEPTH:
                raise ConfigError(
                    f"{where}: {quoted(self.text)} nests functions and signs more than "
                    f"{MAX_FEATURE_DEPTH} deep; at most {MAX_FEATURE_DEPTH} levels of "
                    "parentheses, functions and signs"
                )
            if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
                stack += [(node.left, depth), (node.right, depth)]
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
                stack.append((node.operand, depth + 1))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id not in _FUNCS or len(node.args) != 1 or node.keywords:
                    raise ConfigError(
                        f"{where}: only {', '.join(sorted(_FUNCS))} of one argument are allowed"
                    )
                stack.append((node.args[0], depth + 1))
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, int | float)
                and not isinstance(node.value, bool)
            ) or (isinstance(node, ast.Name) and node.id in self._names):
                n_terms += 1
                if n_terms > MAX_FEATURE_TERMS:
                    raise ConfigError(
                        f"{where}: {quoted(self.text)} has more than {MAX_FEATURE_TERMS} terms "
                        f"(bands and numbers); at most {MAX_FEATURE_TERMS}"
                    )
            else:
                raise ConfigError(
                    f"{where}: {quoted(self.text)} may use only bands, numbers, + - * /, "
                    f"parentheses and {', '.join(sorted(_FUNCS))}()"
                )

    def _check_values(self, where: str) -> None:
        """Try the expression on positive band values: refuse a division by something that is
        always zero, a result that is never finite, and a constant."""
        rng = np.random.default_rng(20_240_517)
        probes = {name: 10.0 ** rng.uniform(-2.0, 3.0, _PROBES) for name in self._names}

        def probe(node) -> tuple[np.ndarray, float]:
            # the values of ``node`` and the largest magnitude that went into them
            if isinstance(node, ast.Constant):
                v = np.full(_PROBES, float(node.value))
                return v, float(np.abs(v).max())
            if isinstance(node, ast.Name):
                v = probes[node.id]
                return v, float(np.abs(v).max())
            if isinstance(node, ast.UnaryOp):
                v, scale = probe(node.operand)
                return (-v if isinstance(node.op, ast.USub) else v), scale
            if isinstance(node, ast.Call):
                v, scale = probe(node.args[0])
                out = _FUNCS[node.func.id](v)
                return out, max(scale, _finite_max(out))
            left, ls = probe(node.left)
            right, rs = probe(node.right)
            if isinstance(node.op, ast.Div):
                defined = right[np.isfinite(right)]
                if defined.size and np.all(np.abs(defined) <= _ZERO_RTOL * rs):
                    raise ConfigError(
                        f"{where}: {quoted(self.text)} divides by zero: "
                        f"{quoted(self._source(node.right))} is always 0"
                    )
            out = _BINOPS[type(node.op)](left, right)
            return out, max(ls, rs, _finite_max(out))

        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            values, scale = probe(self._tree)
        finite = np.isfinite(values)
        if not finite.any():
            raise ConfigError(
                f"{where}: {quoted(self.text)} is never a finite number for band values "
                "(which are positive)"
            )
        v = values[finite]
        if np.all(np.abs(v - v[0]) <= _ZERO_RTOL * scale):
            raise ConfigError(
                f"{where}: {quoted(self.text)} is a constant ({v[0]:.6g}): it follows no band"
            )

    def _source(self, node: ast.AST) -> str:
        """The text of a sub-expression, with the band names put back."""
        return re.sub(r"_v\d+", lambda m: self._names[m.group(0)].column, ast.unparse(node))

    def evaluate(self, values: dict[BandRef, np.ndarray]) -> np.ndarray:
        """Evaluate on arrays of band values (one entry per ref in :attr:`refs`)."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.asarray(self._eval(self._tree, values), dtype=np.float64)

    def _eval(self, node, values):
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](
                self._eval(node.left, values), self._eval(node.right, values)
            )
        if isinstance(node, ast.UnaryOp):
            v = self._eval(node.operand, values)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Call):
            return _FUNCS[node.func.id](self._eval(node.args[0], values))
        if isinstance(node, ast.Constant):
            return float(node.value)
        return values[self._names[node.id]]

    def __repr__(self) -> str:
        return f"FeatureExpr({self.text!r})"


def _finite_max(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size else 0.0
