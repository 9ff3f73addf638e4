"""One row per rule: a valid configuration with one change is refused at the dotted key, with the fix.

Each row changes ``base_config()`` (see common.py) and asserts that a problem names exactly ``key`` and
that its message carries ``fragment`` (part of the fix a Windows or AWS admin would act on). The same
rows feed test_secrets.py, which asserts that no password ever reaches the error.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.spec.common import DELETE, base_config, changed, problems

CERT = {"auth": "certificate", "certificatePem": "certs/client.pem", "certificateKeyPem": "certs/client.key"}

RULES: list[Any] = [
    # ---- cluster: NetBIOS computer names, nodes ------------------------------------------------------
    pytest.param({"cluster.nodes[1]": "SSO0123456789012"}, "cluster.nodes[1]", "at most 15", id="node-too-long"),
    pytest.param({"cluster.nodes[1]": "SSO*02"}, "cluster.nodes[1]", "cannot contain any of", id="node-star"),
    pytest.param({"cluster.nodes[1]": "SSO|02"}, "cluster.nodes[1]", "cannot contain any of", id="node-pipe"),
    pytest.param({"cluster.nodes[1]": 'SSO"02'}, "cluster.nodes[1]", "cannot contain any of", id="node-quote"),
    pytest.param({"cluster.nodes[1]": "SSO\\02"}, "cluster.nodes[1]", "cannot contain any of", id="node-backslash"),
    pytest.param({"cluster.nodes[1]": "12345"}, "cluster.nodes[1]", "all digits", id="node-all-digits"),
    pytest.param({"cluster.nodes[1]": "SSO 02"}, "cluster.nodes[1]", "contains a space", id="node-space"),
    pytest.param(
        {"cluster.nodes[1]": "sso02.contoso.com"}, "cluster.nodes[1]", "cluster.dnsSuffix", id="node-fqdn-dot"
    ),
    pytest.param({"cluster.nodes[1]": ""}, "cluster.nodes[1]", "is empty", id="node-empty"),
    pytest.param({"cluster.nodes[1]": "SSO\x0702"}, "cluster.nodes[1]", "control character", id="node-control"),
    pytest.param({"cluster.nodes[1]": "sso01"}, "cluster.nodes[1]", "list each node once", id="node-duplicate-case"),
    pytest.param({"cluster.nodes": ["SSO01"]}, "cluster.nodes", "at least two", id="nodes-one"),
    pytest.param({"cluster.nodes": "SSO01,SSO02"}, "cluster.nodes", "must be a list", id="nodes-not-a-list"),
    pytest.param({"cluster.nodes[0]": 12}, "cluster.nodes[0]", "quote it in YAML", id="node-number"),
    pytest.param(
        {"cluster.networkName": "BIZTALKSSOCLUSTER"}, "cluster.networkName", "at most 15", id="network-name-long"
    ),
    pytest.param(
        {"cluster.networkName": "BIZTALK/SSO"}, "cluster.networkName", "cannot contain any of", id="network-name-slash"
    ),
    pytest.param(
        {"cluster.networkName": "biztalksso.contoso.com"},
        "cluster.networkName",
        "contains a dot",
        id="network-name-dot",
    ),
    pytest.param(
        {"cluster.networkName": "sso02"}, "cluster.networkName", "Network Name resource", id="network-is-node"
    ),
    pytest.param({"cluster.networkName": DELETE}, "cluster.networkName", "is required", id="network-name-missing"),
    pytest.param({"cluster.dnsSuffix": ".contoso.com"}, "cluster.dnsSuffix", "without it", id="dns-leading-dot"),
    pytest.param({"cluster.dnsSuffix": "con_toso.com"}, "cluster.dnsSuffix", "not a DNS name", id="dns-underscore"),
    pytest.param({"cluster.dnsSuffix": ""}, "cluster.dnsSuffix", "remove the key", id="dns-empty"),
    pytest.param({"cluster.role": "  "}, "cluster.role", "is empty", id="role-blank"),
    pytest.param({"cluster.role": " SSO"}, "cluster.role", "leading or trailing spaces", id="role-padded"),
    pytest.param({"cluster.resourceName": ""}, "cluster.resourceName", "is empty", id="resource-name-empty"),
    pytest.param({"cluster.nodess": ["A", "B"]}, "cluster.nodess", "did you mean nodes", id="cluster-typo"),
    # ---- domain ---------------------------------------------------------------------------------------
    pytest.param({"domain.name": "contoso.com"}, "domain.name", "pre-Windows 2000", id="domain-dns-name"),
    pytest.param({"domain.name": "CONTOSOCORPORATION"}, "domain.name", "at most 15", id="domain-long"),
    pytest.param({"domain.name": "CONTOSO:"}, "domain.name", "cannot contain any of", id="domain-colon"),
    pytest.param({"domain": DELETE}, "domain", "is required", id="domain-missing"),
    # ---- sso: accounts and groups ---------------------------------------------------------------------
    pytest.param({"sso.serviceAccount": "svc-entsso"}, "sso.serviceAccount", "DOMAIN\\user", id="account-no-domain"),
    pytest.param(
        {"sso.serviceAccount": "svc-entsso@contoso.com"},
        "sso.serviceAccount",
        "CONTOSO\\svc-entsso",
        id="account-upn",
    ),
    pytest.param(
        {"sso.serviceAccount": "CONTOSO\\svc\\entsso"}, "sso.serviceAccount", "more than one backslash", id="two-bs"
    ),
    pytest.param(
        {"sso.serviceAccount": ".\\svc-entsso"}, "sso.serviceAccount", "not a domain account", id="account-local"
    ),
    pytest.param(
        {"sso.serviceAccount": "CONTOSO\\svc-entsso-service-01"}, "sso.serviceAccount", "at most 20", id="sam-long"
    ),
    pytest.param(
        {"sso.serviceAccount": "CONTOSO\\svc[entsso]"}, "sso.serviceAccount", "cannot contain any of", id="sam-bracket"
    ),
    pytest.param(
        {"sso.serviceAccount": "CONTOSO\\svc=entsso"}, "sso.serviceAccount", "cannot contain any of", id="sam-equals"
    ),
    pytest.param({"sso.serviceAccount": "CONTOSO\\svc."}, "sso.serviceAccount", "ends with a period", id="sam-dot"),
    pytest.param(
        {"sso.serviceAccount": "contoso.com\\svc-entsso"}, "sso.serviceAccount", "NetBIOS", id="account-dns-domain"
    ),
    pytest.param(
        {"sso.serviceAccount": "FABRIKAM\\svc-entsso"},
        "sso.serviceAccount",
        "write CONTOSO\\svc-entsso, or correct domain.name",
        id="service-account-other-domain",
    ),
    pytest.param(
        {"sso.configuringAccount": "FABRIKAM\\esso-config"},
        "sso.configuringAccount",
        "domain.name is 'CONTOSO'",
        id="configuring-account-other-domain",
    ),
    pytest.param(
        {"sso.configuringAccount": "CONTOSO\\"}, "sso.configuringAccount", "user part is empty", id="account-no-user"
    ),
    pytest.param(
        {"sso.adminGroup": "CONTOSO\\SSO Administrators"},
        "sso.adminGroup",
        "write the group name alone",
        id="group-with-domain",
    ),
    pytest.param({"sso.adminGroup": "SSO;Admins"}, "sso.adminGroup", "cannot contain any of", id="group-semicolon"),
    pytest.param({"sso.adminGroup": ""}, "sso.adminGroup", "is empty", id="group-empty"),
    pytest.param(
        {"sso.affiliateAdminGroup": "G" * 65}, "sso.affiliateAdminGroup", "at most 64", id="affiliate-group-long"
    ),
    pytest.param(
        {"sso.affiliateAdminGroup": "SSO Affiliates <prod>"},
        "sso.affiliateAdminGroup",
        "cannot contain any of",
        id="affiliate-group-angle",
    ),
    pytest.param({"sso.serviceAccount": DELETE}, "sso.serviceAccount", "is required", id="service-account-missing"),
    # ---- database -------------------------------------------------------------------------------------
    pytest.param({"database.server": "SQL01\\BTS,70000"}, "database.server", "1-65535", id="sql-port-range"),
    pytest.param({"database.server": "SQL01,abc"}, "database.server", "1-65535", id="sql-port-text"),
    pytest.param({"database.server": "SQL01\\1BTS"}, "database.server", "instance name", id="sql-instance-digit"),
    pytest.param({"database.server": "SQL01\\BIZTALKINSTANCE01X"}, "database.server", "1-16", id="sql-instance-long"),
    pytest.param(
        {"database.server": "SQL01\\MSSQLSERVER"}, "database.server", "default instance", id="sql-default-instance"
    ),
    pytest.param({"database.server": "SQL01\\A\\B"}, "database.server", "more than one backslash", id="sql-2-bs"),
    pytest.param({"database.server": "localhost"}, "database.server", "every node reaches", id="sql-localhost"),
    pytest.param({"database.server": ".\\BTS"}, "database.server", "every node reaches", id="sql-dot"),
    pytest.param({"database.server": "tcp:SQL01,1433"}, "database.server", "protocol prefix", id="sql-tcp-prefix"),
    pytest.param({"database.server": "10.0.0.300"}, "database.server", "IPv4", id="sql-bad-ipv4"),
    pytest.param({"database.server": "fe80::1"}, "database.server", "DNS name", id="sql-ipv6"),
    pytest.param({"database.server": "sql_01.contoso.com"}, "database.server", "not a DNS name", id="sql-bad-dns"),
    pytest.param({"database.server": "SQL SERVER01"}, "database.server", "without spaces", id="sql-space"),
    pytest.param({"database.server": "\\BTS"}, "database.server", "has no host", id="sql-no-host"),
    pytest.param({"database.server": ""}, "database.server", "host[\\instance][,port]", id="sql-empty"),
    pytest.param({"database.name": "SSO]DB"}, "database.name", "']'", id="db-bracket"),
    pytest.param({"database.name": ""}, "database.name", "is empty", id="db-empty"),
    pytest.param({"database.name": "S" * 129}, "database.name", "at most 128", id="db-long"),
    pytest.param({"database.name": "SSO\nDB"}, "database.name", "control character", id="db-control"),
    # ---- backup ---------------------------------------------------------------------------------------
    pytest.param({"backup.path": "SSOSecret.bak"}, "backup.path", "absolute Windows path", id="backup-relative"),
    pytest.param({"backup.path": "D:/ESSO/SSOSecret.bak"}, "backup.path", "backslashes", id="backup-slash"),
    pytest.param({"backup.path": "D:\\ESSO\\SSO?.bak"}, "backup.path", "cannot contain any of", id="backup-question"),
    pytest.param({"backup.path": "D:\\ESSO\\SSOSecret.txt"}, "backup.path", ".bak", id="backup-not-bak"),
    pytest.param({"backup.path": "\\\\FS01\\SSOSecret.bak"}, "backup.path", "UNC", id="backup-unc-incomplete"),
    pytest.param(
        {"backup.path": "%ProgramFiles%\\ESSO\\SSOSecret.bak"}, "backup.path", "environment variables", id="backup-env"
    ),
    pytest.param({"backup.path": "D:\\ESSO.\\SSOSecret.bak"}, "backup.path", "ending in a space", id="backup-dot-name"),
    pytest.param({"backup.path": "D:\\" + "x" * 260 + ".bak"}, "backup.path", "MAX_PATH", id="backup-long"),
    pytest.param(
        {"backup.reminder": "it is Bak-Sentinel-0d42aa31#"},
        "backup.reminder",
        "does not give the password away",
        id="reminder-holds-password",
    ),
    pytest.param({"backup.reminder": "line\nbreak"}, "backup.reminder", "one line", id="reminder-multiline"),
    # ---- escrow ---------------------------------------------------------------------------------------
    pytest.param({"escrow.path": DELETE}, "escrow.path", "is required with escrow.kind: local", id="local-no-path"),
    pytest.param({"escrow.path": "/tmp/esso"}, "escrow.path", "temporary folder", id="local-temp-posix"),
    pytest.param(
        {"escrow.path": "C:\\Users\\me\\AppData\\Local\\Temp\\esso"},
        "escrow.path",
        "temporary folder",
        id="local-temp-windows",
    ),
    pytest.param({"escrow.path": " "}, "escrow.path", "is empty", id="local-path-blank"),
    pytest.param(
        {"escrow.bucket": "esso-escrow"}, "escrow.bucket", "only used with escrow.kind: s3", id="local-bucket"
    ),
    pytest.param({"escrow.region": "eu-west-1"}, "escrow.region", "only used with escrow.kind: s3", id="local-region"),
    pytest.param({"escrow": {"kind": "s3"}}, "escrow.bucket", "is required with escrow.kind: s3", id="s3-no-bucket"),
    pytest.param(
        {"escrow": {"kind": "s3", "bucket": "esso", "path": "/srv/x"}},
        "escrow.path",
        "only used with escrow.kind: local",
        id="s3-with-path",
    ),
    pytest.param({"escrow": {"kind": "s3", "bucket": "Esso-Escrow"}}, "escrow.bucket", "lowercase", id="s3-upper"),
    pytest.param({"escrow": {"kind": "s3", "bucket": "esso_escrow"}}, "escrow.bucket", "hyphens", id="s3-underscore"),
    pytest.param({"escrow": {"kind": "s3", "bucket": "ab"}}, "escrow.bucket", "3-63", id="s3-short"),
    pytest.param({"escrow": {"kind": "s3", "bucket": "b" * 64}}, "escrow.bucket", "3-63", id="s3-long"),
    pytest.param({"escrow": {"kind": "s3", "bucket": "-esso"}}, "escrow.bucket", "start and end", id="s3-hyphen"),
    pytest.param({"escrow": {"kind": "s3", "bucket": "esso..x"}}, "escrow.bucket", "adjacent periods", id="s3-dots"),
    pytest.param({"escrow": {"kind": "s3", "bucket": "10.1.2.3"}}, "escrow.bucket", "IP address", id="s3-ip"),
    pytest.param({"escrow": {"kind": "s3", "bucket": "xn--esso"}}, "escrow.bucket", "reserves", id="s3-reserved"),
    pytest.param(
        {"escrow": {"kind": "s3", "bucket": "esso", "prefix": "/esso/"}},
        "escrow.prefix",
        "without them",
        id="prefix-slashes",
    ),
    pytest.param(
        {"escrow": {"kind": "s3", "bucket": "esso", "prefix": "a//b"}}, "escrow.prefix", "single '/'", id="prefix-2x"
    ),
    pytest.param(
        {"escrow": {"kind": "s3", "bucket": "esso", "prefix": "a\\b"}}, "escrow.prefix", "use '/'", id="prefix-bs"
    ),
    pytest.param(
        {"escrow": {"kind": "s3", "bucket": "esso", "kmsKeyId": "my-key"}}, "escrow.kmsKeyId", "alias/", id="kms-bad"
    ),
    pytest.param(
        {"escrow": {"kind": "s3", "bucket": "esso", "region": "EU-West-1"}}, "escrow.region", "eu-west-1", id="region"
    ),
    pytest.param(
        {"escrow.passwordSecretId": "esso backup!"}, "escrow.passwordSecretId", "Secrets Manager", id="secret-id-bad"
    ),
    pytest.param({"escrow.kind": "ftp"}, "escrow.kind", "must be 'local' or 's3'", id="escrow-kind"),
    # ---- transport ------------------------------------------------------------------------------------
    pytest.param({"transport": {"auth": "basic", "ssl": False}}, "transport.auth", "ssl: true", id="basic-http"),
    pytest.param(
        {"transport": {"ssl": False, "encryption": "never"}}, "transport.encryption", "ssl: true", id="never-http"
    ),
    pytest.param(
        {"transport": {"auth": "basic", "encryption": "always"}},
        "transport.encryption",
        "message encryption",
        id="always-basic",
    ),
    pytest.param({"transport": {**CERT, "ssl": False}}, "transport.ssl", "must be true", id="cert-http"),
    pytest.param(
        {"transport": {"auth": "certificate", "certificateKeyPem": "k.pem"}},
        "transport.certificatePem",
        "is required with auth: certificate",
        id="cert-no-pem",
    ),
    pytest.param(
        {"transport": {"auth": "certificate", "certificatePem": "c.pem"}},
        "transport.certificateKeyPem",
        "is required with auth: certificate",
        id="cert-no-key",
    ),
    pytest.param(
        {"transport.certificatePem": "c.pem"},
        "transport.certificatePem",
        "only used with auth: certificate",
        id="pem-without-cert-auth",
    ),
    pytest.param(
        {"transport.readTimeout": 60, "transport.operationTimeout": 60},
        "transport.readTimeout",
        "greater than transport.operationTimeout",
        id="read-not-above-operation",
    ),
    pytest.param({"transport.connectTimeout": 0}, "transport.connectTimeout", "positive", id="connect-timeout-0"),
    pytest.param({"transport.operationTimeout": -5}, "transport.operationTimeout", "positive", id="op-timeout-neg"),
    pytest.param({"transport.readTimeout": "soon"}, "transport.readTimeout", "must be a number", id="timeout-text"),
    pytest.param({"transport.retries": 11}, "transport.retries", "0-10", id="retries-high"),
    pytest.param({"transport.retries": -1}, "transport.retries", "0-10", id="retries-negative"),
    pytest.param({"transport.retries": 1.5}, "transport.retries", "whole number", id="retries-fraction"),
    pytest.param({"transport.backoff": 120}, "transport.backoff", "0-60", id="backoff-high"),
    pytest.param({"transport.port": 0}, "transport.port", "1-65535", id="port-0"),
    pytest.param({"transport.port": 65536}, "transport.port", "1-65535", id="port-high"),
    pytest.param({"transport.port": 5985}, "transport.port", "use 5986", id="port-http-with-ssl"),
    pytest.param({"transport": {"ssl": False, "port": 5986}}, "transport.port", "use 5985", id="port-https-no-ssl"),
    pytest.param(
        {"transport.secondHop": "credssp"}, "transport.secondHop", "transport.auth: credssp", id="credssp-hop-auth"
    ),
    pytest.param(
        {"transport": {"auth": "ntlm", "secondHop": "kerberos-delegation"}},
        "transport.secondHop",
        "kerberos or negotiate",
        id="delegation-ntlm",
    ),
    pytest.param(
        {"transport": {"ssl": False, "caBundle": "ca.pem"}}, "transport.caBundle", "ssl: true", id="ca-bundle-http"
    ),
    pytest.param(
        {"transport": {"certValidation": False, "caBundle": "ca.pem"}},
        "transport.caBundle",
        "certValidation: true",
        id="ca-bundle-no-validation",
    ),
    pytest.param({"transport.caBundle": ""}, "transport.caBundle", "PEM file", id="ca-bundle-empty"),
    pytest.param({"transport.auth": "digest"}, "transport.auth", "must be 'negotiate'", id="auth-unknown"),
    pytest.param({"transport.ssl": "maybe"}, "transport.ssl", "true or false", id="ssl-not-bool"),
    pytest.param({"transport.readtimeout": 90}, "transport.readtimeout", "did you mean readTimeout", id="typo"),
    # ---- top level ------------------------------------------------------------------------------------
    pytest.param({"target": "simulator"}, "simulatorState", "is required with target: simulator", id="sim-no-state"),
    pytest.param(
        {"simulatorState": ".state/w.json"}, "simulatorState", "only used with target: simulator", id="state-winrm"
    ),
    pytest.param({"target": "azure"}, "target", "must be 'simulator' or 'winrm'", id="target-unknown"),
    pytest.param({"winrmPassword": DELETE}, "winrmPassword", "is required with target: winrm", id="winrm-no-pw"),
    pytest.param(
        {"winrmPassword": ""}, "winrmPassword", "pulumi config set --secret winrmPassword", id="winrm-pw-empty"
    ),
    pytest.param({"backupPassword": DELETE}, "backupPassword", "escrow.passwordSecretId", id="no-backup-password"),
    pytest.param({"allowDisruption": "perhaps"}, "allowDisruption", "true or false", id="allow-disruption-not-bool"),
    pytest.param({"failover.verify": "always"}, "failover.verify", "true or false", id="failover-verify"),
    pytest.param({"policy.onDestroy": "delete"}, "policy.onDestroy", "must be 'retain' or 'remove'", id="on-destroy"),
    pytest.param({"policy.protectSsoSystem": "no way"}, "policy.protectSsoSystem", "true or false", id="protect"),
    pytest.param({"cluster": 5}, "cluster", "must be a mapping", id="section-not-object"),
    pytest.param({"cluster": '{"networkName": '}, "cluster", "not a JSON object", id="section-bad-json"),
    pytest.param({"clusters": {}}, "clusters", "did you mean cluster", id="top-level-typo"),
    pytest.param({"allow_disruption": True}, "allow_disruption", "did you mean allowDisruption", id="snake-case"),
    # ---- passwords ------------------------------------------------------------------------------------
    pytest.param(
        {"serviceAccountPassword": DELETE},
        "serviceAccountPassword",
        "pulumi config set --secret serviceAccountPassword",
        id="service-password-missing",
    ),
    pytest.param(
        {"serviceAccountPassword": "S" * 257}, "serviceAccountPassword", "longer than 256", id="service-password-long"
    ),
    pytest.param({"serviceAccountPassword": 1234}, "serviceAccountPassword", "must be text", id="password-number"),
    *[
        pytest.param(
            {key: f"Xml-Sentinel-{ch}-9f2e"},
            key,
            "XML 1.0 cannot carry",
            id=f"{key}-U+{ord(ch):04X}",
        )
        for key, chars in (
            ("serviceAccountPassword", "\x00\x01\x08\x0b\x0c\x0e\x1f\ud800\udfff\ufffe\uffff"),
            ("backupPassword", "\x02\x1b"),
            ("winrmPassword", "\x07\udc00"),
        )
        for ch in chars
    ],
]


@pytest.mark.parametrize(("changes", "key", "fragment"), RULES)
def test_rule(changes: dict[str, Any], key: str, fragment: str) -> None:
    found = problems(changed(base_config(), changes))
    at_key = [p for p in found if p.key == key]
    assert at_key, f"no problem at {key}; got {[str(p) for p in found]}"
    assert any(fragment in p.message for p in at_key), [str(p) for p in at_key]


def test_every_problem_of_a_row_is_keyed_as_written() -> None:
    """Keys are dotted camelCase as in the stack file, with [i] for list items; never Python field names."""
    for row in RULES:
        changes, _key, _fragment = row.values
        for p in problems(changed(base_config(), changes)):
            assert "_" not in p.key or p.key == "allow_disruption", p
            assert not p.key.startswith(("esso-cluster:", ".")), p
            assert p.message, p
            assert not p.message.startswith(("Value error", "Input should", "Extra inputs")), p


def test_independent_problems_are_reported_together() -> None:
    """A stack file with several bad keys gets them all at once, not one per run."""
    config = changed(
        base_config(),
        {
            "cluster.nodes[1]": "SSO 02",
            "database.server": "localhost",
            "transport.retries": 20,
            "escrow.bucket": "x",
            "sso.serviceAccount": "FABRIKAM\\svc",
        },
    )
    keys = {p.key for p in problems(config)}
    assert {"cluster.nodes[1]", "database.server", "transport.retries", "escrow.bucket", "sso.serviceAccount"} <= keys


def test_cross_section_rules_still_run_when_another_section_is_bad() -> None:
    config = changed(base_config(), {"database.server": "localhost", "winrmPassword": DELETE, "target": "winrm"})
    keys = {p.key for p in problems(config)}
    assert {"database.server", "winrmPassword"} <= keys


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"cluster.nodes": ["SSO01", "SSO02", "SSO03", "SSO-04"]}, id="four-nodes"),
        pytest.param({"cluster.nodes": ["A1", "b-2"], "cluster.dnsSuffix": DELETE}, id="short-names-no-suffix"),
        pytest.param({"cluster.networkName": "BIZTALK-SSO-015"}, id="network-name-15"),
        pytest.param(
            {
                "domain.name": "CONTOSO-EU",
                "sso.serviceAccount": "contoso-eu\\svc-entsso",
                "sso.configuringAccount": "CONTOSO-EU\\esso-config",
            },
            id="domain-hyphen",
        ),
        pytest.param({"sso.adminGroup": "BizTalk SSO Administrators (Production)"}, id="group-longer-than-20"),
        pytest.param({"sso.serviceAccount": "contoso\\SVC-ENTSSO-0123456"}, id="account-20-case-insensitive"),
        pytest.param({"database.server": "SQL01\\BTS_01$,1433"}, id="sql-instance-port"),
        pytest.param({"database.server": "sql-ag.contoso.com,50000"}, id="sql-fqdn-port"),
        pytest.param({"database.server": "10.0.0.30\\BTS"}, id="sql-ipv4"),
        pytest.param({"database.name": "1SSO DB"}, id="db-leading-digit-and-space"),
        pytest.param({"backup.path": "\\\\FS01\\ESSO$\\prod\\SSOSecret.BAK"}, id="backup-unc"),
        pytest.param({"escrow": {"kind": "s3", "bucket": "esso.escrow-01", "prefix": ""}}, id="s3-minimal"),
        pytest.param(
            {
                "escrow": {
                    "kind": "s3",
                    "bucket": "esso",
                    "kmsKeyId": "arn:aws:kms:us-gov-west-1:123456789012:alias/esso",
                    "region": "us-gov-west-1",
                    "passwordSecretId": "esso/prod/backup",
                },
                "backupPassword": DELETE,
            },
            id="s3-secret-id-instead-of-password",
        ),
        pytest.param({"escrow.path": "escrow-store"}, id="local-relative-to-project"),
        pytest.param({"escrow.path": "D:\\ESSO\\Escrow"}, id="local-windows"),
        pytest.param({"transport": CERT, "winrmPassword": DELETE}, id="certificate-auth-without-password"),
        pytest.param({"transport": {"auth": "credssp", "secondHop": "credssp"}}, id="credssp-hop"),
        pytest.param({"transport": {"auth": "kerberos", "secondHop": "kerberos-delegation"}}, id="kerberos-hop"),
        pytest.param(
            {"transport": {"auth": "ntlm", "ssl": False, "acceptWeakerTransport": ["http"]}}, id="ntlm-http-encrypted"
        ),
        pytest.param(
            {
                "transport": {
                    "auth": "ntlm",
                    "ssl": True,
                    "certValidation": False,
                    "acceptWeakerTransport": ["certValidation"],
                }
            },
            id="ntlm-https",
        ),
        pytest.param({"transport": {"readTimeout": 61, "operationTimeout": 60, "retries": 0, "backoff": 0}}, id="edge"),
        pytest.param(
            {
                "target": "simulator",
                "simulatorState": ".state/w.json",
                "winrmPassword": DELETE,
                "escrow.path": "/tmp/esso",
            },
            id="simulator-with-temporary-escrow",
        ),
        pytest.param({"serviceAccountPassword": "S" * 256}, id="password-256"),
        pytest.param({"serviceAccountPassword": "tab\tcr\rlf\n é €𝄞 <&>\"'"}, id="password-xml-legal"),
        pytest.param({"backup": {}, "escrow": {"path": "/srv/e"}, "failover": {}, "policy": {}}, id="empty-sections"),
        pytest.param(
            {
                "allowDisruption": "true",
                "transport.ssl": "false",
                "transport.port": 5985,
                "transport.acceptWeakerTransport": ["http"],
            },
            id="bool-text",
        ),
    ],
)
def test_valid_variations_are_accepted(changes: dict[str, Any]) -> None:
    from provider.spec import load_spec

    load_spec(changed(base_config(), changes))
