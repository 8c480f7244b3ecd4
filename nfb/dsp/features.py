"""Feedback feature expressions.

A protocol names its feature as a small arithmetic expression over band values, for example
``"alpha"``, ``"alpha / beta"``, ``"theta / (alpha + beta)"`` or
``"ln(alpha@F4) - ln(alpha@F3)"`` (frontal alpha asymmetry). A bare band name refers to the
protocol's main derivation (its ``signal.channels``); ``band@X`` refers to channel ``X`` or
to a bipolar pair ``X-Y``. Only ``+ - * /``, unary minus, numbers, parentheses and the
functions ``ln``, ``log10``, ``sqrt``, ``abs`` are allowed: the expression is parsed once and
evaluated element-wise on arrays of frames, so it is exact and cheap.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

_REF = re.compile(
    r"\b([A-Za-z_][A-Za-z0-9_]*)(?:@([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z][A-Za-z0-9]*)?))?"
)
_FUNCS = {"ln": np.log, "log": np.log, "log10": np.log10, "sqrt": np.sqrt, "abs": np.abs}
_BINOPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide}


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
        self.text = text
        refs: list[BandRef] = []
        names: dict[BandRef, str] = {}

        def substitute(match: re.Match) -> str:
            name, deriv = match.group(1), match.group(2)
            if name in _FUNCS and deriv is None:
                return name
            if name not in bands:
                raise ConfigError(
                    f"{where}: unknown band {name!r} in {text!r}; known: {', '.join(sorted(bands))}"
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
        except SyntaxError:
            raise ConfigError(f"{where}: cannot parse {text!r}") from None
        self._check(tree.body, where)
        self._tree = tree.body
        self.refs: tuple[BandRef, ...] = tuple(refs)
        self._names = {v: k for k, v in names.items()}
        if not refs:
            raise ConfigError(f"{where}: {text!r} uses no band")

    def _check(self, node: ast.AST, where: str) -> None:
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            self._check(node.left, where)
            self._check(node.right, where)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            self._check(node.operand, where)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id not in _FUNCS or len(node.args) != 1 or node.keywords:
                raise ConfigError(
                    f"{where}: only {', '.join(sorted(_FUNCS))} of one argument are allowed"
                )
            self._check(node.args[0], where)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, int | float)) or (
            isinstance(node, ast.Name) and node.id.startswith("_v")
        ):
            pass
        else:
            raise ConfigError(
                f"{where}: {self.text!r} may use only bands, numbers, + - * /, "
                f"parentheses and {', '.join(sorted(_FUNCS))}()"
            )

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
