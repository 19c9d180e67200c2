"""The deployable console (issue 17): template.yaml's EnableConsole resources, and the files.

The bucket is private and read only by its distribution; the distribution is HTTPS only with a
strict Content-Security-Policy, the same one ``app-tokens serve`` sends (devtools/console.py);
the API's CORS names exactly the console's origin. The console's files stay local and have no
inline script or style, which that policy would refuse anyway.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from devtools.console import CONSOLE_DIR, CSP_TEMPLATE, console_reply, local_config
from devtools.template import load_template

CONSOLE_RESOURCES = {
    "ConsoleBucket",
    "ConsoleBucketPolicy",
    "ConsoleOriginAccessControl",
    "ConsoleHeadersPolicy",
    "ConsoleDistribution",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _props(template: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(template["Resources"][name]["Properties"])


def test_every_console_resource_exists_only_with_enable_console(template: dict[str, Any]) -> None:
    assert template["Parameters"]["EnableConsole"]["Default"] == "false"
    assert template["Conditions"]["ConsoleEnabled"] == {"Fn::Equals": [{"Ref": "EnableConsole"}, "true"]}
    for name in CONSOLE_RESOURCES:
        assert template["Resources"][name]["Condition"] == "ConsoleEnabled", name
    assert template["Outputs"]["ConsoleUrl"]["Condition"] == "ConsoleEnabled"


def test_the_bucket_is_private_and_encrypted(template: dict[str, Any]) -> None:
    bucket = _props(template, "ConsoleBucket")
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_only_the_distribution_reads_the_bucket(template: dict[str, Any]) -> None:
    statements = _props(template, "ConsoleBucketPolicy")["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert len(allows) == 1
    [allow] = allows
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    source = allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert source.endswith(":distribution/${ConsoleDistribution}")
    [deny] = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    oac = _props(template, "ConsoleOriginAccessControl")["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"]) == ("s3", "always")


def test_the_distribution_is_https_only_behind_the_headers_policy(template: dict[str, Any]) -> None:
    config = _props(template, "ConsoleDistribution")["DistributionConfig"]
    [origin] = config["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["ConsoleOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "https-only"
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
    assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "ConsoleHeadersPolicy"}
    assert config["DefaultRootObject"] == "index.html"


def test_the_headers_policy_is_the_local_one_with_the_api_as_its_only_connection(
    template: dict[str, Any],
) -> None:
    security = _props(template, "ConsoleHeadersPolicy")["ResponseHeadersPolicyConfig"][
        "SecurityHeadersConfig"
    ]
    policy = " ".join(security["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"].split())
    api = "https://${AppTokensApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
    assert policy == CSP_TEMPLATE.format(api=api)
    assert "unsafe" not in policy and "*" not in policy
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert all(part["Override"] for part in security.values())


def test_the_api_cors_allows_exactly_the_console_origin(template: dict[str, Any]) -> None:
    cors = _props(template, "AppTokensApi")["Cors"]["Fn::If"]
    assert cors[0] == "ConsoleCorsEnabled" and cors[2] == {"Ref": "AWS::NoValue"}
    assert cors[1]["AllowOrigin"] == {"Fn::Sub": "'${ConsoleOrigin}'"}
    assert "*" not in str(cors[1])
    environment = template["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["CONSOLE_ORIGIN"] == {"Fn::If": ["ConsoleCorsEnabled", {"Ref": "ConsoleOrigin"}, ""]}
    pattern = template["Parameters"]["ConsoleOrigin"]["AllowedPattern"]
    assert re.fullmatch(pattern, "https://d111111abcdef8.cloudfront.net")
    for refused in ("*", "http://d1.cloudfront.net", "https://d1.cloudfront.net/", "https://*.example"):
        assert not re.fullmatch(pattern, refused), refused


def test_the_console_files_are_local_with_no_inline_code() -> None:
    page = (CONSOLE_DIR / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "an inline script"
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", page), "an inline style or handler"
    for source in (
        CONSOLE_DIR / name for name in ("index.html", "app.js", "api.js", "format.js", "styles.css")
    ):
        text = source.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), source
        assert not re.search(
            r"localStorage|sessionStorage|document\.cookie|indexedDB|history\.(push|replace)State", text
        )


def test_the_local_server_serves_only_the_console_files(monkeypatch: pytest.MonkeyPatch) -> None:
    status, headers, body = console_reply("GET", "/console/")
    assert status == 200 and body.startswith(b"<!doctype html>")
    assert dict(headers)["Content-Security-Policy"] == CSP_TEMPLATE.format(api="'self'")
    assert console_reply("GET", "/console")[0] == 301
    for escape in (
        "/console/../pyproject.toml",
        "/console/..%2fMakefile",
        "/console/nope.js",
        "/console/console",
    ):
        assert console_reply("GET", escape)[0] == 404, escape
    assert console_reply("POST", "/console/")[0] == 405
    monkeypatch.setenv("MAX_TOKEN_LIFETIME_DAYS", "30")
    assert local_config() == 'export default {"apiUrl": "", "maxTokenLifetimeDays": 30};\n'
