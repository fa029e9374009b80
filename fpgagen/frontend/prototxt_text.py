"""A reader for protobuf text format (the syntax of Caffe ``.prototxt`` files).

Schema-free: every message becomes a :class:`TextMessage`, an ordered list of
``(field, value)`` pairs where a value is a string, a number, an enum name or a nested
message. Enough for Caffe network definitions; not a general protobuf implementation
(no ``Any`` expansion, no extensions).
"""

import re

from ..errors import FpgagenError

__all__ = ["TextMessage", "parse_text_proto"]

_TOKEN = re.compile(r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<punct>[{}\[\]<>:,;])
  | (?P<word>[A-Za-z0-9_.+\-]+)
""", re.VERBOSE)

_CLOSE = {"{": "}", "<": ">"}


class TextMessage:
    """One message: its fields in file order (a repeated field appears several times)."""

    def __init__(self, fields=None):
        self.fields: list[tuple[str, object]] = list(fields or [])

    def all(self, key: str) -> list:
        """Every value of field ``key``, in order."""
        return [v for k, v in self.fields if k == key]

    def get(self, key: str, default=None):
        """The last value of field ``key`` (protobuf's rule for a repeated scalar set
        twice), or ``default``."""
        values = self.all(key)
        return values[-1] if values else default

    def message(self, key: str) -> "TextMessage":
        """The nested message ``key``, or an empty one when absent."""
        value = self.get(key)
        if value is None:
            return TextMessage()
        if not isinstance(value, TextMessage):
            raise FpgagenError(f"field {key!r} should be a message, not {value!r}")
        return value

    def __contains__(self, key):
        return any(k == key for k, _ in self.fields)

    def __repr__(self):
        return f"TextMessage({self.fields!r})"


def parse_text_proto(text: str, source: str = "<text>") -> TextMessage:
    """Parse protobuf text format into a :class:`TextMessage`.

    Scalars are returned as Python values: integers and floats as numbers, quoted strings
    unescaped, ``true``/``false`` as booleans, other words (enum names) as strings.
    Raises :class:`FpgagenError` naming ``source`` and the line of a syntax error.
    """
    tokens = _tokenize(text, source)
    pos = 0

    def error(message, at):
        line = tokens[at][1] if at < len(tokens) else text.count("\n") + 1
        raise FpgagenError(f"{source}:{line}: {message}")

    def parse_fields(close):
        nonlocal pos
        msg = TextMessage()
        while True:
            if pos >= len(tokens):
                if close is None:
                    return msg
                error(f"missing {close!r} at the end of the file", pos)
            tok, _ = tokens[pos]
            if tok == close:
                pos += 1
                return msg
            if tok in (",", ";"):
                pos += 1
                continue
            if not _is_word(tok):
                error(f"expected a field name, found {tok!r}", pos)
            key = tok
            pos += 1
            has_colon = pos < len(tokens) and tokens[pos][0] == ":"
            if has_colon:
                pos += 1
            if pos >= len(tokens):
                error(f"field {key!r} has no value", pos)
            tok = tokens[pos][0]
            if tok in _CLOSE:
                pos += 1
                msg.fields.append((key, parse_fields(_CLOSE[tok])))
            elif tok == "[" and has_colon:
                pos += 1
                for value in parse_list():
                    msg.fields.append((key, value))
            elif has_colon:
                msg.fields.append((key, scalar()))
            else:
                error(f"field {key!r} needs ':' before a scalar value", pos)

    def parse_list():
        nonlocal pos
        values = []
        while True:
            if pos >= len(tokens):
                error("missing ']'", pos)
            tok = tokens[pos][0]
            if tok == "]":
                pos += 1
                return values
            if tok == ",":
                pos += 1
                continue
            if tok in _CLOSE:
                pos += 1
                values.append(parse_fields(_CLOSE[tok]))
            else:
                values.append(scalar())

    def scalar():
        nonlocal pos
        tok, _ = tokens[pos]
        if tok[0] in "\"'":
            parts = []
            while pos < len(tokens) and tokens[pos][0][:1] in ("\"", "'"):
                parts.append(_unquote(tokens[pos][0]))
                pos += 1
            return "".join(parts)
        if not _is_word(tok):
            error(f"expected a value, found {tok!r}", pos)
        pos += 1
        return _word_value(tok)

    return parse_fields(None)


def _tokenize(text, source):
    tokens = []
    line = 1
    i = 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if m is None:
            raise FpgagenError(f"{source}:{line}: unexpected character {text[i]!r}")
        if m.lastgroup != "space":
            tokens.append((m.group(), line))
        line += m.group().count("\n")
        i = m.end()
    return tokens


def _is_word(tok):
    return tok[0] not in "{}[]<>:,;\"'"


def _unquote(tok):
    body = tok[1:-1]
    return body.encode("latin-1", "backslashreplace").decode("unicode_escape")


def _word_value(tok):
    if tok in ("true", "True"):
        return True
    if tok in ("false", "False"):
        return False
    for base in (10, 0):
        try:
            return int(tok, base)
        except ValueError:
            pass
    try:
        return float(tok)
    except ValueError:
        return tok
