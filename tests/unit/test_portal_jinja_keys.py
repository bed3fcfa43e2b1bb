"""The portal's Jinja environment reads a dict's keys first (`t.number`), methods only when no key."""
from configs import portal_config
from portal.app import PortalEnvironment, create_app


def test_the_portal_renders_with_its_environment_and_a_dicts_key_wins_over_its_method_name():
    app = create_app(portal_config("http://intake.invalid", "http://query.invalid"))
    assert isinstance(app.jinja_env, PortalEnvironment)
    with app.app_context():
        template = app.jinja_env.from_string(
            "{{ t.number }}|{{ t.items | join(',') }}|{{ t.get('missing', 'no') }}|{{ t.nothing is undefined }}")
        assert template.render(t={"number": "SOP-1", "items": ["a", "b"]}) == "SOP-1|a,b|no|True"


def test_objects_other_than_dicts_keep_jinjas_attribute_lookup():
    class Ticket:
        number = "SOP-2"

    app = create_app(portal_config("http://intake.invalid", "http://query.invalid"))
    with app.app_context():
        assert app.jinja_env.from_string("{{ t.number }}|{{ d.items() | list }}").render(
            t=Ticket(), d={"a": 1}) == "SOP-2|[(&#39;a&#39;, 1)]"
