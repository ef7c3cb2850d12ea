"""Time zones as fail2ban reads them in log dates: offsets and fixed-offset abbreviations.

fail2ban knows zones by fixed offset only (``CET`` is always +01:00; there is no switch
to summer time), optionally followed by an offset (``CET+0100``). The abbreviations and
their offsets are the ones fail2ban accepts, so a stamp means the same instant here.
"""

from __future__ import annotations

import re

# offset in hours -> abbreviations with that fixed offset
_BY_OFFSET: dict[float, str] = {
    -12: "Y",
    -11: "X NUT SST",
    -10: "W CKT HAST HST TAHT TKT",
    -9.5: "MART MIT",
    -9: "V AKST GAMT GIT HADT HNY",
    -8: "U AKDT CIST HAY HNP PST PT",
    -7: "T HAP HNR MST PDT",
    -6: "S CST EAST GALT HAR HNC MDT",
    -5: "R CDT COT EASST ECT EST ET HAC HNE PET",
    -4.5: "HLV VET",
    -4: "Q AST BOT CLT COST EDT FKT GYT HAE HNA PYT",
    -3.5: "HNT NST NT",
    -3: "P ADT ART BRT CLST FKST GFT HAA PMST PYST SRT UYT WGT",
    -2.5: "HAT NDT",
    -2: "O BRST FNT PMDT UYST WGST",
    -1: "N AZOT CVT EGT",
    0: "Z EGST GMT UTC WET WT",
    1: "A CET DFT WAT WEDT WEST",
    2: "B CAT CEDT CEST EET SAST WAST",
    3: "C EAT EEDT EEST IDT MSK",
    3.5: "IRST",
    4: "D AMT AZT GET GST KUYT MSD MUT RET SAMT SCT",
    4.5: "AFT IRDT",
    5: "E AMST AQTT AZST HMT MAWT MVT PKT TFT TJT TMT UZT YEKT",
    5.5: "SLT",
    5.75: "NPT",
    6: "F ALMT BIOT BTT IOT KGT NOVT OMST YEKST",
    6.5: "CCT MMT",
    7: "G CXT DAVT HOVT ICT KRAT NOVST OMSST THA WIB",
    8: "H ACT AWST BDT BNT CAST HKT IRKT KRAST MYT PHT SGT ULAT WITA WST",
    9: "I AWDT IRKST JST KST PWT TLT WDT WIT YAKT",
    9.5: "ACST",
    10: "K AEST ChST PGT VLAT YAKST YAPT",
    10.5: "ACDT LHST",
    11: "L AEDT LHDT MAGT NCT PONT SBT VLAST VUT",
    11.5: "NFT",
    12: "M ANAST ANAT FJT GILT MAGST MHT NZST PETST PETT TVT WFT",
    13: "FJST NZDT",
}
ABBREVIATIONS: dict[str, int] = {
    name: round(hours * 3600) for hours, names in _BY_OFFSET.items() for name in names.split()
}
_ZONE = re.compile(r"(?P<abbr>[A-Z](?:[A-Z]{2,4})?)?(?P<offset>[+-][01]\d(?::?\d{2})?)?$")


def zone_offset(zone: str) -> int | None:
    """Seconds east of UTC of ``Z``, ``UTC``, ``+0100``, ``-05:00``, ``CET``, ``CET+01``...;
    None for a zone fail2ban does not know (the date then has no time)."""
    m = _ZONE.match(zone)
    if m is None:
        return None
    abbr, offset = m.group("abbr") or "", m.group("offset") or ""
    base = ABBREVIATIONS.get(abbr, 0 if not abbr else None)
    if base is None:
        return None
    if not offset:
        return base
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    return base + sign * (int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60)
