"""What the router writes for a newcomer keeps what an agent or an automation changed
after the router read the row (regression: an automation's tag on a message's arrival
was lost when the router's first route, computed earlier, was written over it)."""

from hub.dispatch.admission import settled_route


def test_nothing_changed_meanwhile_writes_the_computed_route() -> None:
    computed = {"waiting_since": "t", "tags": ["vip"], "department": "sales"}
    assert settled_route({"tags": []}, computed, {"tags": []}) is computed


def test_tags_and_a_department_set_meanwhile_stay_beside_the_rules() -> None:
    read = {"tags": ["old"]}
    computed = {"waiting_since": "t", "tags": ["old", "vip"], "department": "sales"}
    current = {"tags": ["old", "billing"], "department": "billing"}
    assert settled_route(read, computed, current) == {
        "waiting_since": "t",
        "tags": ["old", "billing", "vip"],
        "department": "billing",
    }


def test_a_tag_removed_meanwhile_stays_removed() -> None:
    read = {"tags": ["old"]}
    computed = {"waiting_since": "t", "tags": ["old"]}
    assert settled_route(read, computed, {"tags": []}) == {"waiting_since": "t"}
    fresh = settled_route(None, {"waiting_since": "t"}, {"tags": ["x"]})
    assert fresh == {"waiting_since": "t", "tags": ["x"]}
