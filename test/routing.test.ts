import * as assert from "node:assert/strict";
import {
    COLORS,
    buildDestinationRuleSpec,
    buildGatewaySpec,
    buildVirtualServiceSpec,
    describeRouting,
    otherColor,
    routeRequest,
    serviceFqdn,
} from "../components/routing";

const base = {
    hosts: ["sample.hoge.com"],
    gateways: ["sample-ns/nginx-gateway"],
    serviceHost: serviceFqdn("nginx", "sample-ns"),
    servicePort: 40001,
    headerName: "x-version",
};

/** The subset a request lands on, asserting it gets all the traffic. */
function landsOn(spec: ReturnType<typeof buildVirtualServiceSpec>, headers?: Record<string, string>): string {
    const decision = routeRequest(spec, { headers });
    assert.ok(decision, "some route must match");
    assert.equal(decision.destinations.length, 1);
    assert.equal(decision.destinations[0].weight, 100);
    return decision.destinations[0].subset;
}

describe("routing (pure)", () => {
    for (const active of COLORS) {
        describe(`with activeColor=${active}`, () => {
            const spec = buildVirtualServiceSpec({ ...base, activeColor: active });

            it("sends x-version: blue to blue and x-version: green to green", () => {
                assert.equal(landsOn(spec, { "x-version": "blue" }), "blue");
                assert.equal(landsOn(spec, { "x-version": "green" }), "green");
            });

            it("sends requests without the header, or with an unknown value, to the active color", () => {
                assert.equal(landsOn(spec), active);
                assert.equal(landsOn(spec, { "x-version": "purple" }), active);
                assert.equal(landsOn(spec, { "x-version": "Green" }), active, "header values are case-sensitive");
                assert.equal(landsOn(spec, { "x-other": "green" }), active);
            });

            it("matches header names case-insensitively, as HTTP does", () => {
                assert.equal(landsOn(spec, { "X-Version": otherColor(active) }), otherColor(active));
            });

            it("puts the header routes first and exactly one catch-all last", () => {
                const catchAll = spec.http.filter((r) => r.match === undefined);
                assert.equal(catchAll.length, 1);
                assert.equal(spec.http[spec.http.length - 1], catchAll[0]);
                assert.deepEqual(spec.http.slice(0, 2).map((r) => r.match), [
                    [{ headers: { "x-version": { exact: "blue" } } }],
                    [{ headers: { "x-version": { exact: "green" } } }],
                ]);
            });

            it("targets the Service FQDN and port in every route", () => {
                for (const route of spec.http) {
                    for (const d of route.route) {
                        assert.equal(d.destination.host, "nginx.sample-ns.svc.cluster.local");
                        assert.equal(d.destination.port.number, 40001);
                    }
                }
            });
        });
    }

    it("differs between the colors only in the catch-all route's subset", () => {
        const blue = buildVirtualServiceSpec({ ...base, activeColor: "blue" });
        const green = buildVirtualServiceSpec({ ...base, activeColor: "green" });
        assert.deepEqual(blue.http.slice(0, -1), green.http.slice(0, -1));
        const withoutSubset = (s: typeof blue) => JSON.stringify(s).replace(/"subset":"(blue|green)"/g, "");
        assert.equal(withoutSubset(blue), withoutSubset(green));
        assert.equal(blue.http[2].route[0].destination.subset, "blue");
        assert.equal(green.http[2].route[0].destination.subset, "green");
    });

    it("uses a configured header name", () => {
        const spec = buildVirtualServiceSpec({ ...base, headerName: "x-color", activeColor: "blue" });
        assert.equal(landsOn(spec, { "x-color": "green" }), "green");
        assert.equal(landsOn(spec, { "x-version": "green" }), "blue");
    });

    it("defines both subsets by the version label whatever the policy", () => {
        for (const policy of ["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM"] as const) {
            const rule = buildDestinationRuleSpec("nginx.sample-ns.svc.cluster.local", policy);
            assert.deepEqual(rule.subsets, [
                { name: "blue", labels: { version: "blue" } },
                { name: "green", labels: { version: "green" } },
            ]);
            assert.equal(rule.trafficPolicy.loadBalancer.simple, policy);
        }
    });

    it("builds a Gateway admitting the hosts over HTTP on port 80", () => {
        assert.deepEqual(buildGatewaySpec({ istio: "ingress" }, ["a.example.com"]), {
            selector: { istio: "ingress" },
            servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["a.example.com"] }],
        });
    });

    it("evaluates prefix and regex matches and reports no route when nothing matches", () => {
        const spec = {
            hosts: ["h"], gateways: [],
            http: [
                { name: "p", match: [{ headers: { "x-a": { prefix: "ab" } } }], route: [{ destination: { host: "h", subset: "blue", port: { number: 1 } }, weight: 100 }] },
                { name: "r", match: [{ headers: { "x-a": { regex: "z+" } } }], route: [{ destination: { host: "h", subset: "green", port: { number: 1 } }, weight: 100 }] },
            ],
        };
        assert.equal(routeRequest(spec, { headers: { "x-a": "abc" } })?.route, "p");
        assert.equal(routeRequest(spec, { headers: { "x-a": "zzz" } })?.route, "r");
        assert.equal(routeRequest(spec, { headers: { "x-a": "zza" } }), undefined);
        assert.equal(routeRequest(spec, {}), undefined);
    });
});

describe("routing table", () => {
    it("describes the routes in evaluation order, in words", () => {
        const spec = buildVirtualServiceSpec({ ...base, activeColor: "green" });
        assert.deepEqual(describeRouting(spec), [
            { when: 'header x-version = "blue"', to: "blue 100%" },
            { when: 'header x-version = "green"', to: "green 100%" },
            { when: "everything else", to: "green 100%" },
        ]);
    });
});
