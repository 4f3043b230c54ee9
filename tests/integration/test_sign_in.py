"""Sign-in through the real Keycloak, end to end (issue 13): demo and self-registered members
and staff use the system through the gateway (JSON and gRPC) and the services directly with the
provider's tokens; a rotated realm key is trusted and the removed one refused without a restart
of any service or of Envoy; forged and foreign tokens are refused with nothing changed; and a
provider that stops mid-run leaves known keys working and recovers by itself."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from devtools.gateway_config import GatewayOptions
from devtools.processes import free_port
from tests.integration.conftest import ALL, CORE, accounts, system_under_test
from tests.integration.events_support import Mailbox
from tests.integration.gateway_support import JsonClient, booking, class_json, until
from tests.integration.identity_support import (
    ROOT,
    HeldKey,
    add_generated_key,
    auth_of,
    claims_like,
    disable_keys_except,
    import_held_key,
    now,
    own_realm,
    password_grant,
    signing_kid,
)
from tests.integration.support import a_class, error_details, request_id
from yoga.reservation.v1 import reservation_pb2 as rpb
from yoga.reservation.v1 import reservation_pb2_grpc
from yoga.yogaclass.v1 import yogaclass_pb2 as ypb
from yoga.yogaclass.v1 import yogaclass_pb2_grpc
from yoga_common.dev_accounts import DevAccounts, subject
from yoga_common.principal import ADMIN

# The gateway asks the provider for its keys this often in these tests (60 s in the chart).
JWKS_CACHE_SECONDS = 2
FAST_KEYS = GatewayOptions(jwks_cache_seconds=JWKS_CACHE_SECONDS)
CONFIRMED = "RESERVATION_STATUS_CONFIRMED"


def json_as(stack: Any, token: str | None) -> JsonClient:
    assert stack.envoy is not None
    return JsonClient("127.0.0.1", stack.envoy.listen_port, token)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


# --- members and staff sign in --------------------------------------------------------------


async def test_members_and_staff_signed_in_at_the_provider_use_the_system(
    tmp_path: Path,
) -> None:
    provider = accounts()
    staff = password_grant(provider.issuer, "admin@studio.example", provider_secret("demo-admin"))
    jiwoo = password_grant(provider.issuer, "jiwoo@studio.example", provider_secret("demo-member"))
    # A member who registered themselves (the registration form makes the same account).
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    password = uuid.uuid4().hex
    provider.admin(
        "POST",
        "users",
        {
            "username": email,
            "email": email,
            "firstName": "New",
            "lastName": "Member",
            "enabled": True,
            "credentials": [{"type": "password", "value": password, "temporary": False}],
        },
    )
    newcomer = password_grant(provider.issuer, email, password)
    mailbox = Mailbox(free_port())
    mailbox.start()
    try:
        with system_under_test(
            "sqlite",
            auth_of(provider),
            tmp_path,
            ALL,
            pending_grace=1.0,
            smtp_port=mailbox.port,
            gateway=True,
        ) as stack:
            created = json_as(stack, staff).ok("POST", "/v1/classes", class_json(3))
            class_id = created["yogaClass"]["classId"]

            # As JSON through Envoy: the member's id is the token's subject.
            as_json = json_as(stack, jiwoo).ok("POST", "/v1/reservations", booking(class_id))
            assert as_json["reservation"]["status"] == CONFIRMED
            assert as_json["reservation"]["userId"] == subject(jiwoo)

            # As gRPC through Envoy, with the self-registered member's token.
            assert stack.envoy is not None
            async with grpc.aio.insecure_channel(stack.envoy.target) as channel:
                reservations = reservation_pb2_grpc.ReservationServiceStub(channel)
                answer = await reservations.CreateReservation(
                    rpb.CreateReservationRequest(class_id=class_id, request_id=request_id()),
                    metadata=bearer(newcomer),
                )
                assert answer.reservation.status == rpb.RESERVATION_STATUS_CONFIRMED
                assert answer.reservation.user_id == subject(newcomer)
                # A member calling a staff method is refused by the service.
                classes = yogaclass_pb2_grpc.YogaClassServiceStub(channel)
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await classes.CreateClass(
                        ypb.CreateClassRequest(yoga_class=a_class()), metadata=bearer(newcomer)
                    )
                assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
                assert error_details(refused.value)[0] == "PERMISSION_DENIED"
            as_member = json_as(stack, jiwoo).post("/v1/classes", class_json())
            assert as_member.status == 403 and as_member.reason() == "PERMISSION_DENIED"

            # Each is notified at the address in their token, and `me` is their page.
            until(lambda: bool(mailbox.to(email)) and bool(mailbox.to("jiwoo@studio.example")))
            page = json_as(stack, newcomer).ok("GET", "/v1/users/me/mypage")
            assert page["userId"] == subject(newcomer)
            seats = json_as(stack, jiwoo).ok("GET", f"/v1/classes/{class_id}")
            assert seats["yogaClass"]["booked"] == 2
    finally:
        mailbox.stop()


def provider_secret(name: str) -> str:
    return accounts().secret(name)


# --- key rotation ----------------------------------------------------------------------------


async def test_a_rotated_key_is_trusted_and_the_removed_one_refused_without_restarts(
    tmp_path: Path,
) -> None:
    with (
        own_realm(accounts()) as realm,
        system_under_test(
            "sqlite", auth_of(realm), tmp_path, CORE, gateway=True, gateway_options=FAST_KEYS
        ) as stack,
    ):
        pids = stack.pids()
        before = realm.token("staff-1", ADMIN)
        assert json_as(stack, before).get("/v1/classes").status == 200
        async with grpc.aio.insecure_channel(stack.target("yogaclass")) as channel:
            classes = yogaclass_pb2_grpc.YogaClassServiceStub(channel)
            await classes.ListClasses(ypb.ListClassesRequest(), metadata=bearer(before))

            old_kid = signing_kid(realm)
            add_generated_key(realm, priority=1000)
            new_kid = signing_kid(realm)
            assert new_kid != old_kid
            assert old_kid in disable_keys_except(realm, new_kid)
            realm.forget_tokens()
            after = realm.token("staff-1", ADMIN)
            assert jwt.get_unverified_header(after)["kid"] == new_kid

            # The service asks the provider for the key it does not know, at once.
            await classes.ListClasses(ypb.ListClassesRequest(), metadata=bearer(after))
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await classes.ListClasses(ypb.ListClassesRequest(), metadata=bearer(before))
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            # The gateway, within its cache time.
            until(lambda: json_as(stack, after).get("/v1/classes").status == 200, within=15)
            until(lambda: json_as(stack, before).get("/v1/classes").status == 401, within=15)
            # A booking: reservation_svc's own token is the realm's too (client credentials).
            made = json_as(stack, after).ok("POST", "/v1/classes", class_json(2))
            member = realm.token("11")
            booked = json_as(stack, member).ok(
                "POST", "/v1/reservations", booking(made["yogaClass"]["classId"])
            )
            assert booked["reservation"]["status"] == CONFIRMED
        assert stack.pids() == pids  # nothing restarted


# --- refusals --------------------------------------------------------------------------------


def forged(realm: DevAccounts, held: HeldKey) -> dict[str, str]:
    """Tokens the system must refuse, by what is wrong with them. All but the first two are
    signed by a key the realm publishes or carry a real token's signature, so each is refused
    for exactly its fault."""
    real = realm.token("staff-1", ADMIN)
    good = claims_like(real)
    head, _, signature = real.split(".")
    public_jwk = realm.admin(
        "GET", "keys"
    )  # the realm's public key material, as an attacker sees it
    public_pem = next(k["publicKey"] for k in public_jwk["keys"] if k.get("algorithm") == "RS256")
    unsigned = jwt.encode(good, None, algorithm="none", headers={"kid": held.kid})
    hs_head = jwt.utils.base64url_encode(
        json.dumps({"alg": "HS256", "typ": "JWT", "kid": held.kid}).encode()
    ).decode()
    hs_body = jwt.utils.base64url_encode(json.dumps(good).encode()).decode()
    hs_sig = jwt.utils.base64url_encode(
        hmac.new(public_pem.encode(), f"{hs_head}.{hs_body}".encode(), hashlib.sha256).digest()
    ).decode()
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tampered = jwt.utils.base64url_encode(
        json.dumps({**good, "sub": "someone-else"}).encode()
    ).decode()
    return {
        "expired": held.sign(claims_like(real, iat=now() - 900, exp=now() - 600)),
        "not yet valid": held.sign(claims_like(real, nbf=now() + 600)),
        "another realm": accounts().token("staff-1", ADMIN),
        "no audience": held.sign(claims_like(real, aud="account")),
        "alg none": unsigned,
        "HS256 with the public key": f"{hs_head}.{hs_body}.{hs_sig}",
        "tampered payload": f"{head}.{tampered}.{signature}",
        "never published key": jwt.encode(
            good, stranger, algorithm="RS256", headers={"kid": f"k-{uuid.uuid4().hex}"}
        ),
    }


async def test_forged_and_foreign_tokens_are_refused_and_change_nothing(tmp_path: Path) -> None:
    with (
        own_realm(accounts()) as realm,
        system_under_test(
            "sqlite", auth_of(realm), tmp_path, CORE, gateway=True, gateway_options=FAST_KEYS
        ) as stack,
    ):
        held = import_held_key(realm)
        real = realm.token("staff-1", ADMIN)
        # The held key signs what the realm would: accepted, so each refusal below is for its
        # fault alone (the gateway sees the new key within its cache time).
        fine = held.sign(claims_like(real))
        until(lambda: json_as(stack, fine).get("/v1/classes").status == 200, within=15)
        made = json_as(stack, fine).ok("POST", "/v1/classes", class_json(2))["yogaClass"]
        tokens: dict[str, str | None] = {"no token": None, **forged(realm, held)}
        assert stack.envoy is not None
        async with (
            grpc.aio.insecure_channel(stack.target("yogaclass")) as channel,
            grpc.aio.insecure_channel(stack.envoy.target) as through_gateway,
        ):
            classes = yogaclass_pb2_grpc.YogaClassServiceStub(channel)
            gateway = yogaclass_pb2_grpc.YogaClassServiceStub(through_gateway)
            for fault, token in tokens.items():
                answer = json_as(stack, token).post("/v1/classes", class_json(2))
                assert answer.status == 401, (fault, answer)
                assert (answer.error()[0], answer.reason()) == (16, "UNAUTHENTICATED"), fault
                update = json_as(stack, token).call(
                    "PATCH", f"/v1/classes/{made['classId']}?updateMask=title", {"title": "X"}
                )
                assert update.status == 401, (fault, update)
                metadata = bearer(token) if token else ()
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await classes.CreateClass(
                        ypb.CreateClassRequest(yoga_class=a_class()), metadata=metadata
                    )
                assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, fault
                assert error_details(refused.value)[0] == "UNAUTHENTICATED", fault
                with pytest.raises(grpc.aio.AioRpcError) as at_the_edge:
                    await gateway.CreateClass(
                        ypb.CreateClassRequest(yoga_class=a_class()), metadata=metadata
                    )
                assert at_the_edge.value.code() == grpc.StatusCode.UNAUTHENTICATED, fault
            listed = await classes.ListClasses(ypb.ListClassesRequest(), metadata=bearer(real))
        assert [(c.class_id, c.title) for c in listed.yoga_classes] == [
            (made["classId"], made["title"])
        ]


# --- the provider stops mid-run --------------------------------------------------------------


@pytest.fixture
def second_provider(tmp_path: Path) -> Iterator[tuple[DevAccounts, dict[str, str]]]:
    """A Keycloak of this test's own (stopping the shared one would disturb the others)."""
    env = {
        **os.environ,
        "KEYCLOAK_DIR": str(tmp_path / "keycloak"),
        "KEYCLOAK_PORT": str(free_port()),
        "KEYCLOAK_MANAGEMENT_PORT": str(free_port()),
    }
    script = str(ROOT / "scripts" / "keycloak.sh")
    try:
        # A start that fails says why (the script's stderr), and what it launched is stopped.
        keycloak(env, "start")
        issuer = subprocess.run(
            [script, "url"], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        yield DevAccounts(issuer, tmp_path / "keycloak" / "secrets"), env
    finally:
        subprocess.run([script, "stop"], env=env, check=False, capture_output=True)


def keycloak(env: dict[str, str], command: str) -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / "keycloak.sh"), command], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


async def test_a_provider_outage_keeps_known_keys_working_and_recovers_by_itself(
    tmp_path: Path, second_provider: tuple[DevAccounts, dict[str, str]]
) -> None:
    provider, env = second_provider
    with system_under_test(
        "sqlite", auth_of(provider), tmp_path, CORE, gateway=True, gateway_options=FAST_KEYS
    ) as stack:
        pids = stack.pids()
        staff, member = provider.token("staff-1", ADMIN), provider.token("11")
        made = json_as(stack, staff).ok("POST", "/v1/classes", class_json(5))["yogaClass"]
        first = json_as(stack, member).ok("POST", "/v1/reservations", booking(made["classId"]))
        assert first["reservation"]["status"] == CONFIRMED
        # A key added just before the outage: its tokens name a kid nobody has fetched yet.
        add_generated_key(provider, priority=1000)
        provider.forget_tokens()
        fresh = provider.token("12")

        keycloak(env, "stop")
        async with grpc.aio.insecure_channel(stack.target("yogaclass")) as channel:
            classes = yogaclass_pb2_grpc.YogaClassServiceStub(channel)
            # Known keys keep working, through the gateway (past its cache time) and directly.
            await asyncio.sleep(JWKS_CACHE_SECONDS * 2)
            # Cancelling frees the seat through reservation_svc's call with its kept token.
            mine = first["reservation"]["reservationId"]
            cancelled = json_as(stack, member).ok("POST", f"/v1/reservations/{mine}:cancel")
            assert cancelled["reservation"]["status"] == "RESERVATION_STATUS_CANCELLED"
            await classes.GetClass(
                ypb.GetClassRequest(class_id=made["classId"]), metadata=bearer(staff)
            )
            # A key the provider cannot be asked about now is refused, never an error of ours.
            refused_json = json_as(stack, fresh).get(f"/v1/classes/{made['classId']}")
            assert refused_json.status == 401 and refused_json.reason() == "UNAUTHENTICATED"
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await classes.GetClass(
                    ypb.GetClassRequest(class_id=made["classId"]), metadata=bearer(fresh)
                )
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

            keycloak(env, "start")
            until(
                lambda: json_as(stack, fresh).get(f"/v1/classes/{made['classId']}").status == 200,
                within=30,
            )
            deadline = time.monotonic() + 30
            while True:
                try:
                    await classes.GetClass(
                        ypb.GetClassRequest(class_id=made["classId"]), metadata=bearer(fresh)
                    )
                    break
                except grpc.aio.AioRpcError as err:
                    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
                    assert time.monotonic() < deadline, "the service never fetched the new key"
                    await asyncio.sleep(1)
        booked = json_as(stack, fresh).ok("POST", "/v1/reservations", booking(made["classId"]))
        assert booked["reservation"]["status"] == CONFIRMED
        assert stack.pids() == pids
