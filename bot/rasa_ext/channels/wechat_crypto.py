"""WeChat's AES message encryption ("安全模式" safe mode, also used in "兼容模式").

The algorithm of Tencent's WXBizMsgCrypt sample:

* key: ``base64decode(EncodingAESKey + "=")``, 32 bytes (AES-256); IV: the key's first 16 bytes;
* plaintext: 16 random bytes + the message length (4 bytes, big-endian) + the message XML +
  the appid, padded PKCS#7-style to a multiple of **32** bytes (not AES's 16);
* ``Encrypt`` = base64(AES-256-CBC(plaintext));
* ``msg_signature`` = SHA1 hex of sorted(token, timestamp, nonce, Encrypt)
  (:func:`bot.rasa_ext.channels.verify.wechat_msg_signature`).

A passive reply is encrypted the same way and sent as
``<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>``.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import struct
import time
from typing import Optional, Text, Union

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.rasa_ext.channels.verify import (
    constant_time_equals,
    wechat_msg_signature,
    wechat_msg_signature_is_valid,
)
from bot.rasa_ext.channels.wechat_messages import cdata

BLOCK_SIZE = 32  # WeChat pads to 32-byte blocks
RANDOM_BYTES = 16
LENGTH_BYTES = 4


class WeChatCryptoError(ValueError):
    """An ``Encrypt`` value we cannot decrypt, or one meant for another appid."""


def aes_key(encoding_aes_key: Text) -> bytes:
    """The 32-byte AES key of the console's 43-character EncodingAESKey (消息加解密密钥)."""
    text = (encoding_aes_key or "").strip()
    try:
        key = base64.b64decode(text + "=", validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(text) != 43 or len(key) != 32:
        raise ValueError("EncodingAESKey must be the 43 characters shown in the WeChat console")
    return key


def _pad(data: bytes) -> bytes:
    amount = BLOCK_SIZE - len(data) % BLOCK_SIZE
    return data + bytes([amount]) * amount


def _unpad(data: bytes) -> bytes:
    amount = data[-1] if data else 0
    if not 1 <= amount <= BLOCK_SIZE or amount > len(data):
        raise WeChatCryptoError("bad padding")
    if data[-amount:] != bytes([amount]) * amount:
        raise WeChatCryptoError("bad padding")
    return data[:-amount]


class WeChatCrypto:
    """Encrypts and decrypts the messages of one Official Account (token, key, appid)."""

    def __init__(self, token: Text, encoding_aes_key: Text, app_id: Text) -> None:
        if not token or not app_id:
            raise ValueError("WeChat encryption needs the token and the appid")
        self.token = token
        self.app_id = app_id
        self.key = aes_key(encoding_aes_key)

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    # -- signatures

    def signature(self, timestamp: Text, nonce: Text, encrypt: Text) -> Text:
        return wechat_msg_signature(self.token, timestamp, nonce, encrypt)

    def signature_is_valid(
        self,
        msg_signature: Optional[Text],
        timestamp: Optional[Text],
        nonce: Optional[Text],
        encrypt: Optional[Text],
    ) -> bool:
        return wechat_msg_signature_is_valid(self.token, msg_signature, timestamp, nonce, encrypt)

    # -- the cipher

    def encrypt(self, message: Union[Text, bytes], random_prefix: Optional[bytes] = None) -> Text:
        """``Encrypt`` for ``message`` (XML); ``random_prefix`` (16 bytes) only for tests."""
        body = message.encode("utf-8") if isinstance(message, str) else message
        prefix = os.urandom(RANDOM_BYTES) if random_prefix is None else random_prefix
        if len(prefix) != RANDOM_BYTES:
            raise ValueError("the random prefix has 16 bytes")
        plain = prefix + struct.pack(">I", len(body)) + body + self.app_id.encode("utf-8")
        encryptor = self._cipher().encryptor()
        sealed = encryptor.update(_pad(plain)) + encryptor.finalize()
        return base64.b64encode(sealed).decode("ascii")

    def decrypt(self, encrypt: Text) -> bytes:
        """The message XML inside ``encrypt``; :class:`WeChatCryptoError` when it is not valid
        or was encrypted for another appid."""
        try:
            sealed = base64.b64decode(encrypt.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise WeChatCryptoError("Encrypt is not base64")
        if not sealed or len(sealed) % 16:
            raise WeChatCryptoError("Encrypt is not whole AES blocks")
        decryptor = self._cipher().decryptor()
        plain = _unpad(decryptor.update(sealed) + decryptor.finalize())
        if len(plain) < RANDOM_BYTES + LENGTH_BYTES:
            raise WeChatCryptoError("too short")
        start = RANDOM_BYTES + LENGTH_BYTES
        (length,) = struct.unpack(">I", plain[RANDOM_BYTES:start])
        if length > len(plain) - start:
            raise WeChatCryptoError("bad length")
        app_id = plain[start + length :]
        if not constant_time_equals(self.app_id.encode("utf-8"), app_id):
            raise WeChatCryptoError("the message is for another appid")
        return plain[start : start + length]

    # -- replies

    def reply(
        self, message: Text, timestamp: Optional[Text] = None, nonce: Optional[Text] = None
    ) -> Text:
        """The encrypted passive reply carrying ``message`` (a reply XML)."""
        stamp = str(int(time.time())) if timestamp is None else timestamp
        nonce = str(secrets.randbelow(10**10)).zfill(10) if nonce is None else nonce
        encrypt = self.encrypt(message)
        return (
            "<xml>"
            f"<Encrypt>{cdata(encrypt)}</Encrypt>"
            f"<MsgSignature>{cdata(self.signature(stamp, nonce, encrypt))}</MsgSignature>"
            f"<TimeStamp>{stamp}</TimeStamp>"
            f"<Nonce>{cdata(nonce)}</Nonce>"
            "</xml>"
        )
