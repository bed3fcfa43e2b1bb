"""The bench's yardstick: a bare Flask app that validates a ~1 KB ticket-shaped JSON body with
marshmallow and answers 201, nothing else (no database, no auth, no Kafka).

Run as `gunicorn --pythonpath bench 'bare_app:create_app()'`; bench/intake_throughput.py starts it
with intake's worker count and drives it with the same load generator and body as intake.
"""
from __future__ import annotations

import itertools

from flask import Flask, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate

DESKS = ("SOPORTE", "IMPLANTACIONES")
URGENCIES = ("normal", "platform_down", "member_billing_stopped", "announced_special_process")


class ContactSchema(Schema):
    """Name, e-mail and phone of whoever follows the ticket."""

    name = fields.String(required=True, validate=validate.Length(1, 200))
    email = fields.Email(required=True)
    phone = fields.String(required=True, validate=validate.Regexp(r"^\+?[\d\s().\-/]{7,30}$"))


class TicketSchema(Schema):
    """The fields of intake's POST /api/tickets body, checked for shape only."""

    desk = fields.String(required=True, validate=validate.OneOf(DESKS))
    subject = fields.String(required=True, validate=[validate.Length(5, 300), validate.Regexp(r"^[^,]+,.+")])
    description = fields.String(required=True, validate=validate.Length(40, 20_000))
    contact = fields.Nested(ContactSchema, required=True)
    member_number = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9-]{1,20}$"))
    dates = fields.List(fields.Date(), validate=validate.Length(max=50))
    vouchers = fields.List(fields.String(validate=validate.Length(1, 50)), validate=validate.Length(max=50))
    menu_path = fields.String(validate=validate.Length(max=300))
    urgency = fields.String(load_default="normal", validate=validate.OneOf(URGENCIES))
    confirmed_different_case = fields.Boolean(load_default=False)


def create_app() -> Flask:
    """The bare app: POST /tickets validates and answers 201; GET /healthz for the starter."""
    app = Flask(__name__)
    schema = TicketSchema()
    ids = itertools.count(1)

    @app.post("/tickets")
    def accept_ticket():
        try:
            ticket = schema.load(request.get_json(silent=True) or {})
        except ValidationError as err:
            return jsonify({"errors": err.messages}), 422
        return jsonify({"id": next(ids), "desk": ticket["desk"]}), 201

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    return app
