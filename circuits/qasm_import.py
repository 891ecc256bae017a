"""OpenQASM 2 and 3 import into the IR: our gate set, angles as affine expressions over named parameters
(``theta_<l>_<k>`` for trainable slots, ``x_<rep>_<encoding>`` for data slots) and constants, the readout
from ``to_qasm``'s comment or a ``measure`` statement. It reads what ``to_qasm`` writes, and refuses any
other statement with a one-line error naming it."""

from __future__ import annotations

import ast
import math
import re
from typing import Any, Optional

from .angles import DATA_ENCODINGS, Angle, as_angle, data, theta
from .gates import GATES

QASM_INCLUDES = ("qelib1.inc", "stdgates.inc")
_THETA = re.compile(r"theta((?:_\d+)+)$")
_DATA = re.compile(rf"x_(\d+)_({'|'.join(DATA_ENCODINGS)})$")
_INDEX = re.compile(r"^(\w+)\[(\d+)\]$")


def theta_name(index: tuple[int, ...]) -> str:
    """The QASM parameter name of a trainable slot: theta(0, 1) -> theta_0_1."""
    return "theta_" + "_".join(map(str, index))


def data_name(rep: int, encoding: str) -> str:
    """The QASM parameter name of a data slot: data(1, 'arccos') -> x_1_arccos."""
    return f"x_{rep}_{encoding}"


def _slot(name: str) -> Any:
    if name in ("pi", "π"):
        return math.pi
    if match := _THETA.match(name):
        return theta(*(int(i) for i in match.group(1)[1:].split("_")))
    if match := _DATA.match(name):
        return data(int(match.group(1)), match.group(2))
    raise ValueError(f"unknown parameter {name!r} in QASM; expected theta_<l>_<k>..., x_<rep>_<encoding> or pi")


def _evaluate(node: ast.AST) -> Any:
    """A number or an Angle from an expression tree of numbers, names, + - * / and unary minus."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name):
        return _slot(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right if isinstance(right, float) else right * left
        return left / right
    raise ValueError(f"unsupported expression {ast.unparse(node)!r}")


def parse_angle(text: str) -> Angle:
    """An affine angle from QASM expression text; ValueError naming the expression if it is not affine."""
    try:
        return as_angle(_evaluate(ast.parse(text.strip(), mode="eval").body))
    except (SyntaxError, TypeError, ValueError) as err:
        raise ValueError(f"cannot read the angle {text.strip()!r}: {err}") from None


def _qubit(text: str, register: Optional[str]) -> int:
    match = _INDEX.match(text.strip())
    if match is None or match.group(1) != register:
        raise ValueError(f"expected a qubit {register}[i], got {text.strip()!r}")
    return int(match.group(2))


class _Reader:
    """Statement by statement: header, registers, declarations, gates, measurements."""

    def __init__(self, text: str):
        self.text = text
        self.n_qubits: Optional[int] = None
        self.register: Optional[str] = None
        self.gates: list[tuple[str, tuple[int, ...], Optional[Angle]]] = []
        self.readout: Optional[tuple[str, int]] = None
        self.measured: Optional[int] = None
        self.header: dict[str, Any] = {}
        self.qasm_names = {spec.qasm: spec.name for spec in GATES.values() if spec.qasm}

    def comments(self) -> str:
        """The text without comments; what they carry (``to_qasm``'s readout and qkan header) is kept."""
        if match := re.search(r"//\s*readout:\s*(\w+) on \w+\[(\d+)\]", self.text):
            self.readout = (match.group(1), int(match.group(2)))
        if match := re.search(r"//\s*qkan:\s*reps=(\d+) theta_shape=\(([\d, ]*)\)", self.text):
            self.header = {
                "reps": int(match.group(1)),
                "theta_shape": tuple(int(d) for d in match.group(2).split(",") if d.strip()),
            }
        return re.sub(r"//[^\n]*", "", re.sub(r"/\*.*?\*/", "", self.text, flags=re.S))

    def statement(self, stmt: str) -> None:
        words = stmt.split()
        head = words[0]
        if head == "OPENQASM":
            if len(words) != 2 or words[1] not in ("2.0", "3", "3.0"):
                raise ValueError(f"unsupported OpenQASM version {stmt!r}; expected 2.0 or 3")
        elif head == "include":
            if stmt.split(None, 1)[1].strip().strip('"') not in QASM_INCLUDES:
                raise ValueError(f"unsupported include {stmt!r}; expected one of {QASM_INCLUDES}")
        elif head == "qreg" or head.startswith("qubit["):
            match = re.match(r"qreg\s+(\w+)\[(\d+)\]$|qubit\[(\d+)\]\s+(\w+)$", stmt)
            if match is None or self.n_qubits is not None:
                raise ValueError(f"unsupported qubit declaration {stmt!r} (one register, qreg q[n] or qubit[n] q)")
            self.register = match.group(1) or match.group(4)
            self.n_qubits = int(match.group(2) or match.group(3))
        elif head in ("creg", "barrier", "input") or head.startswith("bit["):
            if head == "input":
                _slot(words[-1])  # the declared name must be a parameter we know
        elif "measure" in words:
            match = re.match(r"measure\s+(.+?)\s*->\s*.+$|.+?=\s*measure\s+(.+)$", stmt)
            if match is None:
                raise ValueError(f"unsupported measurement {stmt!r}")
            self.measured = _qubit(match.group(1) or match.group(2), self.register)
        else:
            self.gate(stmt)

    def gate(self, stmt: str) -> None:
        match = re.match(r"(\w+)\s*(?:\((.*)\))?\s+([^()]+)$", stmt)
        if match is None or match.group(1) not in self.qasm_names:
            raise ValueError(f"unsupported QASM statement {stmt!r}; gates: {sorted(self.qasm_names)}")
        qubits = tuple(_qubit(q, self.register) for q in match.group(3).split(","))
        angle = None if match.group(2) is None else parse_angle(match.group(2))
        self.gates.append((self.qasm_names[match.group(1)], qubits, angle))


def parse_qasm(text: str, circuit_type: Any) -> Any:
    """A ``circuit_type`` (the IR's Circuit) from OpenQASM 2 or 3 text; ValueError naming the first statement
    it cannot take."""
    if not isinstance(text, str):
        raise TypeError(f"QASM text must be a str, got {type(text).__name__}")
    reader = _Reader(text)
    for stmt in reader.comments().split(";"):
        if stmt.strip():
            reader.statement(" ".join(stmt.split()))
    if reader.n_qubits is None:
        raise ValueError("the QASM declares no qubits (qreg q[n]; or qubit[n] q;)")
    circuit = circuit_type(reader.n_qubits, **reader.header)
    for kind, qubits, angle in reader.gates:
        circuit = circuit.gate(kind, *qubits, angle=angle)
    if reader.readout is not None:
        return circuit.measure(*reader.readout)
    return circuit if reader.measured is None else circuit.measure("z", reader.measured)
