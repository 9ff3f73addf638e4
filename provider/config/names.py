"""Windows and Active Directory names: NetBIOS computer and domain names, accounts, groups, DNS, one-line text.

Why these rules: a name Windows would refuse must fail the offline check with the fix, not a script on a
node half way through a run. Each function returns why a value is not such a name (a message that names
the rule and the fix, never the key: the caller's error carries the key), or None.
Sources: Microsoft KB 909264, "Naming conventions in Active Directory for computers, domains, sites, and
OUs" (NetBIOS names: at most 15 characters, none of ``\\ / : * ? " < > |``, not only digits); the
SAM-Account-Name attribute (learn.microsoft.com/windows/win32/adschema/a-samaccountname: at most 20
characters, none of ``" / \\ [ ] : ; | = , + * ? < >``). Refusing ``@`` and a trailing period, and the
64-character limit for group names, are this project's own stricter rules (not from those pages).
Security (issue 13, L2): invisible characters are refused in every name, and every name here is ASCII,
so a look-alike letter (Cyrillic DZE, U+0405, for 'S') cannot make a changed name pass review as unchanged
(UTS #39 "Unicode Security Mechanisms", mixed-script and whole-script confusables). A computer name is
also a host name the transport connects to, so it holds only letters, digits and hyphens (RFC 1123 host
names; Microsoft's DNS host naming rules in KB 909264): nothing that could move a URL's host or port.
"""

from __future__ import annotations

import re

from provider.config.problems import control_problem, non_ascii_problem, quoted

_NETBIOS_FORBIDDEN = '\\/:*?"<>|'
_SAM_FORBIDDEN = '"/\\[]:;|=,+*?<>@'
_DNS_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_HOST_LABEL = re.compile(r"[A-Za-z0-9-]+")


def split_account(account: str) -> tuple[str, str]:
    r"""``("CONTOSO", "svc-entsso")`` from ``CONTOSO\svc-entsso``; domain is "" when there is no backslash.

    The one way to split an account: the providers, ssoxml and the simulator call it.
    """
    domain, sep, user = account.partition("\\")
    return (domain, user) if sep else ("", account)


def _text_problem(value: str, what: str, empty_hint: str, allowed: str) -> str | None:
    """What every name is checked for first: empty, a control character, a character outside ``allowed``."""
    if not value:
        return f"is empty: {empty_hint}"
    if why := control_problem(value, what):
        return why
    return non_ascii_problem(value, what, allowed)


def _netbios_problem(value: str, what: str, dotted_hint: str, *, host: bool) -> str | None:
    """Why ``value`` is not a NetBIOS name (computer or domain; a computer's is also a host name), or None."""
    if why := _text_problem(value, what, f"give the {what} (1-15 characters)", "ASCII letters, digits and hyphens"):
        return why
    if "." in value:
        return f"{quoted(value)} contains a dot: {dotted_hint}"
    if any(c.isspace() for c in value):
        return f"{quoted(value)} contains a space, which a NetBIOS name cannot: use the {what} as Windows shows it"
    bad = "".join(sorted({c for c in value if c in _NETBIOS_FORBIDDEN}))
    if bad:
        return (
            f"{quoted(value)} contains {quoted(bad)}; a NetBIOS name cannot contain any of "
            f'\\ / : * ? " < > |: use the {what} as Windows shows it'
        )
    if len(value) > 15:
        return (
            f"{quoted(value)} is {len(value)} characters; a NetBIOS name has at most 15: "
            f"use the {what} as Windows shows it (the pre-Windows 2000 name)"
        )
    if host and not _HOST_LABEL.fullmatch(value):
        bad = "".join(sorted({c for c in value if not _HOST_LABEL.fullmatch(c)}))
        return (
            f"{quoted(value)} contains {quoted(bad)}; the {what} is also a host name other machines connect to "
            "(WinRM, SQL clients), which holds only letters, digits and hyphens: use the name as Windows shows it"
        )
    if value.isdigit():
        return f"{quoted(value)} is all digits, which Windows refuses for a NetBIOS name: use the {what}"
    return None


def computer_problem(value: str, what: str) -> str | None:
    """Why ``value`` is not a NetBIOS computer name; ``what`` names it in the message (e.g. "node's computer name")."""
    return _netbios_problem(
        value,
        what,
        f"give the {what} as a NetBIOS computer name, e.g. {quoted(value.split('.')[0])}, "
        "and put the DNS suffix in cluster.dnsSuffix",
        host=True,
    )


def domain_problem(value: str) -> str | None:
    """Why ``value`` is not a NetBIOS (pre-Windows 2000) domain name."""
    return _netbios_problem(
        value,
        "NetBIOS domain name",
        f"use the NetBIOS (pre-Windows 2000) domain name, e.g. {quoted(value.split('.')[0].upper())}, not the DNS name",
        host=False,
    )


def _sam_like_problem(value: str, what: str, limit: int) -> str | None:
    if why := _text_problem(
        value, what, f"give the {what}", "ASCII characters, as in the account's pre-Windows 2000 name"
    ):
        return why
    bad = "".join(sorted({c for c in value if c in _SAM_FORBIDDEN}))
    if bad:
        return (
            f"{quoted(value)} contains {quoted(bad)}; a {what} cannot contain any of "
            '" / \\ [ ] : ; | = , + * ? < > @: use the name as Active Directory shows it (pre-Windows 2000)'
        )
    if len(value) > limit:
        return (
            f"{quoted(value)} is {len(value)} characters; a {what} has at most {limit}: "
            "use the pre-Windows 2000 name, as Active Directory Users and Computers shows it"
        )
    if not value.strip(". "):
        return f"{quoted(value)} is only periods or spaces: give the {what}"
    if value.endswith("."):
        return f"{quoted(value)} ends with a period, which Active Directory refuses: drop the period"
    return None


def account_problem(value: str) -> str | None:
    """Why ``value`` is not a ``DOMAIN\\user`` domain account (the domain itself is compared with domain.name later)."""
    if not value:
        return "is empty: give the account as DOMAIN\\user, e.g. CONTOSO\\svc-entsso"
    if "\\" not in value:
        if "@" in value:
            user, _, dns = value.partition("@")
            return (
                f"{quoted(value)} is a user principal name; write it as DOMAIN\\user with the NetBIOS domain, "
                f"e.g. {dns.split('.')[0].upper()}\\{user}"
            )
        return f"{quoted(value)} has no domain: write it as DOMAIN\\user, e.g. CONTOSO\\{value}"
    if value.count("\\") > 1:
        return f"{quoted(value)} has more than one backslash: write it as DOMAIN\\user"
    domain, user = split_account(value)
    if domain in ("", ".") or domain.upper() in ("BUILTIN", "NT AUTHORITY", "NT SERVICE"):
        return (
            f"{quoted(value)} is not a domain account; a clustered ENTSSO needs a domain account that is the "
            "same on every node: write DOMAIN\\user with the domain of domain.name"
        )
    why = domain_problem(domain)
    if why:
        return f"the domain part {why}"
    why = _sam_like_problem(user, "sAMAccountName (user name)", 20)
    if why:
        return f"the user part {why}"
    return None


def group_problem(value: str, default: str) -> str | None:
    """Why ``value`` is not a domain group's name written alone; ``default`` is the example for ``DOMAIN\\``."""
    if "\\" in value:
        group = split_account(value)[1]
        return (
            f"{quoted(value)} includes a domain: write the group name alone, e.g. {quoted(group or default)}; "
            "the domain comes from domain.name"
        )
    return _sam_like_problem(value, "group name", 64)


def dns_problem(value: str, what: str) -> str | None:
    """Why ``value`` is not a DNS name (RFC 1123 labels of 1-63 characters, 253 in all)."""
    if not value:
        return f"is empty: give the {what} or remove the key"
    if why := control_problem(value, what) or non_ascii_problem(value, what, "ASCII letters, digits and hyphens"):
        return why
    if value.startswith(".") or value.endswith("."):
        return f"{quoted(value)} starts or ends with a dot: write the {what} without it, e.g. contoso.com"
    if len(value) > 253:
        return f"is {len(value)} characters; a DNS name has at most 253"
    for label in value.split("."):
        if not _DNS_LABEL.match(label):
            return (
                f"{quoted(value)} is not a DNS name: each dot-separated label needs 1-63 letters, digits or "
                "hyphens and cannot start or end with a hyphen"
            )
    return None


def text_problem(value: str, what: str, limit: int = 256) -> str | None:
    """Why ``value`` is not one line of display text, such as a cluster role or resource name."""
    if not value.strip():
        return f"is empty: give the {what}"
    if why := control_problem(value, what):
        return why
    if value != value.strip():
        return f"{quoted(value)} has leading or trailing spaces: remove them"
    if len(value) > limit:
        return f"is {len(value)} characters; the {what} has at most {limit}"
    return None
