"""The `.webnn` text format: ``parse(text) -> Document`` and ``write(Document) -> text``.

Grammar (that of github tarekziade/webnn-graph, ``src/wg.pest``)::

    file    = 'webnn_graph' STRING 'v' INT ['@quantized'] '{' block* '}'
    block   = 'inputs' '{' (IDENT ':' type ';')* '}'
            | 'consts' '{' (IDENT ':' type annot ';')* '}'       annot = @weights("key") | @scalar(n) | @bytes([..])
            | 'nodes' '{' ((IDENT | '[' IDENT, .. ']') '=' (call | IDENT) ';')* '}'
            | 'outputs' '{' (IDENT (',' IDENT)* ';'?)* '}'
    type    = DTYPE '[' dims ']'          DTYPE = f32 f16 i4 u4 i32 u32 i64 u64 i8 u8
    call    = IDENT '(' [arg (',' arg)*] ')'    arg = IDENT '=' value | value
    value   = NUMBER | STRING | true | false | null | IDENT | '[' [value (',' value)*] ']'

``#`` starts a comment. Our extensions, never needed to read the reference's files: a dimension may
be a symbol (``f32[batch, 384]``), and numbers may be ``Infinity``, ``-Infinity`` or ``NaN``.
"""

from __future__ import annotations

import math
import re

from ..errors import ParseError
from .document import DTYPES, SHORT, Call, Document, Operand, Ref, Value

_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\n]+|\#[^\n]*)
  | (?P<number>(?:-?(?:\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|Infinity)|NaN)(?![A-Za-z0-9_./$]))
  | (?P<ident>[A-Za-z_/$][A-Za-z0-9_./]*)
  | (?P<string>"(?:\\.|[^"\\])*")
  | (?P<at>@[A-Za-z_]+)
  | (?P<punct>[{}\[\](),;:=])
""", re.VERBOSE)
IDENT = re.compile(r"[A-Za-z_/$][A-Za-z0-9_./]*\Z")
MAX_DEPTH = 32  # nested arrays in one value
MAX_DIGITS = 4000  # Python refuses to read integers of more than 4300 digits
KEYWORDS = {"true": True, "false": False, "null": None}


class _Token:
    __slots__ = ("kind", "text", "line", "column")

    def __init__(self, kind, text, line, column):
        self.kind, self.text, self.line, self.column = kind, text, line, column

    def describe(self) -> str:
        return "end of file" if self.kind == "eof" else repr(self.text)


def _tokens(text: str, source: str) -> list[_Token]:
    out, pos, line, line_start = [], 0, 1, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            what = "an unterminated string" if text[pos] == '"' else f"unexpected character {text[pos]!r}"
            raise ParseError(what, source, line, pos - line_start + 1)
        if m.lastgroup != "space":
            out.append(_Token(m.lastgroup, m.group(), line, pos - line_start + 1))
        newlines = m.group().count("\n")
        if newlines:
            line += newlines
            line_start = m.start() + m.group().rindex("\n") + 1
        pos = m.end()
    out.append(_Token("eof", "", line, pos - line_start + 1))
    return out


class _Parser:
    def __init__(self, text: str, source: str):
        self.source = source
        self.toks = _tokens(text, source)
        self.i = 0

    # -- token helpers ----------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> _Token:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def fail(self, expected: str, tok: _Token | None = None):
        tok = tok or self.peek()
        raise ParseError(f"expected {expected}, found {tok.describe()}", self.source, tok.line, tok.column)

    def take(self, text: str | None = None, kind: str | None = None, expected: str | None = None) -> _Token:
        tok = self.peek()
        if (text is not None and tok.text != text) or (kind is not None and tok.kind != kind):
            self.fail(expected or (repr(text) if text else kind))
        self.i += 1
        return tok

    def accept(self, text: str) -> bool:
        if self.peek().text == text and self.peek().kind in ("punct", "at", "ident"):
            self.i += 1
            return True
        return False

    def ident(self, what: str) -> _Token:
        return self.take(kind="ident", expected=what)

    def integer(self, tok: _Token) -> int:
        if len(tok.text.lstrip("-")) > MAX_DIGITS:
            raise ParseError(f"an integer of {len(tok.text)} digits; at most {MAX_DIGITS} are read", self.source,
                             tok.line, tok.column)
        return int(tok.text)

    # -- file -------------------------------------------------------------------------------
    def document(self) -> Document:
        doc = Document()
        self.take("webnn_graph", expected="'webnn_graph' at the start of the file")
        doc.name = self.string("the graph name as a string, e.g. \"model\"")
        tok = self.ident("a version, e.g. v1")
        if re.fullmatch(r"v\d+", tok.text):
            doc.version = int(tok.text[1:])
        elif tok.text == "v" and self.peek().kind == "number" and self.peek().text.isdigit():
            doc.version = int(self.take().text)
        else:
            self.fail("a version, e.g. v1", tok)
        doc.quantized = self.accept("@quantized")
        self.take("{")
        blocks = {"inputs": self.inputs, "consts": self.consts, "nodes": self.nodes, "outputs": self.outputs}
        while not self.accept("}"):
            tok = self.peek()
            if tok.kind != "ident" or tok.text not in blocks:
                self.fail("a block (inputs, consts, nodes, outputs) or '}'")
            self.i += 1
            self.take("{", expected=f"'{{' after {tok.text}")
            blocks[tok.text](doc)
        self.take(kind="eof", expected="end of file after the graph's closing '}'")
        return doc

    def inputs(self, doc: Document):
        while not self.accept("}"):
            doc.inputs.append(self.declaration("an input declaration (name: f32[..];) or '}'"))
            self.take(";")

    def consts(self, doc: Document):
        while not self.accept("}"):
            decl = self.declaration("a constant declaration (name: f32[..] @weights(\"key\");) or '}'")
            decl.init = self.annotation(decl)
            self.take(";")
            doc.consts.append(decl)

    def nodes(self, doc: Document):
        while not self.accept("}"):
            tok = self.peek()
            if self.accept("["):
                outputs = [self.ident("an output name").text]
                while self.accept(","):
                    outputs.append(self.ident("an output name").text)
                self.take("]")
                multi = True
            else:
                outputs, multi = [self.ident("a statement (name = op(...);) or '}'").text], False
            self.take("=")
            op_tok = self.ident("an operation, e.g. matmul(a, b)")
            if self.peek().text == "(":
                args, options = self.arguments(op_tok.text)
                call = Call(outputs, op_tok.text, args, options, multi, tok.line, tok.column)
            else:  # y = x: an alias
                call = Call(outputs, "identity", [Ref(op_tok.text, op_tok.line, op_tok.column)], {}, multi,
                            tok.line, tok.column)
            self.take(";", expected=f"';' after the {op_tok.text} statement")
            doc.nodes.append(call)

    def outputs(self, doc: Document):
        while not self.accept("}"):
            doc.outputs.append(self.ident("an output name or '}'").text)
            while self.accept(","):
                doc.outputs.append(self.ident("an output name").text)
            self.accept(";")

    # -- pieces -----------------------------------------------------------------------------
    def declaration(self, expected: str) -> Operand:
        name = self.ident(expected)
        self.take(":", expected=f"':' after {name.text!r}")
        dtype = self.ident(f"a data type ({', '.join(DTYPES)})")
        if dtype.text not in DTYPES:
            self.fail(f"a data type ({', '.join(DTYPES)})", dtype)
        self.take("[", expected="'[' starting the shape")
        shape: list = []
        while not self.accept("]"):
            if shape:
                self.take(",", expected="',' or ']' in the shape")
            tok = self.peek()
            if tok.kind == "number" and tok.text.isdigit():
                shape.append(self.integer(tok))
            elif tok.kind == "ident" and tok.text not in KEYWORDS:
                shape.append(tok.text)
            else:
                self.fail("a dimension (a non-negative integer or a symbol)")
            self.i += 1
        return Operand(name.text, DTYPES[dtype.text], shape, None, name.line, name.column)

    def annotation(self, decl: Operand) -> tuple:
        tok = self.peek()
        expected = "@weights(\"key\"), @scalar(number) or @bytes([..])"
        if tok.kind != "at" or tok.text not in ("@weights", "@scalar", "@bytes"):
            self.fail(f"{expected} for constant {decl.name!r}")
        self.i += 1
        self.take("(")
        if tok.text == "@weights":
            init = ("weights", self.string("the weights key as a string"))
        elif tok.text == "@scalar":
            value = self.value(0)
            if isinstance(value, (bool, str, list, Ref)) or value is None:
                self.fail("a number in @scalar(..)", tok)
            init = ("scalar", value)
        else:
            start = self.peek()
            data = self.value(0)
            if not isinstance(data, list) or not all(type(b) is int and 0 <= b <= 255 for b in data):
                raise ParseError("@bytes takes a list of integers 0..255", self.source, start.line, start.column)
            init = ("bytes", data)
        self.take(")")
        if self.peek().kind == "at":
            self.fail(f"';' (constant {decl.name!r} already has {tok.text})")
        return init

    def string(self, expected: str) -> str:
        tok = self.take(kind="string", expected=expected)
        return re.sub(r"\\(.)", r"\1", tok.text[1:-1])

    def arguments(self, op: str) -> tuple[list, dict]:
        self.take("(")
        args: list[Value] = []
        options: dict[str, Value] = {}
        while not self.accept(")"):
            if args or options:
                self.take(",", expected=f"',' or ')' in the arguments of {op}")
            tok = self.peek()
            if tok.kind == "ident" and self.peek(1).text == "=":
                self.i += 2
                if tok.text in options:
                    raise ParseError(f"option {tok.text!r} is given twice", self.source, tok.line, tok.column)
                options[tok.text] = self.value(0)
            elif options:
                self.fail(f"a named option (name=value): positional arguments of {op} come first")
            else:
                args.append(self.value(0))
        return args, options

    def value(self, depth: int) -> Value:
        tok = self.peek()
        if tok.kind == "number":
            self.i += 1
            return self.integer(tok) if tok.text.lstrip("-").isdigit() else _number(tok.text)
        if tok.kind == "string":
            return self.string("a string")
        if tok.kind == "ident":
            self.i += 1
            return KEYWORDS[tok.text] if tok.text in KEYWORDS else Ref(tok.text, tok.line, tok.column)
        if tok.text == "[":
            if depth >= MAX_DEPTH:
                raise ParseError(f"arrays nested deeper than {MAX_DEPTH}", self.source, tok.line, tok.column)
            self.i += 1
            items: list = []
            while not self.accept("]"):
                if items:
                    self.take(",", expected="',' or ']' in the array")
                items.append(self.value(depth + 1))
            return items
        self.fail("a value (number, string, true, false, null, operand name or [..])")


def _number(text: str):
    if text in ("Infinity", "-Infinity", "NaN"):
        return float(text.replace("Infinity", "inf").replace("NaN", "nan"))
    return float(text) if any(c in text for c in ".eE") else int(text)


def parse(text: str, source: str = "<text>") -> Document:
    """A Document from `.webnn` text; raises ParseError with the line and column of the problem."""
    if not isinstance(text, str):
        raise ParseError(f"expected text (str), got {type(text).__name__}", source)
    return _Parser(text, source).document()


# -- writer --------------------------------------------------------------------------------------
def _format(value: Value) -> str:
    if isinstance(value, Ref):
        return value.name
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return ("-Infinity" if value < 0 else "Infinity") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_format(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} in the .webnn format")


def _name(name: str) -> str:
    if not IDENT.match(name) or name in KEYWORDS:
        raise ValueError(f"{name!r} is not a valid .webnn identifier (letters, digits, _ . / and a leading $)")
    return name


def _decl(d: Operand) -> str:
    return f"{_name(d.name)}: {SHORT[d.dtype]}[{', '.join(str(x) for x in d.shape)}]"


def write(doc: Document) -> str:
    """`.webnn` text for a Document, laid out as the reference serializer does."""
    out = [f'webnn_graph {_format(doc.name)} v{doc.version}{" @quantized" if doc.quantized else ""} {{']
    if doc.inputs:
        out += ["  inputs {"] + [f"    {_decl(d)};" for d in doc.inputs] + ["  }", ""]
    if doc.consts:
        out.append("  consts {")
        for c in doc.consts:
            kind, value = c.init
            out.append(f"    {_decl(c)} @{kind}({_format(value)});")
        out += ["  }", ""]
    if doc.nodes:
        out.append("  nodes {")
        for n in doc.nodes:
            target = "[" + ", ".join(map(_name, n.outputs)) + "]" if n.multi else _name(n.outputs[0])
            args = [_format(a) for a in n.args] + [f"{_name(k)}={_format(v)}" for k, v in n.options.items()]
            out.append(f"    {target} = {_name(n.op)}({', '.join(args)});")
        out += ["  }", ""]
    out.append("  outputs {" + "".join(f" {_name(o)};" for o in doc.outputs) + " }")
    out.append("}")
    return "\n".join(out) + "\n"
