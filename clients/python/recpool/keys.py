"""CURVE key files as ``recpool keygen`` writes them (docs/SECURITY.md).

``NAME.key`` holds ``public-key = Z85`` and ``secret-key = Z85`` lines (``#`` comments allowed);
``NAME.pub`` holds the public key alone. Z85 keys are 40 characters.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict

import zmq

from .errors import InvalidRequest
from .files import read_text

_Z85 = set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")


_Z85_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"


def _is_key(text: str) -> bool:
    """40 Z85 characters whose groups of 5 each fit 4 bytes (ZeroMQ RFC 32): ``%%%%%`` does not, and decodes to no key."""
    if len(text) != 40 or not set(text) <= _Z85:
        return False
    for start in range(0, 40, 5):
        value = 0
        for character in text[start:start + 5]:
            value = value * 85 + _Z85_DIGITS.index(character)
        if value > 0xFFFFFFFF:
            return False
    return True


def _assignments(path) -> Dict[str, str]:
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise InvalidRequest(f"a CURVE key must be a key file's path or a Z85 key, got {path!r}")
    lines = read_text(path, "key file").splitlines()
    found: Dict[str, str] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if equals and name in ("public-key", "secret-key"):
            if not _is_key(value):
                raise InvalidRequest(f"{path}, line {number}: {name} is not a 40-character Z85 key")
        elif _is_key(line):
            name, value = "public-key", line
        else:
            raise InvalidRequest(f"{path}, line {number}: not a key")
        # Two key files concatenated: which pair (or which server) is meant cannot be told; the recpool commands
        # refuse it the same way (docs/SECURITY.md).
        if name in found:
            raise InvalidRequest(f"{path}, line {number}: a second {name}: the file must hold exactly one "
                                 "(is it two key files concatenated?)")
        found[name] = value
    return found


def _check_private(path) -> None:
    """A secret key file its group or others may read or write is refused, as the recpool commands refuse it."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        return  # reading it names the problem
    if mode & 0o077:
        raise InvalidRequest(f"{path}: permissions {mode:04o} are too open: a secret key file must not be accessible "
                             f"by group or others (chmod 600 {path})")


def read_public_key(source) -> bytes:
    """A public key from a ``.pub`` file, the public half of a ``.key`` file, or a Z85 string itself.

    Raises:
        InvalidRequest: as the recpool commands refuse them: a file holding no public key, one its group or others
            may write (they could swap the server's key), or a ``.key`` file its group or others may access (its
            secret would sit readable).
    """
    if isinstance(source, (bytes, str)) and not os.path.exists(os.fsdecode(source)) and _is_key(os.fsdecode(source)):
        return os.fsencode(source)
    keys = _assignments(source)
    if "public-key" not in keys:
        raise InvalidRequest(f"{source} holds no public key")
    try:
        mode = os.stat(source).st_mode & 0o777
    except OSError:
        mode = 0
    if mode & 0o022:
        raise InvalidRequest(f"{source}: permissions {mode:04o} let group or others change the keys it lists "
                             f"(chmod 644 {source})")
    if "secret-key" in keys:
        _check_private(source)
    return keys["public-key"].encode()


@dataclass(frozen=True)
class KeyPair:
    """A CURVE key pair in Z85."""

    public: bytes
    secret: bytes


def read_key_pair(path) -> KeyPair:
    """The pair in a ``NAME.key`` file; the public half is derived from the secret and checked.

    Raises:
        InvalidRequest: unreadable file, no secret key, a second key pair, halves that do not belong together, or
            a file its group or others may access (mode bits 0o077; ``chmod 600``).
    """
    # A secret given where its file's path belongs (``client_key=os.environ["SECRET"]``) was echoed into the error.
    if isinstance(path, (bytes, str)) and not os.path.exists(os.fsdecode(path)) and _is_key(os.fsdecode(path)):
        raise InvalidRequest("the value given as a key file's path is a CURVE key itself (40 Z85 characters; not shown) "
                             "and names no file: give the path of the key file")
    keys = _assignments(path)
    if "secret-key" not in keys:
        raise InvalidRequest(f"{path} holds no secret-key (is it a .pub file?)")
    _check_private(path)
    secret = keys["secret-key"].encode()
    public = zmq.curve_public(secret)
    if "public-key" in keys and keys["public-key"].encode() != public:
        raise InvalidRequest(f"{path}: the public key does not belong to the secret key")
    return KeyPair(public, secret)


def apply_curve(socket, server_key, client_key) -> None:
    """Makes ``socket`` a CURVE client of the broker whose public key is ``server_key``, with the
    pair in ``client_key`` (both as ``recpool keygen`` writes them). Both or neither must be given."""
    if (server_key is None) != (client_key is None):
        raise InvalidRequest("CURVE needs both server_key (the broker's .pub) and client_key (this peer's .key)")
    if server_key is None:
        return
    if not zmq.has("curve"):
        raise InvalidRequest("this libzmq was built without CURVE")
    pair = read_key_pair(client_key)
    socket.curve_serverkey = read_public_key(server_key)
    socket.curve_publickey = pair.public
    socket.curve_secretkey = pair.secret
