"""Where a webhook may point (SSRF), checked on resolved addresses; and signing, checked by standardwebhooks."""
from __future__ import annotations

import base64
import ipaddress

import pytest
from standardwebhooks import Webhook

from schema.webhooks import urls as webhook_urls
from service.config import WebhookSettings
from service.events import webhook_sender

from .receiver import Receiver, check_signature

REFUSED = [
    "http://127.0.0.1/hook", "http://127.1.2.3:8080/hook", "http://[::1]/hook", "http://[::ffff:127.0.0.1]/x",
    "http://10.0.0.5/hook", "http://172.16.3.4/hook", "http://192.168.1.1/hook", "http://100.64.0.1/hook",
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/hook", "http://[fd00:ec2::254]/",
    "http://0.0.0.0/hook", "http://224.0.0.1/hook", "http://240.0.0.1/hook", "http://[ff02::1]/hook",
    "http://localhost/hook", "http://LOCALHOST:8000/hook", "http://api.localhost/hook", "http://localhost./hook",
    "http://metadata.google.internal/computeMetadata/v1/",
]
NOT_HTTP = ["ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/", "javascript:alert(1)",
            "example.com/hook", "http:///nohost", "https://exa mple.com/"]


@pytest.mark.parametrize("url", REFUSED)
async def test_private_loopback_link_local_metadata_and_local_names_are_refused(url):
    with pytest.raises(webhook_urls.UnsafeUrl) as refused:
        await webhook_urls.check(url, allow_private=False)
    assert "public addresses only" in str(refused.value)


@pytest.mark.parametrize("url", NOT_HTTP)
async def test_only_http_and_https(url):
    with pytest.raises(webhook_urls.UnsafeUrl):
        await webhook_urls.check(url, allow_private=True)


async def test_public_addresses_pass_and_the_allow_flag_opens_private_ones_but_never_metadata():
    target = await webhook_urls.check("https://93.184.215.14:8443/hooks?x=1", allow_private=False)
    assert (target.scheme, target.port, target.addresses) == ("https", 8443, (ipaddress.ip_address("93.184.215.14"),))
    assert (await webhook_urls.check("http://127.0.0.1:9/x", allow_private=True)).port == 9
    assert (await webhook_urls.check("http://localhost:9/x", allow_private=True)).addresses
    with pytest.raises(webhook_urls.UnsafeUrl, match="metadata"):
        await webhook_urls.check("http://169.254.169.254/", allow_private=True)


async def test_a_name_is_judged_by_every_address_it_resolves_to(monkeypatch):
    async def rebinding(host, port):  # a public name whose DNS answer now includes an inside address
        return (ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("10.1.2.3"))

    monkeypatch.setattr(webhook_urls, "resolve", rebinding)
    with pytest.raises(webhook_urls.UnsafeUrl, match="10.1.2.3 is a private"):
        await webhook_urls.check("https://hooks.example.com/x", allow_private=False)


async def test_an_unresolvable_name_is_refused():
    with pytest.raises(webhook_urls.UnsafeUrl, match="does not resolve"):
        await webhook_urls.check("https://no-such-host.invalid/x", allow_private=False)


async def test_the_secret_is_whsec_and_32_random_bytes():
    secrets = {webhook_sender.new_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 32


async def test_a_send_is_signed_so_that_standardwebhooks_verifies_it():
    secret = webhook_sender.new_secret()
    receiver = await Receiver(secret=secret).up()
    settings = WebhookSettings(allow_private=True, timeout_s=2)
    try:
        async with webhook_sender.client(settings) as http:
            outcome = await webhook_sender.send(http, settings, receiver.url, secret, "msg_1", '{"type":"x"}')
        assert outcome.ok and outcome.status_code == 200 and outcome.error is None
        [got] = receiver.requests
        check_signature(secret, got)
        assert got.headers["webhook-id"] == "msg_1" and got.headers["content-type"] == "application/json"
        assert got.headers["host"] == f"127.0.0.1:{receiver.port}"
        with pytest.raises(Exception):
            Webhook(webhook_sender.new_secret()).verify(got.body, got.headers)  # another secret does not verify
    finally:
        await receiver.down()


async def test_at_send_time_a_private_address_is_refused_without_the_flag():
    receiver = await Receiver().up()
    settings = WebhookSettings(allow_private=False, timeout_s=2)
    try:
        async with webhook_sender.client(settings) as http:
            outcome = await webhook_sender.send(http, settings, receiver.url, webhook_sender.new_secret(), "m", "{}")
        assert not outcome.ok and outcome.status_code is None and "loopback" in outcome.error
        assert receiver.requests == []
    finally:
        await receiver.down()


async def test_redirects_are_not_followed_and_errors_say_why():
    receiver = await Receiver(status=302).up()
    settings = WebhookSettings(allow_private=True, timeout_s=2)
    try:
        async with webhook_sender.client(settings) as http:
            redirected = await webhook_sender.send(http, settings, receiver.url, webhook_sender.new_secret(), "m", "{}")
            receiver.status = 500
            failed = await webhook_sender.send(http, settings, receiver.url, webhook_sender.new_secret(), "m", "{}")
            await receiver.down()
            refused = await webhook_sender.send(http, settings, receiver.url, webhook_sender.new_secret(), "m", "{}")
        assert (redirected.ok, redirected.status_code) == (False, 302) and "redirects" in redirected.error
        assert (failed.ok, failed.status_code, failed.error) == (False, 500, "HTTP 500: ok")
        assert (refused.ok, refused.status_code) == (False, None) and "ConnectError" in refused.error
    finally:
        await receiver.down()


async def test_a_receiver_that_hangs_is_cut_off_at_the_total_timeout():
    receiver = await Receiver(delay=5).up()
    settings = WebhookSettings(allow_private=True, timeout_s=0.5, connect_timeout_s=0.2)
    try:
        async with webhook_sender.client(settings) as http:
            outcome = await webhook_sender.send(http, settings, receiver.url, webhook_sender.new_secret(), "m", "{}")
        assert not outcome.ok and "timed out" in outcome.error and outcome.latency_ms < 1500
    finally:
        await receiver.down()
