"""XML from outside (CoT events, STANAG 4774 labels, STANAG 4778 binding data objects), parsed one way: its
size bounded before a byte is parsed, then defusedxml with DTDs, entities and external references forbidden.
Every failure is one error, `UnacceptableXml`, which each format turns into its own."""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException


class UnacceptableXml(ValueError):
    pass


def parse_untrusted(data: bytes, *, limit: int, what: str) -> Element:
    """The root element of `data`, a `what` (named in the error) of at most `limit` bytes."""
    if len(data) > limit:
        raise UnacceptableXml(f"{what} is {len(data)} bytes, over the {limit} limit")
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    # LookupError: an XML declaration naming an encoding Python does not know.
    except (ParseError, DefusedXmlException, LookupError, ValueError) as bad:
        raise UnacceptableXml(f"{what} is not acceptable XML: {bad}") from None
