"""Bearer tokens end when rights change, logout, one key per purpose, and the notifier's narrow
e-mail reply credential (intake in-process on real PostgreSQL; SPEC §6)."""
from __future__ import annotations

import io

import pytest

from harness import login
from helpdesk_shared import link_tokens, pg
from samples import png, ticket_body

pytestmark = pytest.mark.integration

MARIA = "maria@clubcaracas.com.ve"


def _user_id(app, email: str) -> str:
    with pg.connect(app.extensions["intake"].config.database_url) as conn:
        return conn.execute("select id from users where email = %s", (email,)).fetchone()["id"]


def _events(app, type_: str) -> list[dict]:
    with pg.connect(app.extensions["intake"].config.database_url) as conn:
        return conn.execute("select stream_id, convert_from(payload, 'UTF8')::jsonb -> 'data' as data from events where type = %s order by global_position",
                            (type_,)).fetchall()


def _tickets(client, headers) -> int:
    return client.post("/api/tickets", json=ticket_body(), headers=headers).status_code


# ---------------------------------------------------------------- tokens die when rights change

def test_a_disabled_users_token_is_refused_at_once_and_he_cannot_log_in_again(intake_app, clock):
    client = intake_app.test_client()
    maria = login(client, MARIA)
    supervisor = login(client, "supervisor@mesa.example")
    clock.advance(seconds=1)
    r = client.patch(f"/api/users/{_user_id(intake_app, MARIA)}", json={"disabled": True}, headers=supervisor)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["disabled"] is True
    assert _tickets(client, maria) == 401
    refused = client.post("/api/auth/login", json={"email": MARIA, "password": "mesa-demo"})
    assert refused.status_code == 403 and refused.get_json()["code"] == "ACCOUNT_DISABLED"
    revoked = _events(intake_app, "BearerTokensRevoked")
    assert [e["data"]["reason"] for e in revoked] == ["rights_changed"]
    assert revoked[0]["data"]["user_id"] == _user_id(intake_app, MARIA)


def test_an_enabled_again_user_logs_in_with_a_fresh_token(intake_app, clock):
    client = intake_app.test_client()
    supervisor = login(client, "supervisor@mesa.example")
    user = f"/api/users/{_user_id(intake_app, MARIA)}"
    assert client.patch(user, json={"disabled": True}, headers=supervisor).status_code == 200
    clock.advance(seconds=1)
    assert client.patch(user, json={"disabled": False}, headers=supervisor).status_code == 200
    clock.advance(seconds=1)
    assert _tickets(client, login(client, MARIA)) == 201


@pytest.mark.parametrize("change", [{"role": "agent", "organisation_id": None}, {"desks": ["IMPLANTACIONES"]},
                                    {"organisation_id": "country-valencia"}],
                         ids=["role", "desks", "organisation"])
def test_changing_role_desks_or_organisation_ends_the_users_tokens(intake_app, clock, change):
    client = intake_app.test_client()
    maria = login(client, MARIA)
    clock.advance(seconds=1)
    r = client.patch(f"/api/users/{_user_id(intake_app, MARIA)}", json=change,
                     headers=login(client, "supervisor@mesa.example"))
    assert r.status_code == 200, r.get_json()
    assert {k: r.get_json()[k] for k in change} == change
    assert _tickets(client, maria) == 401
    updated = _events(intake_app, "UserUpdated")
    assert len(updated) == 1 and all(updated[0]["data"][k] == v for k, v in change.items())


def test_a_change_that_changes_nothing_keeps_the_tokens(intake_app, clock):
    client = intake_app.test_client()
    maria = login(client, MARIA)
    clock.advance(seconds=1)
    r = client.patch(f"/api/users/{_user_id(intake_app, MARIA)}", json={"disabled": False, "desks": ["SOPORTE"]},
                     headers=login(client, "supervisor@mesa.example"))
    assert r.status_code == 200
    assert _tickets(client, maria) == 201
    assert _events(intake_app, "BearerTokensRevoked") == []


@pytest.mark.parametrize("email", ["carlos@mesa.example", MARIA])
def test_only_a_supervisor_changes_users(intake_app, email):
    client = intake_app.test_client()
    r = client.patch(f"/api/users/{_user_id(intake_app, 'jose@clubcaracas.com.ve')}", json={"disabled": True},
                     headers=login(client, email))
    assert r.status_code == 403
    assert _tickets(client, login(client, "jose@clubcaracas.com.ve")) == 201


@pytest.mark.parametrize("body, field", [
    ({"disabled": "true"}, "disabled"), ({"role": "admin"}, "role"), ({"desks": []}, "desks"),
    ({"desks": ["VENTAS"]}, "desks"), ({"organisation_id": "nowhere"}, "organisation_id"),
    ({"password": "x"}, "password"), ({}, None)])
def test_a_bad_user_change_is_a_422_naming_the_field_and_changes_nothing(intake_app, body, field):
    client = intake_app.test_client()
    maria = login(client, MARIA)
    r = client.patch(f"/api/users/{_user_id(intake_app, MARIA)}", json=body,
                     headers=login(client, "supervisor@mesa.example"))
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["field"] == field and r.get_json()["message"]["es"] and r.get_json()["message"]["en"]
    assert _tickets(client, maria) == 201
    assert _events(intake_app, "UserUpdated") == []


def test_an_unknown_user_is_a_404(intake_app):
    client = intake_app.test_client()
    r = client.patch("/api/users/nobody", json={"disabled": True}, headers=login(client, "supervisor@mesa.example"))
    assert r.status_code == 404


def test_logout_ends_the_token_and_a_later_login_works(intake_app, clock):
    client = intake_app.test_client()
    maria = login(client, MARIA)
    assert client.post("/api/auth/logout", headers=maria).status_code == 204
    assert _tickets(client, maria) == 401
    assert client.post("/api/auth/logout", headers=maria).status_code == 401
    clock.advance(seconds=1)
    assert _tickets(client, login(client, MARIA)) == 201
    assert [e["data"]["reason"] for e in _events(intake_app, "BearerTokensRevoked")] == ["logout"]


def test_setting_a_new_password_through_the_link_ends_the_old_tokens(intake_app, clock):
    client = intake_app.test_client()
    maria = login(client, MARIA)
    config = intake_app.extensions["intake"].config
    clock.advance(seconds=1)
    token = link_tokens.sign(config.link_secret, link_tokens.PASSWORD,
                             {"u": _user_id(intake_app, MARIA), "i": int(clock().timestamp())}, clock(), 3600)
    clock.advance(seconds=1)
    assert client.post(f"/set-password/{token}", data={"password": "otra-clave-larga"}).status_code == 200
    assert _tickets(client, maria) == 401
    clock.advance(seconds=1)
    assert _tickets(client, login(client, MARIA, "otra-clave-larga")) == 201


# ---------------------------------------------------------------- one key per purpose

def test_a_link_token_or_the_inbound_secret_presented_as_a_bearer_token_is_refused(intake_app, clock):
    client = intake_app.test_client()
    config = intake_app.extensions["intake"].config
    link = link_tokens.sign(config.link_secret, link_tokens.RESOLUTION, {"t": "SOP-1", "u": _user_id(intake_app, MARIA)},
                            clock(), 3600)
    for credential in (link, config.inbound_secret, config.token_signing_key):
        r = client.post("/api/tickets", json=ticket_body(), headers={"Authorization": f"Bearer {credential}"})
        assert r.status_code == 401, credential


def test_a_one_click_link_signed_with_another_purposes_key_is_refused(intake_app, clock):
    client = intake_app.test_client()
    config = intake_app.extensions["intake"].config
    claims = {"t": "SOP-1", "u": _user_id(intake_app, MARIA)}
    for key in (config.inbound_secret, config.token_signing_key):
        token = link_tokens.sign(key, link_tokens.RESOLUTION, claims, clock(), 3600)
        assert client.get(f"/resolve/{token}").status_code == 400
    good = link_tokens.sign(config.link_secret, link_tokens.RESOLUTION, claims, clock(), 3600)
    assert client.get(f"/resolve/{good}").status_code == 200


# ---------------------------------------------------------------- the notifier's narrow credential

def _reply(client, config, number: str, user_id: str, body: str = "Sigue fallando.", key: str = "mail-1",
           files=None, secret: str | None = None):
    data = {"ticket": number, "user_id": user_id, "body": body}
    if files:
        data["file"] = files
    return client.post("/api/internal/email-replies", data=data, content_type="multipart/form-data",
                       headers={"Authorization": f"Inbound {secret or config.inbound_secret}",
                                "Idempotency-Key": key})


def test_an_email_reply_is_posted_as_the_customers_message_once_per_key(intake_app):
    client = intake_app.test_client()
    config = intake_app.extensions["intake"].config
    maria = login(client, MARIA)
    number = client.post("/api/tickets", json=ticket_body(), headers=maria).get_json()["number"]
    def files():
        return [(io.BytesIO(png()), "pantalla.png"), (io.BytesIO(b"MZ\x90\x00" + b"\x00" * 64), "virus.exe")]
    first = _reply(client, config, number, _user_id(intake_app, MARIA), files=files())
    assert first.status_code == 201, first.get_json()
    again = _reply(client, config, number, _user_id(intake_app, MARIA), files=files())  # the mail server retries
    assert again.get_json() == first.get_json()
    other = _reply(client, config, number, _user_id(intake_app, MARIA), body="Otro texto.")
    assert other.status_code == 422 and other.get_json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    posted = _events(intake_app, "MessagePosted")
    assert len(posted) == 1
    data = posted[0]["data"]
    assert (data["author_id"], data["author_role"], data["internal"]) == (_user_id(intake_app, MARIA), "customer",
                                                                         False)
    assert [a["name"] for a in data["attachments"]] == ["pantalla.png"]
    assert "virus.exe" in data["body"]


def test_the_email_reply_route_needs_the_inbound_secret_not_a_bearer_token(intake_app):
    client = intake_app.test_client()
    config = intake_app.extensions["intake"].config
    maria = login(client, MARIA)
    number = client.post("/api/tickets", json=ticket_body(), headers=maria).get_json()["number"]
    user_id = _user_id(intake_app, MARIA)
    assert _reply(client, config, number, user_id, secret="x" * 48).status_code == 401
    r = client.post("/api/internal/email-replies", data={"ticket": number, "user_id": user_id, "body": "hola"},
                    headers=maria)
    assert r.status_code == 401
    assert _events(intake_app, "MessagePosted") == []


def test_the_email_reply_credential_cannot_post_for_staff_or_into_another_organisations_ticket(intake_app):
    client = intake_app.test_client()
    config = intake_app.extensions["intake"].config
    number = client.post("/api/tickets", json=ticket_body(),
                         headers=login(client, MARIA)).get_json()["number"]
    assert _reply(client, config, number, _user_id(intake_app, "carlos@mesa.example")).status_code == 403
    assert _reply(client, config, number, _user_id(intake_app, "ana@countryvalencia.com.ve")).status_code == 404
    assert _reply(client, config, number, "nobody").status_code == 403
    assert _events(intake_app, "MessagePosted") == []


def test_a_disabled_customers_email_reply_is_refused(intake_app, clock):
    client = intake_app.test_client()
    config = intake_app.extensions["intake"].config
    number = client.post("/api/tickets", json=ticket_body(), headers=login(client, MARIA)).get_json()["number"]
    client.patch(f"/api/users/{_user_id(intake_app, MARIA)}", json={"disabled": True},
                 headers=login(client, "supervisor@mesa.example"))
    assert _reply(client, config, number, _user_id(intake_app, MARIA)).status_code == 403
