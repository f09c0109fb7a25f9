"""What each broken variant of the catalogue must be caught by: the checks whose final assertion
fails against it (`check_name` form, `suite::test`), measured and reviewed. `rr-harness mutate`
holds every variant to exactly these (`harness.mutation.runner`)."""

from __future__ import annotations

# The mutation table: the checks that must catch each broken variant through their final
# assertion (measured, then reviewed: each catch is the rule the variant breaks, or a rule that
# the same breakage really violates). `STARTUP` when sessions the design implies never come up.
STARTUP = "start-up::every-session-established"
_TOR_EVPN = "hybrid-flows::test_external_evpn_from_the_tor_reaches_the_other_routers_through_the_rr"
_REACH = (
    "reflection::test_evpn_routes_reach_every_client_via_every_rr",
    "reflection::test_new_route_and_its_withdrawal_reach_every_client",
    "reflection::test_vtep_routes_reach_every_router_via_every_rr",
    "hybrid-flows::test_internal_evpn_reaches_the_other_routers_through_the_rr",
    _TOR_EVPN,
    "cloud-router::test_evpn_keeps_flowing_between_routers_through_the_rrs",
    "cloud-router::test_router_routes_reach_the_cloud_router",
    "loop-prevention::test_route_with_foreign_cluster_id_is_reflected_with_own_prepended",
)
_ATTRIBUTES = "attributes::test_reflected_attributes_equal_what_the_client_sent"
_ROUTER_SENT = "reflection::test_reflected_paths_carry_every_attribute_the_router_sent"
# An RR rewriting an attribute the routers send too: the crafted client's route, the routers'
# own routes and the ToR's route (as router-1 sent it) all show it.
_REWRITTEN = (_ATTRIBUTES, _TOR_EVPN, _ROUTER_SENT)
EXPECTED: dict[str, tuple[str, ...]] = {
    "rr-without-route-reflector-client": (
        *_REACH,
        "reflection-rules::test_client_routes_reach_non_clients",
        "reflection-rules::test_non_client_routes_reach_clients",
    ),
    "client-to-client-reflection-disabled": _REACH,
    "next-hop-self-on-rr": (*_REWRITTEN, "reflection::test_reflected_paths_keep_the_vtep_next_hop"),
    "per-replica-cluster-ids": (
        _TOR_EVPN,
        "loop-prevention::test_replicas_reflect_with_the_same_cluster_list",
        "loop-prevention::test_route_reflected_by_one_replica_is_dropped_by_the_other",
        "loop-prevention::test_route_with_foreign_cluster_id_is_reflected_with_own_prepended",
        "loop-prevention::test_route_with_own_cluster_id_is_not_reflected",
        "reflection-rules::test_routes_reflected_to_non_clients_carry_originator_id_and_cluster_list",
        "reflection::test_reflected_paths_carry_originator_id_and_cluster_list",
    ),
    "rr-route-map-rewriting-local-pref": _REWRITTEN,
    # The routers send ORIGIN IGP, what the variant sets: only the crafted route shows it.
    "rr-route-map-rewriting-origin": (_ATTRIBUTES,),
    "rr-route-map-adding-med": (
        *_REWRITTEN,
        "attributes::test_a_route_without_med_arrives_without_med",
    ),
    "rr-route-map-adding-communities": _REWRITTEN,
    "rr-route-map-rewriting-aggregator": _REWRITTEN,
    "listen-range-too-narrow": (STARTUP,),
    "listen-range-too-wide": (
        "listen-range::test_would_be_client_outside_the_pod_cidr_gets_no_session",
        "sessions::test_the_sessions_are_exactly_those_the_design_implies",
    ),
    "listen-range-accepts-any-as": (
        "listen-range::test_would_be_client_in_the_wrong_as_gets_no_session",
        "sessions::test_the_sessions_are_exactly_those_the_design_implies",
    ),
    "non-clients-configured-as-clients": (
        "reflection-rules::test_non_client_routes_are_not_reflected_to_other_non_clients",
    ),
    "allowas-in-on-ibgp": (
        "allowas-in::test_route_from_an_rr_with_the_local_asn_is_rejected",
        "allowas-in::test_rr_neighbors_carry_no_allowas_in",
    ),
    "no-allowas-in-on-ebgp": (
        "allowas-in::test_rr_neighbors_carry_no_allowas_in",
        "allowas-in::test_tor_route_containing_the_local_asn_is_accepted",
    ),
    # Every router then drops the others' routes (ORIGINATOR_ID is its own identifier).
    "routers-share-one-router-id": tuple(c for c in _REACH if not c.startswith("loop-prevention")),
    "no-ipv6-to-external": (
        "cloud-router::test_cloud_routes_reach_the_router",
        "cloud-router::test_cloud_session_carries_ipv4_and_ipv6_and_never_evpn",
    ),
    "no-evpn-to-external": (
        "allowas-in::test_tor_route_containing_the_local_asn_is_accepted",
        _TOR_EVPN,
        "hybrid-flows::test_internal_evpn_reaches_the_tor",
    ),
    "client-path-attributes-discarded": (
        "robustness::test_passed_on_with_partial",
        "robustness::test_session_reset",
    ),
    # With one replica, deleting the RR pod loses every route until its replacement serves.
    # A rollout restart keeps them when every router holds them from the new pod before the old
    # one goes: since the discovery loop applies a change as vtysh -f does, the new pod's routes
    # arrive ~2.4 s after it is created, inside min_ready_seconds (5 s), so the variant passes
    # that drill and runs only the deletion (its `select`).
    "single-replica": ("failover::test_rr_pod_deleted_no_client_loses_a_route",),
    "no-min-ready-seconds": ("failover::test_rolling_restart_loses_nothing",),
    "graceful-restart-undeclared": ("failover::test_all_rrs_down_then_back",),
    "listen-range-only-existing-pods": (
        "failover::test_router_pod_rescheduled_returns_through_listen_range",
    ),
    # The RR's own address arrives as NEXT_HOP at every client: the §10 checks' final
    # assertions name it (reflection's next-hop and attribute checks, attributes' IPv4 row).
    "next-hop-self-force-unicast": (
        "attributes::test_reflected_attributes_equal_what_the_client_sent",
        "reflection::test_reflected_paths_carry_every_attribute_the_router_sent",
    ),
    "graceful-restart-undeclared-per-node": (
        "failover::test_all_rrs_down_then_back",
        "failover::test_every_rr_pod_restarted_costs_what_graceful_restart_says",
    ),
    "mesh-missing-one-peering": (STARTUP,),
    "route-server-reflects-between-mesh-peers": (
        "meshrr::test_mesh_learned_routes_go_to_clients_only_and_each_client_holds_one_path",
    ),
    "one-cluster-id-for-all-route-servers": (
        "meshrr::test_routes_cross_sides_with_cluster_list_and_originator_id",
    ),
    # The new route server is never meshed (the mesh check), nor the replica that replaces a
    # lost one (the replica drill's return); the drills after that one start from a lab that is
    # not whole, so they cannot decide (errors, not catches).
    "mesh-of-the-start-up-route-servers-only": (
        "meshrr::test_losing_a_side_b_replica",
        "meshrr::test_the_mesh_is_complete_and_reforms_when_a_side_scales",
    ),
    # Side a's rescheduled route server is never meshed with side b: its routes do not return.
    "side-b-meshes-side-a-by-its-start-up-address": (
        "meshrr::test_losing_a_whole_side_costs_only_that_sides_routes",
    ),
    # The harness's own RR, broken in one rule each.
    "rr-overwrites-originator-id": (
        "loop-prevention::test_rr_sets_originator_id_only_when_absent",
    ),
    # 26 treat-as-withdraw cases and 3 of 4 discard cases (an unrecognised non-transitive
    # attribute is no error in RFC 4271 either); pass-on and the resets stay as they were.
    "rr-resets-on-every-update-error": (
        "robustness::test_attribute_discard",
        "robustness::test_treat_as_withdraw",
    ),
    # A router pod played by the harness's crafted speaker, which filters nothing.
    "router-keeps-its-own-originator-id": (
        "loop-prevention::test_client_rejects_route_with_its_own_originator_id",
    ),
}
